//go:build unix

package runner

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/need"
)

// delveFor returns a Delve for the helper app name, on a free address.
func delveFor(t *testing.T, name string, timeout time.Duration) (*Delve, string) {
	t.Helper()
	if _, err := exec.LookPath("dlv"); err != nil {
		need.Skip(t, "dlv", "no dlv on PATH: "+DelveInstall)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ready := filepath.Join(t.TempDir(), "ready")
	// Built with -race, the helper would sleep a second as it exits.
	env := []string{helperEnv + "=" + name, "READY=" + ready, "GORACE=atexit_sleep_ms=0"}
	return &Delve{Host: &Host{Env: env, StopTimeout: timeout}, Listen: addr}, ready
}

// An app under Delve that exits by itself is done, with its exit code,
// though Delve waits on for its clients; Stop then ends Delve.
func TestDelveReportsTheAppsExit(t *testing.T) {
	d, _ := delveFor(t, "exit-3", time.Second)
	p, err := d.Start(context.Background(), Artifact(os.Args[0]))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		t.Fatal("the app's exit was not seen")
	}
	var ee exitCoder
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("Err = %v, want exit code 3", p.Err())
	}
	p.Stop(context.Background())
	if l, err := net.Listen("tcp", d.Listen); err != nil {
		t.Errorf("Delve's address is taken after Stop: %v", err)
	} else {
		l.Close()
	}
}

// A stop under Delve reaches the app as its stop signal, which its
// graceful shutdown handles (exit 0); an app that ignores it is killed once
// the stop timeout has passed, and not before.
func TestDelveStopSignalsTheAppFirst(t *testing.T) {
	for _, name := range []string{"graceful", "ignore-term"} {
		t.Run(name, func(t *testing.T) {
			const timeout = 500 * time.Millisecond
			d, ready := delveFor(t, name, timeout)
			p, err := d.Start(context.Background(), Artifact(os.Args[0]))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Stop(context.Background()) })
			pid := waitFile(t, ready)
			start := time.Now()
			err = p.Stop(context.Background())
			took := time.Since(start)
			if running(pid) {
				t.Fatal("the app runs after Stop")
			}
			if name == "graceful" {
				if _, serr := os.Stat(ready + ".term"); err != nil || serr != nil {
					t.Errorf("Stop = %v, and the app's SIGTERM handler ran: %v", err, serr == nil)
				}
				return
			}
			var ee exitCoder
			if !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Errorf("Stop = %v (%T), want the app ended by a signal", err, err)
			}
			if took < timeout {
				t.Errorf("an app that ignores the stop signal was killed after %v, before the stop timeout %v", took, timeout)
			}
		})
	}
}

// A Delve that cannot start says why, with Delve's own words.
func TestDelveStartFails(t *testing.T) {
	d, _ := delveFor(t, "sleep", time.Second)
	_, err := d.Start(context.Background(), Artifact(filepath.Join(t.TempDir(), "nope")))
	if err == nil || !strings.Contains(err.Error(), "starting Delve") {
		t.Errorf("Start of a missing binary = %v", err)
	}
	d.Dlv = filepath.Join(t.TempDir(), "dlv")
	if _, err := d.Start(context.Background(), Artifact(os.Args[0])); err == nil || !strings.Contains(err.Error(), DelveInstall) {
		t.Errorf("Start with no dlv = %v, want how to install it", err)
	}
}
