//go:build unix

package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the app: with helperEnv set, it behaves as the
// helper named by its value instead of running tests.
const helperEnv = "RUNNER_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		helper(h)
		return
	}
	os.Exit(m.Run())
}

// helper runs one helper app. It writes its PID to $READY once it is set up.
func helper(name string) {
	switch name {
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	case "with-child":
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=ignore-term", "READY="+os.Getenv("READY")+".child")
		if err := child.Start(); err != nil {
			panic(err)
		}
	case "exit-3":
		os.Exit(3)
	case "graceful": // exits 0 on SIGTERM, once it has said so in $READY.term
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			os.WriteFile(os.Getenv("READY")+".term", []byte("1"), 0o644)
			os.Exit(0)
		}()
	}
	if err := os.WriteFile(os.Getenv("READY"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		panic(err)
	}
	<-time.After(time.Hour) // no "select {}": the runtime may call that a deadlock
}

// startHelper starts the test binary as the helper named name and waits until
// it is ready.
func startHelper(t *testing.T, name string, timeout time.Duration) (Process, string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("process groups and signals are unix-only")
	}
	ready := filepath.Join(t.TempDir(), "ready")
	h := &Host{Env: []string{helperEnv + "=" + name, "READY=" + ready}, StopTimeout: timeout}
	p, err := h.Start(context.Background(), Artifact(os.Args[0]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background()) })
	waitFile(t, ready)
	return p, ready
}

// waitFile polls for path to exist, with a deadline.
func waitFile(t *testing.T, path string) int {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 {
				t.Fatalf("%s holds no PID: %q", path, b)
			}
			return pid
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s did not appear", path)
		}
	}
}

// running reports whether pid runs and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(stat)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ')' {
			return len(s) > i+2 && s[i+2] != 'Z'
		}
	}
	return true
}

func TestStopSendsTheStopSignal(t *testing.T) {
	p, _ := startHelper(t, "sleep", time.Minute)
	err := p.Stop(context.Background())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("Stop = %v, want the process ended by SIGTERM", err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done is not closed after Stop")
	}
}

func TestStopKillsAnAppThatIgnoresTheSignal(t *testing.T) {
	p, _ := startHelper(t, "ignore-term", 200*time.Millisecond)
	err := p.Stop(context.Background())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Stop = %v, want the process killed", err)
	}
}

func TestStopKillsAtOnceWhenForced(t *testing.T) {
	p, _ := startHelper(t, "ignore-term", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Stop(ctx); err == nil {
		t.Error("Stop = nil, want the process killed")
	}
}

func TestStopEndsTheAppsChildren(t *testing.T) {
	p, ready := startHelper(t, "with-child", 200*time.Millisecond)
	child := waitFile(t, ready+".child")
	if !running(child) {
		t.Fatal("the child is not running")
	}
	p.Stop(context.Background())
	if running(child) {
		syscall.Kill(child, syscall.SIGKILL)
		t.Error("the app's child survived Stop")
	}
}

func TestDoneReportsAnExitByItself(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix-only helper")
	}
	h := &Host{Env: []string{helperEnv + "=exit-3"}}
	p, err := h.Start(context.Background(), Artifact(os.Args[0]))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("Err = %v, want exit code 3", p.Err())
	}
	if err := p.Stop(context.Background()); err != p.Err() {
		t.Errorf("Stop after exit = %v, want %v", err, p.Err())
	}
}

func TestStartReportsAMissingBinary(t *testing.T) {
	h := &Host{}
	_, err := h.Start(context.Background(), Artifact(filepath.Join(t.TempDir(), "nope")))
	if err == nil {
		t.Fatal("Start of a missing binary succeeded")
	}
}

// KillLeftover kills the recorded group when its leader runs the recorded
// binary, and leaves a stranger alone, with /proc and, as on macOS and the
// BSDs, with ps(1) instead.
func TestKillLeftoverTellsItsOwnFromAStranger(t *testing.T) {
	for _, where := range []string{"/proc", "ps"} {
		t.Run(where, func(t *testing.T) {
			if _, err := os.Stat("/proc/self"); err != nil && where == "/proc" {
				t.Skip("no /proc here: the ps subtest covers this system")
			}
			if where == "ps" {
				defer func(old string) { procSelf = old }(procSelf)
				procSelf = filepath.Join(t.TempDir(), "no-proc")
			}
			ready := filepath.Join(t.TempDir(), "ready")
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"=ignore-term", "READY="+ready)
			setGroup(cmd)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			t.Cleanup(func() { cmd.Process.Kill(); <-exited })
			waitFile(t, ready)
			pidFile := filepath.Join(t.TempDir(), "app.pid")
			record := func(bin string) {
				os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+" "+bin+"\n"), 0o644)
			}

			record(os.Args[0] + "-not")
			if did, err := KillLeftover(pidFile); did != "" || err != nil {
				t.Fatalf("a stranger's group: %q, %v; want it left alone", did, err)
			}
			record(os.Args[0])
			if did, err := KillLeftover(pidFile); did == "" || err != nil {
				t.Fatalf("devrun's own group: %q, %v; want it stopped", did, err)
			}
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				t.Fatal("the leftover still runs")
			}
		})
	}
}
