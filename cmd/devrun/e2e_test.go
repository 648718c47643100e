//go:build unix

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/syncbuf"
)

// These tests drive the devrun command as a real process over real files and
// real go builds, in loops that scripts cannot express.

// project is a module in a temporary directory with devrun running on it.
type project struct {
	t      *testing.T
	dir    string
	port   int
	cmd    *exec.Cmd
	output *syncbuf.Buffer // devrun's and the app's stdout and stderr
	exited chan struct{}
	// children is where the withChild app records its children's PIDs.
	children string
	// env holds further KEY=value entries for devrun's environment.
	env []string
	// stdin, when set, is devrun's standard input: its keyboard commands.
	stdin io.Reader
}

// newProject writes files (name → content) into a new module.
func newProject(t *testing.T, files map[string]string) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), port: freePort(t.Fatalf)}
	p.write("go.mod", "module example.com/app\n\ngo 1.22\n")
	for name, content := range files {
		p.write(name, content)
	}
	return p
}

func (p *project) write(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// start runs `devrun up` with args in the project.
func (p *project) start(args ...string) {
	p.t.Helper()
	p.output = &syncbuf.Buffer{}
	p.run(p.output, args...)
}

// startTo runs `devrun up` with its output (and the app's) going to out.
func (p *project) startTo(out io.Writer, args ...string) {
	p.t.Helper()
	p.output = &syncbuf.Buffer{}
	p.run(out, args...)
}

func (p *project) run(out io.Writer, args ...string) {
	p.t.Helper()
	bin, err := exec.LookPath("devrun") // installed on PATH by testscript.Main
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append([]string{"up", "--log", "devrun.log"}, args...)...)
	p.cmd.Dir = p.dir
	p.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(p.port), "CHILDREN="+p.children)
	// Built with -race, devrun would sleep a second at exit for the race
	// detector's reports: no part of devrun's, and it skews the exit times.
	p.cmd.Env = append(p.cmd.Env, "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	p.cmd.Env = append(p.cmd.Env, p.env...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.Stdin = p.stdin
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	p.t.Cleanup(func() {
		p.cmd.Process.Kill() // the app dies with it: parent-death signal
		<-p.exited
		if p.t.Failed() {
			p.t.Logf("devrun.log:\n%s\noutput:\n%s", p.log(), p.output)
		}
	})
}

// stop sends sig to devrun and waits for it to exit 0.
func (p *project) stop(sig os.Signal) {
	p.t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		p.t.Logf("devrun exited %s after %v", time.Since(start).Round(time.Millisecond), sig)
	case <-time.After(waitTimeout):
		p.t.Fatal("devrun did not exit")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("devrun exited with code %d", code)
	}
}

func (p *project) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", p.port) }

// waitBody polls the app until it answers want.
func (p *project) waitBody(want string) {
	p.t.Helper()
	var last string
	if !poll(func() bool { last = get(p.url()); return last == want }) {
		p.t.Fatalf("the app never answered %q; last %q", want, last)
	}
}

func (p *project) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "devrun.log"))
	return string(b)
}

// waitLog polls devrun's log until re matches n times.
func (p *project) waitLog(re string, n int) {
	p.t.Helper()
	r := regexp.MustCompile(re)
	if !poll(func() bool { return len(r.FindAllStringIndex(p.log(), -1)) >= n }) {
		p.t.Fatalf("devrun.log never matched %q %d times", re, n)
	}
}

func (p *project) countLog(re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(p.log(), -1))
}

// server is an app serving the version in version.go on $HOST:$PORT
// (HOST defaults to 127.0.0.1).
const server = `package main

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
)

func main() {
	err := http.ListenAndServe(cmp.Or(os.Getenv("HOST"), "127.0.0.1")+":"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, version)
	}))
	fmt.Println(err)
	os.Exit(1)
}
`

func version(v string) string { return "package main\n\nconst version = \"" + v + "\"\n" }

