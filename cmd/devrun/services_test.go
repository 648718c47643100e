//go:build unix

package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/devrun/devrun/internal/dockertest"
)

// serviceMain is a service of a two-service module: it serves its name and
// version, the shared package's version and its PID. With READY_AFTER set
// it answers /health only after that many 10 ms polls of its own; with
// NEEDS set it exits at once unless that URL answers (a worker that cannot
// run without its API).
func serviceMain(name, v string) string {
	return `package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"example.com/app/internal/store"
)

const own = "` + name + "-" + v + `"

func main() {
	if url := os.Getenv("NEEDS"); url != "" {
		resp, err := http.Get(url)
		if err != nil {
			fmt.Println("the service I need does not answer:", err)
			os.Exit(3)
		}
		resp.Body.Close()
	}
	start := time.Now()
	wait, _ := strconv.Atoi(os.Getenv("READY_AFTER_MS"))
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if time.Since(start) < time.Duration(wait)*time.Millisecond {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, own, " ", store.V, " ", os.Getpid())
	})
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	fmt.Println(http.ListenAndServe(host+":"+os.Getenv("PORT"), nil))
	os.Exit(1)
}
`
}

func storeVersion(v string) string { return "package store\n\nconst V = \"" + v + "\"\n" }

// twoServices is a module with cmd/api and cmd/worker, both importing
// internal/store, and a devrun.yaml whose services section holds api and
// worker (YAML of their sections, indented under them).
func twoServices(t *testing.T, api, worker string) *project {
	return newProject(t, map[string]string{
		"cmd/api/main.go":         serviceMain("api", "1"),
		"cmd/worker/main.go":      serviceMain("worker", "1"),
		"internal/store/store.go": storeVersion("s1"),
		"devrun.yaml":             "run:\n  stop_timeout: 2s\nservices:\n  api:\n" + api + "  worker:\n" + worker,
	})
}

// waitServed polls the service on port until it answers with prefix, and
// returns the PID it answers with.
func (p *project) waitServed(port int, prefix string) int {
	p.t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var last string
	if !poll(func() bool { last = get(url); return strings.HasPrefix(last, prefix+" ") }) {
		p.t.Fatalf("%s never answered %q; last %q", url, prefix, last)
	}
	f := strings.Fields(last)
	pid, _ := strconv.Atoi(f[len(f)-1])
	return pid
}

// Two host services sharing a package: an edit of it rebuilds and swaps
// both; an edit of one's own package rebuilds that one alone, the other's
// process untouched; a broken build of one keeps its old version serving
// while the other swaps; Ctrl-C leaves no process and frees both ports.
func TestServicesRebuildExactlyWhatAChangeReaches(t *testing.T) {
	api, worker := freePort(t.Fatalf), freePort(t.Fatalf)
	p := twoServices(t, fmt.Sprintf("    run: {env: [PORT=%d]}\n", api), fmt.Sprintf("    run: {env: [PORT=%d]}\n", worker))
	p.start()
	p.waitServed(api, "api-1 s1")
	p.waitServed(worker, "worker-1 s1")

	p.write("internal/store/store.go", storeVersion("s2"))
	p.waitServed(api, "api-1 s2")
	workerPID := p.waitServed(worker, "worker-1 s2")
	p.waitLog(`worker: +started in`, 2)
	p.waitLog(`api: +started in`, 2)

	p.write("cmd/api/main.go", serviceMain("api", "2"))
	p.waitServed(api, "api-2 s2")
	p.waitLog(`api: +started in`, 3)
	if pid := p.waitServed(worker, "worker-1 s2"); pid != workerPID {
		t.Errorf("an edit of the API's own package restarted the worker (PID %d, then %d)", workerPID, pid)
	}

	// A type error that keeps the import: the worker still reads the store.
	p.write("cmd/worker/main.go", strings.Replace(serviceMain("worker", "2"), `const own = "worker-2"`, `const own = store.V + 1`, 1))
	p.waitLog(`worker: +error: build failed`, 1)
	p.write("internal/store/store.go", storeVersion("s3"))
	p.waitServed(api, "api-2 s3")
	p.waitLog(`worker: +error: build failed`, 2)
	if pid := p.waitServed(worker, "worker-1 s2"); pid != workerPID {
		t.Errorf("the worker, whose build fails, was stopped (PID %d, then %d)", workerPID, pid)
	}
	apiPID := p.waitServed(api, "api-2 s3")

	p.stop(syscall.SIGINT)
	for _, pid := range []int{apiPID, workerPID} {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d left running after Ctrl-C", pid)
		}
	}
	for _, port := range []int{api, worker} {
		assertPortFree(t, port)
	}
	if n := p.countLog(`worker: +internal/store/store.go changed: building`); n != 2 {
		t.Errorf("the worker was built %d times for 2 edits of the shared package, want 2", n)
	}
	if n := p.countLog(`api: +internal/store/store.go changed: building`); n != 2 {
		t.Errorf("the API was built %d times for 2 edits of the shared package, want 2", n)
	}
	if n := p.countLog(`worker: +cmd/api`); n != 0 {
		t.Errorf("an edit of the API's package reached the worker %d times", n)
	}
	out := p.output.String()
	if !strings.Contains(out, "api    | ") && !strings.Contains(out, "worker | ") {
		t.Logf("output:\n%s", out)
	}
}

