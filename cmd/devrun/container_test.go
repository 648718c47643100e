//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/moby/moby/client"

	"github.com/devrun/devrun/docker"
	"github.com/devrun/devrun/internal/dockertest"
)

// startContainer runs devrun up in container mode on image, publishing the
// app's port 8080 on the project's port.
func (p *project) startContainer(image string, args ...string) {
	p.t.Helper()
	c := dockertest.Engine(p.t)
	dockertest.Images(p.t, c)
	p.t.Cleanup(func() { dockertest.RemoveProjectContainers(p.t, c, p.dir) })
	p.start(append([]string{"--mode", "container", "--container.image", image,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080"}, args...)...)
}

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

// A burst of 500 changed files is one build and one restart in the container.
func TestContainerBurstIsOneRestart(t *testing.T) {
	testBurst(t, func(p *project) { p.startContainer(dockertest.BusyboxImage, burstWait...) })
}

// devrun killed with SIGKILL leaves its container; the next devrun up reuses
// it when its configuration is the same, and removes it when not.
func TestContainerLeftoversAreReusedOrRemoved(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	c := dockertest.Engine(t)
	p.startContainer(dockertest.BusyboxImage)
	p.waitBody("v1")
	first := dockertest.ProjectContainers(t, c, p.dir)
	p.kill()

	// Same configuration: the container is reused.
	p.write("version.go", version("v2"))
	p.startContainer(dockertest.BusyboxImage)
	p.waitBody("v2")
	p.waitLog(`reusing the dev container `+first[0][:12], 1)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 || ids[0] != first[0] {
		t.Errorf("containers %v, want only the reused %s", ids, first[0][:12])
	}
	p.kill()

	// Another configuration (an environment variable more): recreated.
	p.write("version.go", version("v3"))
	p.startContainer(dockertest.BusyboxImage, "--run.env", "EXTRA=1")
	p.waitBody("v3")
	p.waitLog(`removing the dev container `+first[0][:12]+` that an earlier devrun left behind`, 1)
	ids := dockertest.ProjectContainers(t, c, p.dir)
	if len(ids) != 1 || ids[0] == first[0] {
		t.Errorf("containers %v, want one new container", ids)
	}
	p.stop(os.Interrupt)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
		t.Errorf("containers left after Ctrl-C: %v", ids)
	}
}

// kill kills devrun with SIGKILL, as a crash would.
func (p *project) kill() {
	p.t.Helper()
	p.cmd.Process.Kill()
	<-p.exited
}

// With container.sync: copy, binaries reach the container through the API:
// there is no bind mount.
func TestContainerCopyMode(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.startContainer(dockertest.ScratchImage, "--container.sync", "copy")
	p.waitBody("v1")
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	c := dockertest.Engine(t)
	ids := dockertest.ProjectContainers(t, c, p.dir)
	if len(ids) != 1 {
		t.Fatalf("containers %v, want 1", ids)
	}
	info, err := c.ContainerInspect(context.Background(), ids[0], client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := info.Container.Mounts; len(m) != 0 {
		t.Errorf("copy mode mounts %v", m)
	}
	p.waitLog(`binaries by copies through the API`, 1)
	p.stop(os.Interrupt)
}

// The container is labelled, publishes on 127.0.0.1 only, runs the app as
// the host user, and mounts the binaries read-only.
func TestContainerIsLockedDown(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.startContainer(dockertest.BusyboxImage)
	p.waitBody("v1")
	c := dockertest.Engine(t)
	ids := dockertest.ProjectContainers(t, c, p.dir)
	info, err := c.ContainerInspect(context.Background(), ids[0], client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := info.Container
	if got, want := ctr.Config.User, fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()); got != want {
		t.Errorf("user %q, want %q", got, want)
	}
	for port, bindings := range ctr.HostConfig.PortBindings {
		for _, b := range bindings {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("port %v published on %v", port, b.HostIP)
			}
		}
	}
	if ctr.HostConfig.Privileged {
		t.Error("the container is privileged")
	}
	if len(ctr.Mounts) != 1 || ctr.Mounts[0].RW || ctr.Mounts[0].Destination != "/devrun" {
		t.Errorf("mounts %+v, want /devrun read-only", ctr.Mounts)
	}
	for _, l := range []string{docker.LabelManaged, docker.LabelProject, docker.LabelConfig} {
		if ctr.Config.Labels[l] == "" {
			t.Errorf("label %s missing", l)
		}
	}
	p.stop(os.Interrupt)
}

// An app that crashes is reported with its exit code, and its container
// stays for its logs; a container removed or stopped from outside is
// reported and recreated at the next swap.
func TestContainerCrashAndRemovalFromOutside(t *testing.T) {
	crash := strings.Replace(server, "func main() {", "func main() {\n\tif version == \"crash\" {\n\t\tfmt.Println(\"crashing on purpose\")\n\t\tos.Exit(7)\n\t}", 1)
	p := newProject(t, map[string]string{"main.go": crash, "version.go": version("v1")})
	p.startContainer(dockertest.BusyboxImage)
	p.waitBody("v1")
	c := dockertest.Engine(t)
	before := dockertest.ProjectContainers(t, c, p.dir)

	p.write("version.go", version("crash"))
	p.waitLog(`app exited with code 7 after [\d.]+m?s; waiting for a change`, 1)
	if !strings.Contains(p.output.String(), "crashing on purpose") {
		t.Errorf("the app's output is not shown:\n%s", p.output)
	}
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 || ids[0] != before[0] {
		t.Errorf("containers %v after the crash, want %v kept", ids, before)
	}

	c.ContainerRemove(context.Background(), before[0], client.ContainerRemoveOptions{Force: true})
	p.waitLog(`the dev container `+before[0][:12]+` was removed from outside; devrun makes a new one`, 1)
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.waitLog(`creating a new dev container in place of `+before[0][:12], 1)

	// Stopped from outside (docker stop) while the app runs: reported, and
	// made anew at once, the stopped one removed.
	second := dockertest.ProjectContainers(t, c, p.dir)
	timeout := 1
	if _, err := c.ContainerStop(context.Background(), second[0], client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	p.waitLog(`the dev container `+second[0][:12]+` stopped \(exit code \d+\), from outside or with the engine; devrun makes a new one`, 1)
	p.waitLog(`restarting in 100ms \(not the app's doing\)`, 1)
	p.waitLog(`started again`, 1)
	p.waitBody("v2")
	p.write("version.go", version("v3"))
	p.waitBody("v3")
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 || ids[0] == second[0] {
		t.Errorf("containers %v after a stop from outside, want one new one", ids)
	}
	p.stop(os.Interrupt)
}

func TestContainerFaultsAreClear(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	run := func(env []string, args ...string) string {
		cmd := exec.Command(os.Args[0], append([]string{"up", "--mode", "container"}, args...)...)
		cmd.Args[0] = "devrun"
		bin, _ := exec.LookPath("devrun")
		cmd.Path = bin
		cmd.Dir = p.dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("devrun up %v succeeded", args)
		}
		return string(out)
	}
	port := freePort(t.Fatalf)
	out := run([]string{fmt.Sprintf("DOCKER_HOST=tcp://127.0.0.1:%d", port)})
	if !strings.Contains(out, fmt.Sprintf("cannot reach the Docker engine at tcp://127.0.0.1:%d (DOCKER_HOST=tcp://127.0.0.1:%d)", port, port)) ||
		!strings.Contains(out, "check that the engine runs") {
		t.Errorf("engine unreachable:\n%s", out)
	}
	out = run(nil, "--container.image", "devrun-test/absent:nope")
	if !strings.Contains(out, "the image devrun-test/absent:nope is not on the engine, and devrun does not pull images: run 'docker pull devrun-test/absent:nope'") {
		t.Errorf("image missing:\n%s", out)
	}
	out = run(nil, "--container.image", dockertest.BusyboxImage, "--container.ports", "80:80:80:80")
	if !strings.Contains(out, `container.ports (from flag --container.ports): "80:80:80:80" is not PORT, HOST:CONTAINER or IP:HOST:CONTAINER`) {
		t.Errorf("bad port:\n%s", out)
	}
}

// The fallback: when the container's pid1 does not answer a swap (here it
// is frozen from outside), devrun replaces the container.
func TestContainerThatDoesNotAnswerIsReplaced(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.startContainer(dockertest.BusyboxImage, "--run.stop_timeout", "500ms")
	p.waitBody("v1")
	c := dockertest.Engine(t)
	frozen := dockertest.ProjectContainers(t, c, p.dir)[0]
	if _, err := c.ContainerKill(context.Background(), frozen, client.ContainerKillOptions{Signal: "SIGSTOP"}); err != nil {
		t.Fatal(err)
	}
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.waitLog(`the dev container `+frozen[:12]+` did not answer the swap; replacing it`, 1)
	p.stop(os.Interrupt)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}

// An app that ignores SIGTERM is killed after the stop timeout inside the
// container too, and pid1 reaps the orphans the app leaves.
func TestContainerStopTimeoutAndReaping(t *testing.T) {
	stubborn := strings.Replace(server, "func main() {", `func main() {
	signal.Ignore(syscall.SIGTERM)
	for range 3 { // orphans: children of a shell that exits at once
		exec.Command("/bin/sh", "-c", "sleep 0.01 &").Run()
	}`, 1)
	stubborn = strings.Replace(stubborn, `"os"`, `"os"
	"os/exec"
	"os/signal"
	"syscall"`, 1)
	p := newProject(t, map[string]string{"main.go": stubborn, "version.go": version("v1")})
	p.startContainer(dockertest.BusyboxImage, "--run.stop_timeout", "300ms")
	p.waitBody("v1")
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.waitLog(`stop ([3-9]\d\dms|[\d.]+s)`, 1)
	c := dockertest.Engine(t)
	id := dockertest.ProjectContainers(t, c, p.dir)[0]
	top, err := c.ContainerTop(context.Background(), id, client.ContainerTopOptions{Arguments: []string{"-o", "pid,stat,comm"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, proc := range top.Processes {
		if strings.HasPrefix(proc[1], "Z") {
			t.Errorf("a zombie in the container: %v", proc)
		}
	}
	p.stop(os.Interrupt)
}

// Ctrl-C while devrun creates the dev container: devrun exits 0 and leaves
// no container.
func TestContainerCtrlCDuringCreation(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	c := dockertest.Engine(t)
	p.startContainer(dockertest.BusyboxImage)
	if !poll(func() bool { return len(dockertest.ProjectContainers(t, c, p.dir)) > 0 }) {
		t.Fatal("no container was created")
	}
	p.stop(os.Interrupt)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}

// A volume whose SRC is relative to the project (./data:/data, as compose
// reads it) is mounted from the project directory.
func TestContainerRelativeVolume(t *testing.T) {
	reading := strings.Replace(server, "fmt.Fprint(w, version)", `b, _ := os.ReadFile("/data/version.txt"); fmt.Fprint(w, string(b))`, 1)
	p := newProject(t, map[string]string{"main.go": reading, "version.go": version("unused"), "data/version.txt": "from the volume"})
	p.startContainer(dockertest.BusyboxImage, "--container.volumes", "./data:/data:ro")
	p.waitBody("from the volume")
	p.stop(os.Interrupt)
}

// In container mode, the proxy is in front of the published port, which
// Docker accepts connections on before the app listens: the pages are
// told of a new version only once it answers there (the app listens a
// second after it starts), and no request through the proxy fails.
func TestContainerProxyTellsPagesOnceTheAppAnswers(t *testing.T) {
	slow := strings.Replace(server, "\terr := http.ListenAndServe(", "\ttime.Sleep(time.Second)\n\terr := http.ListenAndServe(", 1)
	slow = strings.Replace(slow, `"os"`, `"os"
	"time"`, 1)
	p := newProject(t, map[string]string{"main.go": slow, "version.go": version("v1")})
	proxyPort := freePort(t.Fatalf)
	p.startContainer(dockertest.BusyboxImage, "--proxy.listen", fmt.Sprint(proxyPort), "--proxy.app", fmt.Sprint(p.port))
	through := fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)
	if !poll(func() bool { return get(through) == "v1" }) {
		t.Fatalf("v1 never served through the proxy:\n%s", p.log())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	versions := events(t, ctx, strings.Replace(through, "http:", "ws:", 1)+"__devrun/events")
	next := func(last string) string {
		deadline := time.After(waitTimeout)
		for {
			select {
			case v := <-versions:
				if v != last && v != "" {
					return v
				}
			case <-deadline:
				t.Fatalf("no new version in the proxy's events after %s:\n%s", waitTimeout, p.log())
			}
		}
	}
	last := next("")
	for i := 2; i <= 4; i++ {
		want := fmt.Sprintf("v%d", i)
		p.write("version.go", version(want))
		last = next(last)
		// Told: the app answers at its published port, with the new version.
		if got := get(p.url()); got != want {
			t.Errorf("the pages were told of a new version while the app answered %q, want %s", got, want)
		}
		if got := get(through); got != want {
			t.Errorf("through the proxy: %q, want %s", got, want)
		}
	}
	p.stop(os.Interrupt)
}

// events streams the versions of the state messages of devrun's proxy
// at url (ws://…) until ctx is done.
func events(t *testing.T, ctx context.Context, url string) <-chan string {
	t.Helper()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string)
	go func() {
		defer c.CloseNow()
		defer close(ch)
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ Type, Version string }
			if json.Unmarshal(msg, &m) == nil && m.Type == "state" {
				select {
				case ch <- m.Version:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}