// 500 files changed at once give one build and one restart, and the last
// version is served.
func TestBurstOf500FilesIsOneBuild(t *testing.T) {
	testBurst(t, func(p *project) { p.start(burstWait...) })
}

// burstWait lifts the cap on how long a batch waits for quiet: a writer
// stalled on a loaded machine must not split the burst by hitting the cap
// (500 ms by default), which these tests do not mean to test.
var burstWait = []string{"--watch.max_wait", "1m"}

// testBurst serves gen.V499 from a package of 500 files, started by start,
// rewrites all 500 at once, and checks for one build and one restart.
func testBurst(t *testing.T, start func(*project)) {
	p := newProject(t, map[string]string{
		"main.go":    strings.Replace(server, "fmt.Fprint(w, version)", "fmt.Fprint(w, gen.V499)", 1),
		"version.go": version("unused"),
	})
	p.write("main.go", strings.Replace(p.readFile("main.go"), `"os"`, "\"os\"\n\n\t\"example.com/app/gen\"", 1))
	writeGen := func(v string) {
		for i := range 500 {
			p.write(fmt.Sprintf("gen/f%03d.go", i), fmt.Sprintf("package gen\n\nconst V%d = %q\n", i, v))
		}
	}
	writeGen("v1")
	start(p)
	p.waitBody("v1")
	writeGen("v2")
	p.waitBody("v2")
	p.waitLog(`started in`, 2)
	p.stop(os.Interrupt)
	if n := p.countLog(`changed: building`); n != 1 {
		t.Errorf("%d builds for one burst, want 1", n)
	}
	if n := p.countLog(`during the build`); n != 0 {
		t.Errorf("%d cancelled builds for one burst, want 0", n)
	}
	if n := p.countLog(`started in`); n != 2 {
		t.Errorf("the app started %d times, want 2 (the first start and one restart)", n)
	}
}

func (p *project) readFile(name string) string {
	b, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

// An edit that lands while the previous edit's build runs cancels that build:
// the last edit is served, 20 times out of 20.
func TestEditDuringBuildLastEditWins(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v0")})
	// A real go build, started a little late so that the second edit is sure
	// to land while the first build runs.
	p.start("--build.command", `sh -c "sleep 0.2; exec go build -o \"\$0\" ." {out}`)
	p.waitBody("v0")
	for i := 1; i <= 20; i++ {
		p.write("version.go", version(fmt.Sprintf("v%d-first", i)))
		p.waitLog(`version.go changed: building`, i)
		p.write("version.go", version(fmt.Sprintf("v%d-last", i)))
		p.waitBody(fmt.Sprintf("v%d-last", i))
	}
	p.waitLog(`started in`, 21)
	checkNoZombies(t, p.cmd.Process.Pid, "after 20 cancelled builds")
	p.stop(syscall.SIGTERM)
	if n := p.countLog(`version.go changed during the build: building again`); n != 20 {
		t.Errorf("%d of 20 second edits landed during a build", n)
	}
	if n := p.countLog(`started in`); n != 21 {
		t.Errorf("the app started %d times, want 21: the first edit of each pair was never served", n)
	}
}

// withChild is an app that starts a child process (itself, as a sleeper) and
// records the child's PID, then serves its version.
const withChild = `package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"
)

func main() {
	if os.Getenv("CHILD") != "" {
		<-time.After(time.Hour) // a child that lives as long as the test
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "CHILD=1")
	if err := child.Start(); err != nil {
		panic(err)
	}
	f, _ := os.OpenFile(os.Getenv("CHILDREN"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	fmt.Fprintln(f, child.Process.Pid)
	f.Close()
	err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, version)
	}))
	fmt.Println("serving:", err)
	os.Exit(1)
}
`

// An app with a child and a listening port: after each of 20 swaps only the
// newest child runs, the new app never finds its port taken, and after
// Ctrl-C no child is left.
func TestSwapsLeaveNoChildAndNoBoundPort(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": withChild, "version.go": version("v0")})
	p.children = filepath.Join(t.TempDir(), "children") // outside the watched tree
	p.start()
	p.waitBody("v0")
	for i := 1; i <= 20; i++ {
		p.write("version.go", version(fmt.Sprintf("v%d", i)))
		p.waitBody(fmt.Sprintf("v%d", i))
		if alive := p.liveChildren(); len(alive) != 1 {
			t.Fatalf("after swap %d, %d children run, want 1: %v", i, len(alive), alive)
		}
	}
	p.waitLog(`started in`, 21)
	p.stop(os.Interrupt)
	if alive := p.liveChildren(); len(alive) != 0 {
		t.Errorf("after Ctrl-C, children still run: %v", alive)
	}
	if strings.Contains(p.output.String(), "address already in use") || p.countLog("app exited") > 0 {
		t.Errorf("an app failed to start:\n%s\n%s", p.output, p.log())
	}
	if n := p.countLog(`started in`); n != 21 {
		t.Errorf("the app started %d times, want 21", n)
	}
}

// liveChildren returns the recorded children that still run (zombies do not).
func (p *project) liveChildren() []int {
	var alive []int
	b, err := os.ReadFile(p.children)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if pid > 0 && processRuns(pid) {
			alive = append(alive, pid)
		}
	}
	return alive
}

