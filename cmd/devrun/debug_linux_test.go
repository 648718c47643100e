package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/devrun/devrun/internal/dockertest"
	"github.com/devrun/devrun/internal/need"
)

// needDelve skips the test, or fails it where TESTS_REQUIRE has dlv,
// without Delve on PATH.
func needDelve(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dlv"); err != nil {
		need.Skip(t, "dlv", "no dlv on PATH: go install github.com/go-delve/delve/cmd/dlv@latest")
	}
}

// debugApp serves handler.go's handle on $PORT, and says so on its stdout
// when a stop signal ends it: its graceful shutdown.
const debugApp = `package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if mark := os.Getenv("MARK"); mark != "" {
		os.WriteFile(mark, nil, 0o644)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	http.HandleFunc("/", handle)
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	go func() {
		if err := http.ListenAndServe(host+":"+os.Getenv("PORT"), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}()
	<-stop
	fmt.Println("graceful stop")
}
`

// debugLine is the line of handler's Fprintf, where the tests break.
const debugLine = 10

// handler is handle answering n=<n> from a local variable n.
func handler(n int) string {
	return fmt.Sprintf(`package main

import (
	"fmt"
	"net/http"
)

func handle(w http.ResponseWriter, _ *http.Request) {
	n := %d
	fmt.Fprintf(w, "n=%%d", n)
}
`, n)
}

// slowClient waits as long as the app is held at a breakpoint.
var slowClient = &http.Client{Timeout: waitTimeout}

// breakAt attaches to Delve on addr through DAP, as VS Code does, breaks
// in the handler, makes a request, and checks the stop: the file, the
// line, n's value. It returns the client, with the app halted, and where
// the response will come.
func breakAt(t *testing.T, p *project, addr string, n int) (*dapClient, int, <-chan string) {
	t.Helper()
	file := filepath.Join(p.dir, "handler.go")
	c := attachDAP(t, addr, file, debugLine, nil)
	body := make(chan string, 1)
	go func() {
		resp, err := slowClient.Get(p.url())
		if err != nil {
			body <- err.Error()
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		body <- b.String()
	}()
	got, line, value, thread := c.stopped("n")
	if got != file || line != debugLine || value != strconv.Itoa(n) {
		t.Fatalf("stopped at %s:%d with n=%s, want %s:%d with n=%d", got, line, value, file, debugLine, n)
	}
	return c, thread, body
}

// Under --debug each version runs under a new Delve on one address: an
// editor's client (DAP, as VS Code speaks it) attaches, breaks in the
// handler, sees the local variable, continues; after an edit it attaches
// again and its breakpoint hits the new code. Swaps stop the app with its
// signal first (its graceful shutdown runs, its output unchanged), never
// find Delve's address taken, and leave no Delve; Ctrl-C while the app is
// halted at a breakpoint exits within the stop timeout and a second, with
// nothing left.
func TestDebugAcrossSwaps(t *testing.T) {
	testDebug(t, func(p *project, args ...string) { p.start(args...) }, func(p *project) {
		if got := running(filepath.Join(p.dir, ".devrun")); len(got) > 0 {
			t.Errorf("the app left running: %v", got)
		}
	})
}

// The same in the dev container: Delve built for the engine's platform,
// its port published on 127.0.0.1; Ctrl-C leaves no container.
func TestContainerDebugAcrossSwaps(t *testing.T) {
	testDebug(t, func(p *project, args ...string) { p.startContainer(dockertest.BusyboxImage, args...) }, func(p *project) {
		if ids := dockertest.ProjectContainers(t, dockertest.Engine(t), p.dir); len(ids) != 0 {
			t.Errorf("containers left after Ctrl-C: %v", ids)
		}
	})
}

// testDebug runs the debugging session of TestDebugAcrossSwaps with
// devrun started by start, and checks with left that nothing of the app's
// is left after Ctrl-C.
func testDebug(t *testing.T, start func(p *project, args ...string), left func(p *project)) {
	needDelve(t)
	p := newProject(t, map[string]string{"main.go": debugApp, "handler.go": handler(1)})
	port := strconv.Itoa(freePort(t.Fatalf))
	addr := "127.0.0.1:" + port
	const stopTimeout = 3 * time.Second
	start(p, "--debug", "--run.debug_listen", addr, "--run.stop_timeout", stopTimeout.String())
	p.waitBody("n=1")

	for n := 1; n <= 2; n++ {
		if n == 2 {
			p.write("handler.go", handler(2))
			p.waitBody("n=2")
		}
		c, thread, body := breakAt(t, p, addr, n)
		c.cont(thread)
		if got, want := <-body, fmt.Sprintf("n=%d", n); got != want {
			t.Fatalf("after continue the app answered %q, want %q", got, want)
		}
		// An editor's breakpoints outlive its session in Delve: cleared,
		// so that no request halts the app with no one attached.
		c.call(&dap.SetBreakpointsRequest{Request: c.req("setBreakpoints"), Arguments: dap.SetBreakpointsArguments{Source: dap.Source{Path: filepath.Join(p.dir, "handler.go")}}})
		c.detach()
	}

	for n := 3; n <= 12; n++ {
		p.write("handler.go", handler(n))
		p.waitBody(fmt.Sprintf("n=%d", n))
	}
	if got := p.countLog("address already in use"); got != 0 {
		t.Errorf(`"address already in use" %d times in devrun's log`, got)
	}
	if got := len(regexp.MustCompile(`(?m)^graceful stop$`).FindAllString(p.output.String(), -1)); got != 11 {
		t.Errorf("the app's graceful stop ran %d times in 11 swaps, or its line did not reach devrun's output unchanged", got)
	}
	if got := delves(port); len(got) != 1 {
		t.Errorf("after 12 versions, %d Delves listen on port %s: %v", len(got), port, got)
	}

	_, _, body := breakAt(t, p, addr, 12)
	begin := time.Now()
	p.stop(os.Interrupt)
	if took := time.Since(begin); took > stopTimeout+time.Second {
		t.Errorf("Ctrl-C with the app halted at a breakpoint took %v, more than run.stop_timeout %v and a second", took, stopTimeout)
	}
	<-body
	if got := delves(port); len(got) > 0 {
		t.Errorf("Delve left running: %v", got)
	}
	left(p)
	if l, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("Delve's address still taken: %v", err)
	} else {
		l.Close()
	}
}

