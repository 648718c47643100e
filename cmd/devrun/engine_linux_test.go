package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/devrun/devrun/internal/dockertest"
)

// The engine restarted under devrun, stopped during a swap, and the image
// deleted, on a second engine of the test's own: each is said plainly, and
// the next change after the engine or the image is back is served.
func TestEngineRestartedStoppedAndImageDeleted(t *testing.T) {
	e := dockertest.StartSecondEngine(t)
	c := e.Client()
	ctx := context.Background()
	if err := dockertest.EnsureImages(ctx, c); err != nil {
		t.Fatal(err)
	}
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.env = []string{"DOCKER_HOST=" + e.Host}
	p.start("--mode", "container", "--container.image", dockertest.BusyboxImage,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080")
	p.waitBody("v1")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("second engine's log:\n%s", e.Log())
		}
	})

	// Restarted: the engine stops its containers as it goes.
	first := dockertest.ProjectContainers(t, c, p.dir)
	e.Restart()
	p.waitLog(`(lost the Docker engine|the dev container `+first[0][:12]+` stopped).*; devrun makes a new one at the next change`, 1)
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.waitLog(`creating a new dev container in place of `+first[0][:12], 1)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 {
		t.Errorf("containers after the restart: %v, want the new one only", ids)
	}

	// Stopped, and a change made while it is down.
	e.Stop()
	p.waitLog(`; devrun makes a new one at the next change`, 2)
	p.write("version.go", version("v3"))
	p.waitLog(`the Docker engine at `+e.Host+` does not answer \(stopped or restarting\?\); devrun tries again at the next change`, 1)
	e.Start()
	p.write("version.go", version("v4"))
	p.waitBody("v4")
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 {
		t.Errorf("containers after the engine came back: %v, want the new one only", ids)
	}

	// The image deleted, and the container with it.
	if _, err := c.ImageRemove(ctx, dockertest.BusyboxImage, client.ImageRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range dockertest.ProjectContainers(t, c, p.dir) {
		c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	}
	p.write("version.go", version("v5"))
	p.waitLog(`creating the dev container: the image `+dockertest.BusyboxImage+` is no longer on the engine \(deleted\?\), and devrun does not pull images`, 1)
	if err := dockertest.EnsureImages(ctx, c); err != nil {
		t.Fatal(err)
	}
	p.write("version.go", version("v6"))
	p.waitBody("v6")

	// Ctrl-C while the engine is down: devrun exits, and says that the
	// container stays; the next devrun up removes it.
	left := dockertest.ProjectContainers(t, c, p.dir)
	e.Stop()
	p.stop(os.Interrupt)
	if !strings.Contains(p.log(), "the container stays on it, and the next devrun up removes it") {
		t.Errorf("Ctrl-C with the engine down does not say what stays:\n%s", p.log())
	}
	e.Start()
	p.start("--mode", "container", "--container.image", dockertest.BusyboxImage,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080")
	p.waitBody("v6")
	p.waitLog(`removing the dev container `+left[0][:12]+` that an earlier devrun left behind`, 1)
	p.stop(os.Interrupt)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
		t.Errorf("containers left after Ctrl-C: %v", ids)
	}
}