// depends_on with a readiness check that passes late: the worker, which
// exits at once when the API does not answer, starts after the API is
// ready, once; a service the user names starts with what it depends on.
func TestServicesDependsOnWaitsForReadiness(t *testing.T) {
	api, worker := freePort(t.Fatalf), freePort(t.Fatalf)
	// The API answers /health 1.5 s after it started.
	p := twoServices(t,
		fmt.Sprintf("    run: {env: [PORT=%d, READY_AFTER_MS=1500], ready: \"http://127.0.0.1:%d/health\"}\n", api, api),
		fmt.Sprintf("    depends_on: [api]\n    run: {env: [PORT=%d, NEEDS=http://127.0.0.1:%d/health]}\n", worker, api))
	p.start("worker") // the API comes with it
	p.waitLog(`worker: +started in`, 1)
	log := p.log()
	ready, started := strings.Index(log, "api:    ready after"), strings.Index(log, "worker: started in")
	if ready < 0 || started < ready {
		t.Errorf("the worker started before the API was ready:\n%s", log)
	}
	if strings.Contains(log, "worker: app exited") {
		t.Errorf("the worker found the API not answering:\n%s\n%s", log, p.output)
	}
	p.stop(syscall.SIGTERM)
}

func assertPortFree(t *testing.T, port int) {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("port %d still taken after Ctrl-C: %v", port, err)
		return
	}
	l.Close()
}

