//go:build unix

package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/devrun/devrun/internal/dockertest"
)

// startContainer runs devrun up in container mode on image, publishing the
// app's port 8080 on the project's port.
func (p *project) startContainer(image string, args ...string) {
	p.t.Helper()
	c := dockertest.Engine(p.t)
	dockertest.Images(p.t, c)
	p.t.Cleanup(func() { dockertest.RemoveProjectContainers(p.t, c, p.realDir()) })
	p.start(append([]string{"--mode", "container", "--container.image", image,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080"}, args...)...)
}

// realDir is the project's directory with symbolic links resolved, as
// devrun names it in labels.
func (p *project) realDir() string { return p.dir }

func TestContainerEditBrokenEditAndCtrlC(t *testing.T) {
	for _, image := range []string{dockertest.BusyboxImage, dockertest.ScratchImage} {
		t.Run(image, func(t *testing.T) {
			p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
			p.startContainer(image)
			p.waitBody("v1")
			p.write("version.go", version("v2"))
			p.waitBody("v2")
			p.write("version.go", "package main\n\nconst version = nope\n")
			p.waitLog(`build failed`, 1)
			p.waitBody("v2")
			p.write("version.go", version("v3"))
			p.waitBody("v3")
			p.stop(os.Interrupt)
			c := dockertest.Engine(t)
			if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
				t.Errorf("containers left after Ctrl-C: %v", ids)
			}
		})
	}
}
