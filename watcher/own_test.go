package watcher

import (
	"os"
	"path/filepath"
	"testing"
)

// What devrun writes itself is never reported, wherever it is and however
// it is named: a directory in the tree, one reached through a symbolic
// link, a name that reads as a pattern, a file, and a path given relative
// to the working directory rather than the root. Both with file events and
// polling.
func TestOwnPathsAreNeverReported(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(map[bool]string{false: "events", true: "polling"}[poll], func(t *testing.T) {
			root := t.TempDir()
			h := &harness{t: t, root: root}
			h.write("main.go", "package main")
			h.write("bin/1/app", "")
			h.write("real/out/app", "")
			h.write("out[1]/app", "")
			h.write("devrun.log", "")
			if err := os.Symlink(filepath.Join(root, "real", "out"), filepath.Join(root, "link")); err != nil {
				t.Fatal(err)
			}
			wd, _ := os.Getwd()
			relBin, err := filepath.Rel(wd, filepath.Join(root, "bin"))
			if err != nil {
				t.Fatal(err)
			}
			h = start(t, root, Options{Poll: poll, PollInterval: 20e6, Own: []string{
				relBin, filepath.Join(root, "link"), filepath.Join(root, "out[1]"), filepath.Join(root, "devrun.log"),
			}})
			h.sync()
			h.write("bin/1/app", "x")
			h.write("bin/2/app", "x")
			h.write("real/out/app", "x")
			h.write("real/out/build.pid", "1")
			h.write("out[1]/app", "x")
			h.write("devrun.log", "a line")
			h.write("main.go", "package main // edited")
			got := paths(h.sync())
			if len(got) != 1 || got[0] != "main.go" {
				t.Errorf("reported %v, want only main.go", got)
			}
		})
	}
}
