package watcher

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A file that becomes gitignored while polling is reported no more, whether
// the .gitignore is seen by a full scan or by a quick one.
func TestPollingForgetsAFileThatBecomesIgnored(t *testing.T) {
	for _, quick := range []bool{false, true} {
		t.Run(map[bool]string{false: "full scans", true: "quick scans"}[quick], func(t *testing.T) {
			root := t.TempDir()
			h := &harness{t: t, root: root}
			h.write("main.go", "package main")
			w, err := New(Options{Root: root, Poll: true, GitIgnore: true, PollInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if quick {
				// A full scan that seemed to take an hour: every scan is a
				// quick one until something asks for a full scan.
				w.poll.fullCost = time.Hour
			}
			h = run(t, root, w)
			h.sync() // the watcher is up

			h.write("secret.txt", "v1")
			if got := paths(h.sync()); !slices.Equal(got, []string{"secret.txt"}) {
				t.Fatalf("new file: got %v, want [secret.txt]", got)
			}
			h.write(".gitignore", "secret.txt\n")
			if got := paths(h.sync()); !slices.Equal(got, []string{".gitignore"}) {
				t.Fatalf("after .gitignore: got %v, want [.gitignore]", got)
			}
			for i := range 5 {
				// A longer content each time: a scan sees a change even
				// within the file system's timestamp granularity.
				h.write("secret.txt", "v"+strings.Repeat("x", i+2))
				if got := paths(h.sync()); slices.Contains(got, "secret.txt") {
					t.Fatalf("write %d of the ignored file: got %v, want it left out", i+1, got)
				}
			}
			h.write("main.go", "package main // edited")
			if got := paths(h.sync()); !slices.Equal(got, []string{"main.go"}) {
				t.Errorf("edit after the ignored writes: got %v, want [main.go]", got)
			}

			// Ignored no more: its next change is reported again.
			h.write(".gitignore", "# nothing\n")
			h.sync()
			h.write("secret.txt", fmt.Sprint("v", strings.Repeat("y", 20)))
			if got := paths(h.sync()); !slices.Contains(got, "secret.txt") {
				t.Errorf("write after the file is no longer ignored: got %v, want it reported", got)
			}
		})
	}
}