// The bundled example, examples/services, as the README runs it: both
// services answer, the worker once the API is ready; an edit of the
// shared package swaps both, one of the API's own the API alone.
func TestServicesExample(t *testing.T) {
	api, worker := freePort(t.Fatalf), freePort(t.Fatalf)
	files := map[string]string{}
	root := "../../examples/services"
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && d.Name() == ".devrun" {
				return filepath.SkipDir
			}
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[rel] = strings.NewReplacer("8080", strconv.Itoa(api), "8081", strconv.Itoa(worker)).Replace(string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p := newProject(t, files)
	p.start()
	apiURL, workerURL := fmt.Sprintf("http://127.0.0.1:%d/", api), fmt.Sprintf("http://127.0.0.1:%d/", worker)
	waitGet(t, apiURL, "hello from api v1\n")
	waitGet(t, workerURL, "hello from worker v1\n")
	p.write("internal/greeting/greeting.go", strings.Replace(files["internal/greeting/greeting.go"], `"hello"`, `"hi"`, 1))
	waitGet(t, apiURL, "hi from api v1\n")
	waitGet(t, workerURL, "hi from worker v1\n")
	p.waitLog(`worker: +started in`, 2)
	p.write("cmd/api/main.go", strings.Replace(files["cmd/api/main.go"], `"api v1"`, `"api v2"`, 1))
	waitGet(t, apiURL, "hi from api v2\n")
	p.stop(os.Interrupt)
	if n := p.countLog(`worker: +started in`); n != 2 {
		t.Errorf("the worker started %d times, want 2 (at start, and for the shared package's edit)", n)
	}
	if !strings.Contains(p.output.String(), "api v1 listening") {
		t.Errorf("the API's output is not shown:\n%s", p.output)
	}
}

// waitGet polls url until it answers want.
func waitGet(t *testing.T, url, want string) {
	t.Helper()
	var last string
	if !poll(func() bool { last = get(url); return last == want }) {
		t.Fatalf("%s never answered %q; last %q", url, want, last)
	}
}

// A host service and a container service in one devrun: an edit of the
// shared package swaps both, the container's in place; Ctrl-C leaves no
// process and no container.
func TestServicesHostAndContainerTogether(t *testing.T) {
	c := dockertest.Engine(t)
	dockertest.Images(t, c)
	api, worker := freePort(t.Fatalf), freePort(t.Fatalf)
	p := twoServices(t, fmt.Sprintf("    run: {env: [PORT=%d]}\n", api),
		fmt.Sprintf("    run: {mode: container}\n    container: {image: %s, ports: [\"%d:8080\"], env: [HOST=0.0.0.0, PORT=8080]}\n", dockertest.BusyboxImage, worker))
	t.Cleanup(func() { dockertest.RemoveProjectContainers(t, c, p.dir) })
	p.start()
	apiPID := p.waitServed(api, "api-1 s1")
	p.waitServed(worker, "worker-1 s1")
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 1 {
		t.Fatalf("%d containers for the worker, want 1", len(ids))
	}
	p.write("internal/store/store.go", storeVersion("s2"))
	p.waitServed(api, "api-1 s2")
	p.waitServed(worker, "worker-1 s2")
	p.write("cmd/worker/main.go", serviceMain("worker", "2"))
	p.waitServed(worker, "worker-2 s2")
	if pid := p.waitServed(api, "api-1 s2"); pid == apiPID {
		t.Errorf("the API kept PID %d through an edit of the shared package", pid)
	} else {
		apiPID = pid
	}
	p.stop(os.Interrupt)
	if syscall.Kill(apiPID, 0) == nil {
		t.Errorf("the API (PID %d) left running after Ctrl-C", apiPID)
	}
	assertPortFree(t, api)
	if ids := dockertest.ProjectContainers(t, c, p.dir); len(ids) != 0 {
		t.Errorf("containers left after Ctrl-C: %v", ids)
	}
}

// r NAME + Enter rebuilds and restarts that service alone; r + Enter all.
func TestServicesRestartOneByName(t *testing.T) {
	api, worker := freePort(t.Fatalf), freePort(t.Fatalf)
	p := twoServices(t, fmt.Sprintf("    run: {env: [PORT=%d]}\n", api), fmt.Sprintf("    run: {env: [PORT=%d]}\n", worker))
	// An *os.File, so that exec.Cmd.Wait waits for no copy of it.
	keys, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p.stdin = keys
	p.start()
	keys.Close()
	apiPID := p.waitServed(api, "api-1 s1")
	workerPID := p.waitServed(worker, "worker-1 s1")
	fmt.Fprintln(w, "r api")
	p.waitLog(`api: +started in`, 2)
	if pid := p.waitServed(api, "api-1 s1"); pid == apiPID {
		t.Errorf("r api did not restart the API (PID %d)", pid)
	}
	if pid := p.waitServed(worker, "worker-1 s1"); pid != workerPID {
		t.Errorf("r api restarted the worker (PID %d, then %d)", workerPID, pid)
	}
	fmt.Fprintln(w, "r nope")
	p.waitLog(`r nope: no service nope here; these run: api, worker`, 1)
	fmt.Fprintln(w, "r")
	p.waitLog(`worker: +started in`, 2)
	p.waitLog(`api: +started in`, 3)
	p.stop(os.Interrupt)
}
