//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/dockertest"
)

// quietFor fails the test if devrun's log matches re within d: a claim
// that something does not happen needs a span of time to be checked in.
func (p *project) quietFor(d time.Duration, re string) {
	p.t.Helper()
	r := regexp.MustCompile(re)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for {
		select {
		case <-tick.C:
			if r.MatchString(p.log()) {
				p.t.Fatalf("devrun.log matched %q within %s:\n%s", re, d, p.log())
			}
		case <-deadline:
			return
		}
	}
}

// Wherever build.output points (a directory in the tree as air users
// write it, a nested one, ./-relative, absolute outside the tree, a
// symbolic link into the tree), and in container mode too: one build at
// start, none while idle for 10 s (devrun's PID files, mounts and builds
// never start a cycle), and one for an edit.
func TestBuildOutputAnywhereBuildsOnce(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct{ name, output, mode string }{
		{"bin", "bin", "host"},
		{"tmp-bin", "tmp/bin", "host"},
		{"dot-out", "./out", "host"},
		{"outside", filepath.Join(outside, "bin"), "host"},
		{"symlink", "link", "host"},
		{"container-bin", "bin", "container"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
			if tc.name == "symlink" {
				os.MkdirAll(filepath.Join(p.dir, "real"), 0o755)
				if err := os.Symlink("real", filepath.Join(p.dir, "link")); err != nil {
					t.Fatal(err)
				}
			}
			if tc.mode == "container" {
				p.startContainer(dockertest.BusyboxImage, "--build.output", tc.output)
			} else {
				p.start("--build.output", tc.output)
			}
			p.waitBody("v1")
			p.quietFor(10*time.Second, `changed|building again`)
			p.write("version.go", version("v2"))
			p.waitBody("v2")
			p.waitLog(`started in`, 2)
			p.quietFor(time.Second, `during the build|started in(?s:.*)started in(?s:.*)started in`)
			p.stop(os.Interrupt)
			if n := p.countLog(`changed: building`); n != 1 {
				t.Errorf("%d builds for one edit, want 1:\n%s", n, p.log())
			}
		})
	}
}

// SIGHUP, as a closed terminal sends it, stops devrun as cleanly as Ctrl-C:
// the app is stopped, its port freed, devrun's PID files removed.
func TestHangupIsACleanStop(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.start()
	p.waitBody("v1")
	app := pidIn(t, filepath.Join(p.dir, ".devrun", "app.pid"))
	p.stop(syscall.SIGHUP)
	if processRuns(app) {
		t.Errorf("the app %d outlived SIGHUP", app)
	}
	for _, f := range []string{"app.pid", "up.pid"} {
		if _, err := os.Stat(filepath.Join(p.dir, ".devrun", f)); !os.IsNotExist(err) {
			t.Errorf(".devrun/%s is left after SIGHUP: %v", f, err)
		}
	}
	if get(p.url()) != "" {
		t.Error("the app still answers")
	}
}

// A second stop signal that arrives while the first is being handled is
// never lost: SIGINT and SIGTERM sent at once (two kinds, so that the
// kernel cannot merge them) kill an app that ignores SIGTERM at once,
// though its stop timeout is an hour.
func TestSecondSignalDuringTheFirstIsNotLost(t *testing.T) {
	ignoring := fmt.Sprintf("%s\nfunc init() { signal.Ignore(syscall.SIGTERM) }\n", server)
	ignoring = regexp.MustCompile(`"os"\n`).ReplaceAllString(ignoring, "\"os\"\n\t\"os/signal\"\n\t\"syscall\"\n")
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p := newProject(t, map[string]string{"main.go": ignoring, "version.go": version("v1")})
			p.start("--run.stop_timeout", "1h")
			p.waitBody("v1")
			app := pidIn(t, filepath.Join(p.dir, ".devrun", "app.pid"))
			p.cmd.Process.Signal(os.Interrupt)
			p.stop(syscall.SIGTERM)
			if processRuns(app) {
				t.Errorf("the app %d outlived two stop signals", app)
			}
		})
	}
}

// A project devrun cannot write its state directory into (here .devrun is
// a file; a read-only mount, or another user's tree in the compose
// sidecar): devrun keeps its files in the user's cache instead, and works.
func TestStateOutsideAnUnwritableProject(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1"), ".devrun": "not a directory"})
	p.start("--build.output", filepath.Join(t.TempDir(), "bin"))
	p.waitBody("v1")
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.stop(os.Interrupt)
}
