//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devrun/devrun/internal/dockertest"
)

// sidecarImage builds the sidecar image from this checkout.
func sidecarImage(t *testing.T, c *client.Client) string {
	t.Helper()
	dockertest.GolangImages(t, c)
	tag, err := dockertest.SidecarImage(context.Background(), c, filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// withEachCompose runs test once with each compose command on this machine:
// docker-compose (v1, Debian's) and the docker compose plugin (v2).
func withEachCompose(t *testing.T, test func(t *testing.T, tool []string)) {
	t.Helper()
	ran := false
	for _, tool := range [][]string{{"docker-compose"}, {"docker", "compose"}} {
		if exec.Command(tool[0], append(tool[1:], "version")...).Run() != nil {
			continue
		}
		ran = true
		t.Run(strings.Join(tool, "_"), func(t *testing.T) { test(t, tool) })
	}
	if !ran {
		t.Fatal("no compose command: install docker-compose or the docker compose plugin (.ci/run does)")
	}
}

// composeProject is a compose project made from examples/compose.
type composeProject struct {
	t    *testing.T
	tool []string // the compose command
	name string
	file string
	env  []string
}

func (p *composeProject) run(args ...string) (string, error) {
	argv := append(append(p.tool[1:len(p.tool):len(p.tool)], "-p", p.name, "-f", p.file), args...)
	cmd := exec.Command(p.tool[0], argv...)
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// leftovers lists the project's containers, networks and volumes.
func (p *composeProject) leftovers(c *client.Client) []string {
	ctx := context.Background()
	f := make(client.Filters).Add("label", "com.docker.compose.project="+p.name)
	var left []string
	cs, _ := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	for _, x := range cs.Items {
		left = append(left, "container "+x.ID[:12])
	}
	ns, _ := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	for _, x := range ns.Items {
		left = append(left, "network "+x.Name)
	}
	vs, _ := c.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	for _, x := range vs.Items {
		left = append(left, "volume "+x.Name)
	}
	return left
}

func socketGID(t *testing.T) string {
	var st syscall.Stat_t
	if err := syscall.Stat("/var/run/docker.sock", &st); err != nil {
		t.Fatalf("the compose test mounts the engine's socket: %v", err)
	}
	return strconv.Itoa(int(st.Gid))
}

// One `docker-compose up` (or `docker compose up`) runs the example; an
// edit in the mounted source is served; `down -v` leaves nothing.
func TestComposeSidecarServesEdits(t *testing.T) {
	withEachCompose(t, testComposeSidecar)
}

func testComposeSidecar(t *testing.T, tool []string) {
	c := dockertest.Engine(t)
	sidecar := sidecarImage(t, c)
	src := t.TempDir()
	for _, f := range []string{"main.go", "go.mod"} {
		b, _ := os.ReadFile(filepath.Join("..", "..", "examples", "hello", f))
		os.WriteFile(filepath.Join(src, f), b, 0o666)
	}
	os.Chmod(src, 0o777) // the sidecar's user writes its probe file there
	port := freePort(t.Fatalf)
	file, _ := filepath.Abs(filepath.Join("..", "..", "examples", "compose", "docker-compose.yml"))
	p := &composeProject{t: t, tool: tool, name: fmt.Sprintf("devrune2e%d", os.Getpid()), file: file, env: []string{
		"APP_IMAGE=" + dockertest.BusyboxImage, "SIDECAR_IMAGE=" + sidecar, "APP_PORT=" + strconv.Itoa(port),
		"DOCKER_GID=" + socketGID(t), "SRC_DIR=" + src,
	}}
	t.Cleanup(func() { p.run("down", "-v", "-t", "1") })
	if out, err := p.run("up", "-d", "--no-build"); err != nil {
		t.Fatalf("%s up: %v\n%s", strings.Join(tool, " "), err, out)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor := func(want string) {
		t.Helper()
		var last string
		if !poll(func() bool { last = get(url); return strings.Contains(last, want) }) {
			logs, _ := p.run("logs", "--no-color")
			t.Fatalf("the app never answered %q (last %q); logs:\n%s", want, last, logs)
		}
	}
	waitFor("hello from v1")
	main, _ := os.ReadFile(filepath.Join(src, "main.go"))
	os.WriteFile(filepath.Join(src, "main.go"), []byte(strings.Replace(string(main), `"v1"`, `"v2"`, 1)), 0o666)
	waitFor("hello from v2")
	logs, _ := p.run("logs", "--no-color", "app")
	if !strings.Contains(logs, "hello v2 listening") {
		t.Errorf("the app's logs are not in docker-compose logs:\n%s", logs)
	}
	if out, err := p.run("down", "-v", "-t", "5"); err != nil {
		t.Fatalf("%s down: %v\n%s", strings.Join(tool, " "), err, out)
	}
	if left := p.leftovers(c); len(left) > 0 {
		t.Errorf("left after down -v: %v", left)
	}
}

// The sidecar refuses a service of another compose project.
func TestComposeSidecarRefusesAnotherProject(t *testing.T) {
	withEachCompose(t, testComposeRefusal)
}

func testComposeRefusal(t *testing.T, tool []string) {
	c := dockertest.Engine(t)
	sidecar := sidecarImage(t, c)
	dir := t.TempDir()
	other := filepath.Join(dir, "other.yml")
	os.WriteFile(other, []byte("services:\n  web:\n    image: "+dockertest.BusyboxImage+"\n    entrypoint: [\"/bin/sleep\", \"3600\"]\n"), 0o644)
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o777)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/x\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	mine := filepath.Join(dir, "mine.yml")
	os.WriteFile(mine, []byte("services:\n  devrun:\n    image: "+sidecar+"\n    command: [\"up\", \"--mode\", \"compose\", \"--service\", \"web\"]\n    user: \"1000\"\n    group_add: [\""+socketGID(t)+"\"]\n    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\", \""+src+":/src\"]\n"), 0o644)
	b := &composeProject{t: t, tool: tool, name: fmt.Sprintf("devrunother%d", os.Getpid()), file: other}
	a := &composeProject{t: t, tool: tool, name: fmt.Sprintf("devrunmine%d", os.Getpid()), file: mine}
	t.Cleanup(func() { b.run("down", "-v", "-t", "1"); a.run("down", "-v", "-t", "1") })
	if out, err := b.run("up", "-d"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := a.run("up", "-d"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := fmt.Sprintf(`the service "web" belongs to the compose project %q, not to devrun's own project %q: devrun touches only its own project's containers`, b.name, a.name)
	var logs string
	if !poll(func() bool { logs, _ = a.run("logs", "--no-color"); return strings.Contains(logs, want) }) {
		t.Errorf("the sidecar's logs do not refuse the service:\n%s", logs)
	}
}

// One sidecar drives two app services of its project (--service
// api,worker): both are served, an edit swaps both, each in place, and
// each service's lines name it in the sidecar's logs.
func TestComposeSidecarServesTwoServices(t *testing.T) {
	withEachCompose(t, testComposeTwoServices)
}

func testComposeTwoServices(t *testing.T, tool []string) {
	c := dockertest.Engine(t)
	sidecar := sidecarImage(t, c)
	src := t.TempDir()
	for _, f := range []string{"main.go", "go.mod"} {
		b, _ := os.ReadFile(filepath.Join("..", "..", "examples", "hello", f))
		os.WriteFile(filepath.Join(src, f), b, 0o666)
	}
	os.Chmod(src, 0o777)
	api, worker := freePort(t.Fatalf), freePort(t.Fatalf)
	file, _ := filepath.Abs(filepath.Join("..", "..", "examples", "compose", "services.yml"))
	p := &composeProject{t: t, tool: tool, name: fmt.Sprintf("devrunsvc%d", os.Getpid()), file: file, env: []string{
		"APP_IMAGE=" + dockertest.BusyboxImage, "SIDECAR_IMAGE=" + sidecar, "API_PORT=" + strconv.Itoa(api),
		"WORKER_PORT=" + strconv.Itoa(worker), "DOCKER_GID=" + socketGID(t), "SRC_DIR=" + src,
	}}
	t.Cleanup(func() { p.run("down", "-v", "-t", "1") })
	if out, err := p.run("up", "-d", "--no-build"); err != nil {
		logs, _ := p.run("logs", "--no-color", "devrun")
		t.Fatalf("%s up: %v\n%s\nthe sidecar's logs:\n%s", strings.Join(tool, " "), err, out, logs)
	}
	waitFor := func(port int, want string) {
		t.Helper()
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		var last string
		if !poll(func() bool { last = get(url); return strings.Contains(last, want) }) {
			logs, _ := p.run("logs", "--no-color")
			t.Fatalf("%s never answered %q (last %q); logs:\n%s", url, want, last, logs)
		}
	}
	waitFor(api, "hello from v1")
	waitFor(worker, "hello from v1")
	main, _ := os.ReadFile(filepath.Join(src, "main.go"))
	os.WriteFile(filepath.Join(src, "main.go"), []byte(strings.Replace(string(main), `"v1"`, `"v2"`, 1)), 0o666)
	waitFor(api, "hello from v2")
	waitFor(worker, "hello from v2")
	logs, _ := p.run("logs", "--no-color", "devrun")
	for _, want := range []string{"devrun: api:    started in", "devrun: worker: started in"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the sidecar's logs lack %q:\n%s", want, logs)
		}
	}
	if out, err := p.run("down", "-v", "-t", "5"); err != nil {
		t.Fatalf("%s down: %v\n%s", strings.Join(tool, " "), err, out)
	}
	if left := p.leftovers(c); len(left) > 0 {
		t.Errorf("left after down -v: %v", left)
	}
}

// The compose sidecar's proxy: the sidecar publishes one more port, its
// proxy, in front of the app's service on the compose network
// (proxy.app: app:8080); pages through it are told of each new version
// once the app answers it, and it serves that version.
func TestComposeSidecarProxy(t *testing.T) {
	tool := []string{"docker-compose"}
	if exec.Command(tool[0], "version").Run() != nil {
		tool = []string{"docker", "compose"}
	}
	c := dockertest.Engine(t)
	sidecar := sidecarImage(t, c)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o777)
	for _, f := range []string{"main.go", "go.mod"} {
		b, _ := os.ReadFile(filepath.Join("..", "..", "examples", "hello", f))
		os.WriteFile(filepath.Join(src, f), b, 0o666)
	}
	os.Chmod(src, 0o777) // the sidecar's user writes its probe file there
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "compose", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The example, with the sidecar's proxy.
	yml := strings.Replace(string(example), `command: ["up", "--mode", "compose", "--service", "app"]`,
		`command: ["up", "--mode", "compose", "--service", "app", "--proxy.listen", "0.0.0.0:3000", "--proxy.app", "app:8080"]
    ports:
      - "127.0.0.1:${PROXY_PORT}:3000"`, 1)
	file := filepath.Join(dir, "docker-compose.yml")
	os.WriteFile(file, []byte(yml), 0o644)
	proxyPort := freePort(t.Fatalf)
	p := &composeProject{t: t, tool: tool, name: fmt.Sprintf("devrunproxy%d", os.Getpid()), file: file, env: []string{
		"APP_IMAGE=" + dockertest.BusyboxImage, "SIDECAR_IMAGE=" + sidecar, "APP_PORT=" + strconv.Itoa(freePort(t.Fatalf)),
		"PROXY_PORT=" + strconv.Itoa(proxyPort), "DOCKER_GID=" + socketGID(t), "SRC_DIR=" + src,
	}}
	t.Cleanup(func() { p.run("down", "-v", "-t", "1") })
	if out, err := p.run("up", "-d", "--no-build"); err != nil {
		t.Fatalf("%s up: %v\n%s", strings.Join(tool, " "), err, out)
	}
	through := fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)
	if !poll(func() bool { return strings.Contains(get(through), "hello from v1") }) {
		logs, _ := p.run("logs", "--no-color")
		t.Fatalf("v1 never served through the sidecar's proxy; logs:\n%s", logs)
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
				logs, _ := p.run("logs", "--no-color")
				t.Fatalf("no new version in the proxy's events; logs:\n%s", logs)
			}
		}
	}
	last := next("")
	main, _ := os.ReadFile(filepath.Join(src, "main.go"))
	os.WriteFile(filepath.Join(src, "main.go"), []byte(strings.Replace(string(main), `"v1"`, `"v2"`, 1)), 0o666)
	next(last)
	if got := get(through); !strings.Contains(got, "hello from v2") {
		t.Errorf("told of a new version, the proxy serves %q, want v2", got)
	}
	if out, err := p.run("down", "-v", "-t", "5"); err != nil {
		t.Fatalf("%s down: %v\n%s", strings.Join(tool, " "), err, out)
	}
	if left := p.leftovers(c); len(left) > 0 {
		t.Errorf("left after down -v: %v", left)
	}
}