func pidIn(t *testing.T, file string) int {
	t.Helper()
	var pid int
	if !poll(func() bool {
		b, _ := os.ReadFile(file)
		f := strings.Fields(string(b))
		if len(f) > 0 {
			pid, _ = strconv.Atoi(f[0])
		}
		return pid > 0
	}) {
		t.Fatalf("%s holds no PID", file)
	}
	return pid
}

// An app that floods its output with megabytes a second does not slow
// devrun: swaps and Ctrl-C work as usual.
func TestFloodingAppKeepsDevrunResponsive(t *testing.T) {
	flood := strings.Replace(server, "func main() {", `func main() {
	go func() {
		line := []byte(strings.Repeat("flood ", 10000) + "\n")
		for {
			os.Stdout.Write(line)
		}
	}()`, 1)
	flood = strings.Replace(flood, `"os"`, `"os"
	"strings"`, 1)
	p := newProject(t, map[string]string{"main.go": flood, "version.go": version("v1")})
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	p.startTo(devnull)
	p.waitBody("v1")
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.stop(os.Interrupt)
}

// Ctrl-C during a build stops the build's whole process group, and devrun
// exits 0 with nothing left.
func TestCtrlCDuringBuild(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.start("--build.command", `sh -c "sleep 3600 & wait" {out}`)
	build := pidIn(t, filepath.Join(p.dir, ".devrun", "build.pid"))
	p.stop(os.Interrupt)
	if groupRuns(build) {
		t.Errorf("the build's process group %d outlived Ctrl-C", build)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".devrun", "build.pid")); !os.IsNotExist(err) {
		t.Errorf("build.pid is left: %v", err)
	}
}

// The module's directory renamed under a running devrun: the watches and the
// working directory follow the directory, and edits are still served.
func TestProjectDirectoryRenamed(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.start()
	p.waitBody("v1")
	moved := p.dir + "-moved"
	if err := os.Rename(p.dir, moved); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(moved) })
	p.dir = moved
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.stop(os.Interrupt)
}

// Ctrl-C right after an edit, while devrun builds and swaps: devrun exits 0,
// and neither the app nor its child is left.
func TestCtrlCDuringSwap(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": withChild, "version.go": version("v0")})
	p.children = filepath.Join(t.TempDir(), "children")
	p.start()
	p.waitBody("v0")
	p.write("version.go", version("v1"))
	p.waitLog(`version.go changed: building`, 1)
	p.stop(os.Interrupt)
	if alive := p.liveChildren(); len(alive) != 0 {
		t.Errorf("children left: %v", alive)
	}
	if get(p.url()) != "" {
		t.Error("the app still answers")
	}
}
