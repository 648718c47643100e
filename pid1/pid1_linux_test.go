package pid1

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/need"
)

// pid1Proc is pid1 run by a test, and the records it reports.
type pid1Proc struct {
	cmd     *exec.Cmd
	records chan Record
}

// startPID1 runs pid1 (built for this machine) with argv around it:
// prefix is what runs it (nothing, or unshare making a PID namespace).
func startPID1(t *testing.T, prefix []string, timeout string, app ...string) *pid1Proc {
	t.Helper()
	return startPID1Flags(t, prefix, []string{"-stop-timeout", timeout}, app...)
}

// startPID1Flags is startPID1 with pid1's flags given whole.
func startPID1Flags(t *testing.T, prefix, flags []string, app ...string) *pid1Proc {
	t.Helper()
	args := append(append(append(prefix, buildPID1(t)), flags...), "--")
	args = append(args, app...)
	cmd := exec.Command(args[0], args[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pid1Proc{cmd: cmd, records: make(chan Record, 64)}
	f := &Filter{Out: io.Discard, Emit: func(r Record) { p.records <- r }}
	go io.Copy(f, stderr)
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	p.await(t, "ready")
	return p
}

// buildPID1 builds pid1 for this machine (cached across tests).
func buildPID1(t *testing.T) string {
	t.Helper()
	bin, err := Build(context.Background(), t.TempDir(), runtime.GOOS, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func (p *pid1Proc) await(t *testing.T, kind string) Record {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-p.records:
			if r.Kind == kind {
				return r
			}
			if r.Kind == "shutdown" {
				t.Fatalf("pid1 shut down waiting for %s", kind)
			}
		case <-deadline:
			t.Fatalf("pid1 never reported %s", kind)
		}
	}
}

// signal sends sig to pid1, which is the command itself or, under
// unshare, its only child.
func (p *pid1Proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	// Every process of the command's group but the app's own group: pid1.
	if err := syscall.Kill(p.target(t), sig); err != nil {
		t.Fatal(err)
	}
}

func (p *pid1Proc) target(t *testing.T) int {
	if p.cmd.Args[0] != "unshare" {
		return p.cmd.Process.Pid
	}
	// unshare → sh (PID 1 inside) → pid1.
	var pid int
	deadline := time.Now().Add(20 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		pid = childOf(childOf(p.cmd.Process.Pid))
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("pid1 is not found under unshare")
	}
	return pid
}

// childOf returns a child of pid, or 0.
func childOf(pid int) int {
	if pid == 0 {
		return 0
	}
	b, _ := os.ReadFile("/proc/" + itoa(pid) + "/task/" + itoa(pid) + "/children")
	var c int
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			break
		}
		c = c*10 + int(ch-'0')
	}
	return c
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// Under an init of the engine's (compose's init: true), pid1 is not PID 1
// and its parent is: swaps leave pid1 running (it counted itself, a child
// of PID 1, among the app's orphans, and killed itself at the second swap).
func TestPID1UnderAnInit(t *testing.T) {
	if os.Geteuid() != 0 {
		need.Skip(t, "root", "a PID namespace needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare here")
	}
	p := startPID1(t, []string{"unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", `"$0" "$@"; :`}, "1s", "/bin/sleep", "600")
	for i := range 3 {
		p.signal(t, syscall.SIGHUP)
		p.await(t, "started")
		if i > 0 {
			t.Logf("swap %d done", i)
		}
	}
	if err := syscall.Kill(p.target(t), 0); err != nil {
		t.Fatalf("pid1 is gone after three swaps: %v", err)
	}
}

// A stop of an app that ignores the stop signal, with a long stop timeout:
// SIGUSR2 (devrun's second Ctrl-C) during it kills the app at once, it
// does not wait the timeout out.
func TestPID1KillsAtOnceDuringAStop(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "trapped")
	p := startPID1(t, nil, "1h", "/bin/sh", "-c", `trap "" TERM; : > "$0"; while :; do sleep 0.1; done`, ready)
	p.signal(t, syscall.SIGHUP)
	p.await(t, "started")
	// A barrier: the app ignores SIGTERM from here on (a stop sent before
	// its trap ended it with 143).
	waitFile(t, ready)
	p.signal(t, syscall.SIGUSR1)
	p.signal(t, syscall.SIGUSR2) // before or during the stop: pid1 reads it there

	if r := p.await(t, "stopped"); r.Code() != 128+int(syscall.SIGKILL) {
		t.Errorf("the app stopped with %d, want killed (%d)", r.Code(), 128+int(syscall.SIGKILL))
	}
}

// waitFile polls until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
