package main

// The end-to-end tests and helpers that rely on Linux alone: /proc, the
// parent-death signal, devrun as the subreaper of the app's orphans.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func processRuns(pid int) bool {
	p, ok := readProc(pid)
	if !ok {
		return syscall.Kill(pid, 0) == nil
	}
	return p.state != "Z"
}

// proc is what /proc/<pid>/stat says of a process.
type proc struct {
	pid, ppid, pgid int
	state           string
}

func readProc(pid int) (proc, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	// The command name may hold spaces and parentheses: fields follow the last ')'.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 3 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return proc{pid: pid, ppid: ppid, pgid: pgid, state: f[0]}, true
}

// procs returns every process /proc lists.
func procs() []proc {
	entries, _ := os.ReadDir("/proc")
	var all []proc
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if p, ok := readProc(pid); ok {
				all = append(all, p)
			}
		}
	}
	return all
}

// devrun killed with SIGKILL: mid-run, the app dies with it (parent-death
// signal); mid-build, the next devrun up stops what the build left; either
// way the next devrun up starts cleanly on the same port.
func TestKilledDevrunLeavesNothing(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.start()
	p.waitBody("v1")
	pid := pidIn(t, filepath.Join(p.dir, ".devrun", "app.pid"))
	p.kill()
	if !poll(func() bool { return !processRuns(pid) }) {
		t.Fatalf("the app %d outlived a killed devrun", pid)
	}

	// Killed mid-build, with a build that leaves a process of its group behind.
	p.start("--build.command", `sh -c "sleep 3600 & echo > .devrun/slept; wait" {out}`)
	if !poll(func() bool { _, err := os.Stat(filepath.Join(p.dir, ".devrun", "slept")); return err == nil }) {
		t.Fatal("the build never started its sleep")
	}
	build := pidIn(t, filepath.Join(p.dir, ".devrun", "build.pid"))
	p.kill()
	if !groupRuns(build) {
		t.Fatal("the build's group is gone already: the test proves nothing")
	}
	p.start()
	p.waitBody("v1")
	p.waitLog(fmt.Sprintf("stopped what an earlier devrun left running: process group %d", build), 1)
	if groupRuns(build) {
		t.Errorf("the killed build's process group %d still runs", build)
	}
	p.stop(os.Interrupt)
}

// groupRuns reports whether a process of group pgid runs (zombies aside).
func groupRuns(pgid int) bool {
	for _, p := range procs() {
		if p.pgid == pgid && p.state != "Z" {
			return true
		}
	}
	return false
}

// An app that daemonises a process (a new session, outside the app's process
// group): devrun adopts it as the app's reaper (Linux) and stops it with the
// app, at a swap and at Ctrl-C.
func TestDaemonisedGrandchildIsStopped(t *testing.T) {
	daemonising := strings.Replace(withChild, `child.Env = append(os.Environ(), "CHILD=1")`,
		`child.Env = append(os.Environ(), "CHILD=1")
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}`, 1)
	daemonising = strings.Replace(daemonising, `"os/exec"`, `"os/exec"
	"syscall"`, 1)
	p := newProject(t, map[string]string{"main.go": daemonising, "version.go": version("v0")})
	p.children = filepath.Join(t.TempDir(), "children")
	p.start()
	p.waitBody("v0")
	p.write("version.go", version("v1"))
	p.waitBody("v1")
	if alive := p.liveChildren(); len(alive) != 1 {
		t.Errorf("after a swap, %d daemons run, want 1: %v", len(alive), alive)
	}
	p.stop(os.Interrupt)
	if alive := p.liveChildren(); len(alive) != 0 {
		for _, pid := range alive {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("after Ctrl-C, daemons still run: %v", alive)
	}
}

// zombiesOf lists the zombie children of pid.
func zombiesOf(pid int) []int {
	var z []int
	for _, p := range procs() {
		if p.ppid == pid && p.state == "Z" {
			z = append(z, p.pid)
		}
	}
	return z
}

// checkNoZombies fails if pid has zombie children.
func checkNoZombies(t *testing.T, pid int, when string) {
	t.Helper()
	if z := zombiesOf(pid); len(z) > 0 {
		t.Errorf("devrun has %d zombie children %s: %v", len(z), when, z)
	}
}
