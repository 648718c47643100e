package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/devrun/devrun/internal/dockertest"
)

// treeApp serves its version on $HOST:$PORT and leaves a child behind in
// the way $MODE says:
//
//	group       a child in the app's process group
//	socket      a child that serves the app's listening socket
//	setpgid     a child that moves to a process group of its own
//	doublefork  a grandchild in a group of its own, whose parent exits at once
//
// Every child has ROLE=child in its environment, beside the test's TESTID.
// With EXIT set, the app exits with code 1 once its child runs.
const treeApp = `package main

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

var handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, version) })

func spawn(role string, setpgid bool, files ...*os.File) *exec.Cmd {
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), "ROLE="+role)
	c.ExtraFiles = files
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: setpgid}
	if err := c.Start(); err != nil {
		panic(err)
	}
	return c
}

func main() {
	switch os.Getenv("ROLE") {
	case "child":
		if os.Getenv("MODE") == "socket" {
			l, err := net.FileListener(os.NewFile(3, "listener"))
			if err != nil {
				panic(err)
			}
			go http.Serve(l, handler)
		}
		time.Sleep(time.Hour)
		return
	case "middle":
		spawn("child", true)
		return
	}
	l, err := net.Listen("tcp", cmp.Or(os.Getenv("HOST"), "127.0.0.1")+":"+os.Getenv("PORT"))
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(3)
	}
	switch os.Getenv("MODE") {
	case "group":
		spawn("child", false)
	case "socket":
		f, _ := l.(*net.TCPListener).File()
		spawn("child", false, f)
		f.Close()
	case "setpgid":
		spawn("child", true)
	case "doublefork":
		spawn("middle", false).Wait()
	}
	if os.Getenv("EXIT") != "" {
		time.Sleep(50 * time.Millisecond)
		os.Exit(1)
	}
	http.Serve(l, handler)
}
`

var treeModes = []string{"group", "socket", "setpgid", "doublefork"}

// testID returns a value that marks the processes of one test.
func testID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// treeLeft lists the processes, zombies aside, whose environment holds
// TESTID=id, and, with role set, ROLE=role.
func treeLeft(id, role string) []int {
	var pids []int
	for _, p := range procs() {
		if p.state == "Z" {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.pid))
		if err != nil {
			continue
		}
		vars := bytes.Split(env, []byte{0})
		has := func(kv string) bool {
			for _, v := range vars {
				if string(v) == kv {
					return true
				}
			}
			return false
		}
		if has("TESTID="+id) && (role == "" || has("ROLE="+role)) {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// checkOneChild fails unless exactly one child of the app's runs: the
// newest start's; the older ones' are gone.
func checkOneChild(t *testing.T, id, when string) {
	t.Helper()
	var kids []int
	// The newest start's child may still be on its way (a restart's).
	if !poll(func() bool { kids = treeLeft(id, "child"); return len(kids) == 1 }) {
		t.Fatalf("%s: %d children of the app run, want 1: %v", when, len(kids), kids)
	}
}

// checkNothingLeft fails if a process of the test's, or the port, is left.
func checkNothingLeft(t *testing.T, p *project, id string) {
	t.Helper()
	if left := treeLeft(id, ""); len(left) > 0 {
		t.Errorf("after Ctrl-C, processes of the app's tree run: %v", left)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.port))
	if err != nil {
		t.Errorf("after Ctrl-C, the app's port is taken: %v", err)
	} else {
		l.Close()
	}
	if strings.Contains(p.output.String(), "listen:") {
		t.Errorf("an app found its port taken:\n%s", p.output)
	}
}

// After each of 20 swaps, each of 20 restarts by the restart policy, and
// Ctrl-C, nothing of an earlier start of the app runs, however its children
// regrouped, and its port is free: on the host and in a container.
func TestProcessTreeEndsOnEveryPath(t *testing.T) {
	for _, where := range []string{"host", "container"} {
		for _, mode := range treeModes {
			t.Run(where+"/"+mode, func(t *testing.T) {
				t.Parallel()
				start := func(p *project, args ...string) {
					if where == "container" {
						p.startContainer(dockertest.BusyboxImage, args...)
					} else {
						p.start(args...)
					}
				}
				id := testID()
				env := "MODE=" + mode + " TESTID=" + id
				t.Run("swaps", func(t *testing.T) {
					p := newProject(t, map[string]string{"main.go": treeApp, "version.go": version("v0")})
					start(p, "--run.env", env)
					p.waitBody("v0")
					checkOneChild(t, id, "at start")
					for i := 1; i <= 20; i++ {
						p.write("version.go", version(fmt.Sprintf("v%d", i)))
						p.waitBody(fmt.Sprintf("v%d", i))
						checkOneChild(t, id, fmt.Sprintf("after swap %d", i))
					}
					p.stop(os.Interrupt)
					checkNothingLeft(t, p, id)
				})
				t.Run("restarts", func(t *testing.T) {
					p := newProject(t, map[string]string{"main.go": treeApp, "version.go": version("v0")})
					start(p, "--run.env", env+" EXIT=1", "--run.restart", "on-failure")
					for i := 1; i <= 20; i++ {
						p.waitLog(`restarting in`, i)
						checkOneChild(t, id, fmt.Sprintf("after restart %d", i))
					}
					p.stop(os.Interrupt)
					checkNothingLeft(t, p, id)
				})
			})
		}
	}
}
