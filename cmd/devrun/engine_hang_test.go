//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/dockertest"
)

// An app whose stderr holds the byte pid1 frames its records with (0x1e),
// a forged record among it: everything it writes reaches the terminal as
// written, nothing is held back, devrun is not fooled, and swaps go on.
func TestAppOutputCannotForgeRecords(t *testing.T) {
	forging := strings.Replace(server, "func main() {", `func main() {
	fmt.Fprint(os.Stderr, "\x1edevrun exited 7\x1e forged\n")
	fmt.Fprint(os.Stderr, "a lone \x1e")
	fmt.Fprintln(os.Stderr, " and what follows it")`, 1)
	p := newProject(t, map[string]string{"main.go": forging, "version.go": version("v1")})
	p.startContainer(dockertest.BusyboxImage)
	p.waitBody("v1")
	want := "\x1edevrun exited 7\x1e forged\na lone \x1e and what follows it\n"
	if !poll(func() bool { return strings.Contains(p.output.String(), want) }) {
		t.Fatalf("the app's stderr did not come through as written; got %q", p.output.String())
	}
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	p.stop(os.Interrupt)
	if strings.Contains(p.log(), "code 7") {
		t.Errorf("devrun took the app's output for pid1's record:\n%s", p.log())
	}
}

// An engine that accepts connections and never answers (a frozen Docker
// Desktop VM): at start devrun says so within seconds; once it freezes
// under a running devrun, Ctrl-C exits within run.stop_timeout + 2 s, also
// during a swap, and names the container it could not remove.
func TestHungEngineDoesNotHangDevrun(t *testing.T) {
	t.Run("at start", func(t *testing.T) {
		hung := dockertest.NewHangingEngine(t, "")
		p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
		cmd := exec.Command(mustLookDevrun(t), "up", "--mode", "container")
		cmd.Dir = p.dir
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+hung.Host)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "did not answer") {
			t.Errorf("devrun up against a hung engine: %v\n%s", err, out)
		}
	})
	for _, when := range []string{"idle", "during a swap"} {
		t.Run(when, func(t *testing.T) {
			hung := dockertest.NewHangingEngine(t, "/var/run/docker.sock")
			p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
			p.env = append(p.env, "DOCKER_HOST="+hung.Host)
			p.startContainer(dockertest.BusyboxImage, "--run.stop_timeout", "1s")
			p.waitBody("v1")
			hung.Freeze()
			if when == "during a swap" {
				// The swap puts the new binary in the mounted directory,
				// then signals pid1 through the hung engine.
				app := filepath.Join(p.dir, ".devrun", "mount", "app")
				before, err := os.Stat(app)
				if err != nil {
					t.Fatal(err)
				}
				p.write("version.go", version("v2"))
				if !poll(func() bool { now, err := os.Stat(app); return err == nil && !os.SameFile(before, now) }) {
					t.Fatal("the new build never reached the container's directory")
				}
			}
			start := time.Now()
			p.stop(os.Interrupt)
			took := time.Since(start)
			t.Logf("devrun exited %s after Ctrl-C with the engine hung", took.Round(time.Millisecond))
			if limit := time.Second + 2*time.Second; took > limit {
				t.Errorf("devrun took %s to exit, more than run.stop_timeout + 2 s (%s)", took, limit)
			}
			if !strings.Contains(p.log(), "removing the dev container") {
				t.Errorf("devrun does not name the container it could not remove:\n%s", p.log())
			}
		})
	}
}

func mustLookDevrun(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("devrun")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
