package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/ptytest"
	"github.com/devrun/devrun/internal/syncbuf"
)

// On a terminal, devrun's lines are coloured and a long build (here a first
// one, with an empty build cache) shows its progress on one line, redrawn in
// place and cleared before the next line: nothing is written after it.
func TestTerminalShowsALongBuildOnOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles part of the standard library")
	}
	ptmx, pts := ptytest.Open(t)
	p := newProject(t, map[string]string{"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"app is up\")\n\tselect {}\n}\n"})
	bin, err := exec.LookPath("devrun")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "GOCACHE="+t.TempDir(), "TERM=xterm", "NO_COLOR=", "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	cmd.Stdout, cmd.Stderr = pts, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	var screen syncbuf.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	if !poll(func() bool { return strings.Contains(screen.String(), "app is up") }) {
		t.Fatalf("the app never started; the screen:\n%q", screen.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(waitTimeout):
		t.Fatal("devrun did not exit")
	}
	out := screen.String()
	if !strings.Contains(out, "\x1b[36mdevrun: ") {
		t.Errorf("devrun's lines are not coloured on a terminal:\n%q", out)
	}
	draws := regexp.MustCompile(`\r\x1b\[Kdevrun: building \d+(/\d+)? packages[^\r\n]*`).FindAllStringIndex(out, -1)
	if len(draws) < 2 {
		t.Fatalf("the build's progress was drawn %d times, want it redrawn:\n%q", len(draws), out)
	}
	// The last draw is followed by the line's clearing, and only then by
	// devrun's next line.
	rest := out[draws[len(draws)-1][1]:]
	if !strings.HasPrefix(rest, "\r\x1b[K") || !strings.Contains(rest, "started in") {
		t.Errorf("after the last progress draw comes %q, want the line cleared and then \"started in\"", rest[:min(len(rest), 80)])
	}
}
