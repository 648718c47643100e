package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

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

	// Restarted: the engine stops its containers as it goes, and devrun
	// makes a new one as soon as the engine is back, with no change.
	first := dockertest.ProjectContainers(t, c, p.dir)
	e.Restart()
	back := time.Now()
	p.waitLog(`(lost the Docker engine|the dev container `+first[0][:12]+` stopped).*; devrun makes a new one`, 1)
	p.waitLog(`creating a new dev container in place of `+first[0][:12], 1)
	p.waitLog(`started again`, 1)
	p.waitBody("v1")
	t.Logf("served again %s after the restarted engine answered", time.Since(back).Round(time.Millisecond))
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 {
		t.Errorf("containers after the restart: %v, want the new one only", ids)
	}

	// Stopped, and a change made while it is down: built, and served once
	// the engine is back, with no further change.
	down := `the Docker engine at ` + e.Host + ` does not answer \(stopped or restarting\?\); trying again until it works`
	before := p.countLog(down) // the restart above may have seen one
	e.Stop()
	p.waitLog(down, before+1)
	p.write("version.go", version("v3"))
	p.waitLog(`version.go changed: building`, 1)
	p.waitLog(`the new build is ready; it starts as soon as it can`, 1)
	e.Start()
	back = time.Now()
	p.waitBody("v3")
	t.Logf("the build made while the engine was down served %s after it answered", time.Since(back).Round(time.Millisecond))
	if n := p.countLog(down); n != before+1 {
		t.Errorf("the engine being down was logged %d times, want once", n-before)
	}
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
	p.waitLog(`creating the dev container: the image `+dockertest.BusyboxImage+` is no longer on the engine \(deleted\?\), and devrun does not pull images.*; waiting for a change`, 1)
	if err := dockertest.EnsureImages(ctx, c); err != nil {
		t.Fatal(err)
	}
	p.write("version.go", version("v6"))
	p.waitBody("v6")

	// Ctrl-C while the engine is down: devrun exits, and names the
	// containers that stay there (those it could not remove as the engine
	// went); the next devrun up removes them.
	e.Stop()
	p.stop(os.Interrupt)
	said := p.log()
	e.Start()
	left := dockertest.ProjectContainers(t, c, p.dir)
	for _, id := range left {
		if !regexp.MustCompile(`removing the dev container .*` + id[:12] + `.*: the Docker engine at .* does not answer \(stopped or restarting\?\); it stays there, and the next devrun up removes it`).MatchString(said) {
			t.Errorf("Ctrl-C with the engine down does not say that %s stays:\n%s", id[:12], said)
		}
	}
	p.start("--mode", "container", "--container.image", dockertest.BusyboxImage,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080")
	p.waitBody("v6")
	for _, id := range left {
		p.waitLog(`removing the dev container `+id[:12]+` that an earlier devrun left behind`, 1)
	}
	p.stop(os.Interrupt)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
		t.Errorf("containers left after Ctrl-C: %v", ids)
	}
}
