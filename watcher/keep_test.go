package watcher

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// What Keep names is reported though .gitignore ignores it (a generated
// file the build reads), once Refresh has the watcher ask again; a
// directory outside the tree that Refresh adds (a replace target) is
// watched, and its files already there are no change. Both with file
// events and polling.
func TestKeepAndRefresh(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(map[bool]string{false: "events", true: "polling"}[poll], func(t *testing.T) {
			top := t.TempDir()
			root := filepath.Join(top, "app")
			h := &harness{t: t, root: root}
			h.write(".gitignore", "gen/\n")
			h.write("gen/db.go", "package gen")
			h.write("main.go", "package main")
			lib := &harness{t: t, root: filepath.Join(top, "lib")}
			lib.write("lib.go", "package lib")
			var keepGen atomic.Bool
			keep := func(rel string) bool { return keepGen.Load() && (rel == "gen" || strings.HasPrefix(rel, "gen/")) }
			w, err := New(Options{Root: root, GitIgnore: true, Poll: poll, PollInterval: 20e6, Filter: FilterOptions{Keep: keep}})
			if err != nil {
				t.Fatal(err)
			}
			h = run(t, root, w)
			h.sync()
			h.write("gen/db.go", "package gen // 1")
			if got := paths(h.sync()); len(got) != 0 {
				t.Fatalf("before Keep names it, an ignored file was reported: %v", got)
			}
			keepGen.Store(true)
			w.Refresh(filepath.Join(top, "lib"))
			h.sync()
			h.write("gen/db.go", "package gen // 2")
			lib.write("lib.go", "package lib // edited")
			got := paths(h.sync())
			if strings.Join(got, " ") != "../lib/lib.go gen/db.go" {
				t.Errorf("reported %v, want the kept file and the added directory's file", got)
			}
		})
	}
}