// delves lists the Delves that listen on port, on the host or in a
// container, by their command lines.
func delves(port string) []string {
	var out []string
	for _, l := range commandLines("\x00--listen=") {
		_, cmd, _ := strings.Cut(l, " ")
		if strings.HasSuffix(strings.Fields(cmd)[0], "dlv") && strings.Contains(l, ":"+port+" ") {
			out = append(out, l)
		}
	}
	return out
}

// running lists the processes whose binary is under dir.
func running(dir string) []string {
	var out []string
	for _, pid := range pids() {
		exe, err := os.Readlink("/proc/" + pid + "/exe")
		if err == nil && strings.HasPrefix(exe, dir+"/") && !zombie(pid) {
			out = append(out, pid+" "+exe)
		}
	}
	return out
}

// commandLines lists the live processes whose command line has s.
func commandLines(s string) []string {
	var out []string
	for _, pid := range pids() {
		b, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(s)) && !zombie(pid) {
			out = append(out, pid+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

func pids() []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

func zombie(pid string) bool {
	b, _ := os.ReadFile("/proc/" + pid + "/stat")
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// A devrun killed (SIGKILL) under --debug leaves no Delve and no app:
// Delve's parent-death signal is SIGTERM, on which it kills the app it
// launched and exits.
func TestDebugKilledDevrunLeavesNothing(t *testing.T) {
	needDelve(t)
	p := newProject(t, map[string]string{"main.go": debugApp, "handler.go": handler(1)})
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t.Fatalf))
	p.start("--debug", "--run.debug_listen", addr)
	p.waitBody("n=1")
	p.cmd.Process.Kill()
	<-p.exited
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	if !poll(func() bool { return len(delves(port)) == 0 && len(running(filepath.Join(p.dir, ".devrun"))) == 0 }) {
		t.Fatalf("left running: Delve %v, the app %v", delves(port), running(filepath.Join(p.dir, ".devrun")))
	}
}

// With run.debug_wait each version waits before its first instruction
// until the editor attaches and continues it: its start-up code can be
// debugged. The app marks its start with a file: none while the editor
// attaches, though Delve has launched it.
func TestDebugWaitHoldsTheAppForTheEditor(t *testing.T) {
	needDelve(t)
	p := newProject(t, map[string]string{"main.go": debugApp, "handler.go": handler(1)})
	mark := filepath.Join(p.dir, "started")
	p.env = append(p.env, "MARK="+mark)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t.Fatalf))
	p.start("--debug", "--run.debug_listen", addr, "--run.debug_wait")
	p.waitLog("delve: API server listening at: "+regexp.QuoteMeta(addr), 1)
	// configurationDone continues it, as it does for VS Code (no
	// stopOnEntry).
	c := attachDAP(t, addr, filepath.Join(p.dir, "handler.go"), debugLine, func() {
		if _, err := os.Stat(mark); err == nil {
			t.Fatal("the app started before the editor continued it")
		}
	})
	body := make(chan string, 1)
	go func() {
		var last string
		poll(func() bool { last = get(p.url()); return last != "" })
		body <- last
	}()
	_, line, value, thread := c.stopped("n")
	if line != debugLine || value != "1" {
		t.Fatalf("stopped at line %d with n=%s", line, value)
	}
	c.cont(thread)
	if got := <-body; got != "n=1" {
		t.Errorf("the app answered %q", got)
	}
	p.stop(os.Interrupt)
}

// An app that exits by itself under Delve is reported with its own exit
// code, on the host and in the dev container (where pid1 asks Delve for
// it), though Delve itself would wait on for its clients.
func TestDebugReportsTheAppsExitCode(t *testing.T) {
	const exits = "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n"
	for _, mode := range []string{"host", "container"} {
		t.Run(mode, func(t *testing.T) {
			needDelve(t)
			p := newProject(t, map[string]string{"main.go": exits})
			args := []string{"--debug", "--run.debug_listen", strconv.Itoa(freePort(t.Fatalf))}
			if mode == "host" {
				p.start(args...)
			} else {
				p.startContainer(dockertest.BusyboxImage, args...)
			}
			p.waitLog(`app exited with code 3`, 1)
			p.stop(os.Interrupt)
		})
	}
}
