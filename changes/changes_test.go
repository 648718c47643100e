package changes

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/devrun/devrun/graph"
	"github.com/devrun/devrun/runner"
	"github.com/devrun/devrun/watcher"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// harness runs a Pipeline on a module and says what each batch triggers.
type harness struct {
	t        *testing.T
	p        *Pipeline
	batches  chan watcher.Batch
	triggers chan runner.Trigger
}

func start(t *testing.T, dir string) *harness {
	p, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Load(context.Background(), graph.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, p: p, batches: make(chan watcher.Batch), triggers: make(chan runner.Trigger, 8)}
	go p.Run(ctx, h.batches, h.triggers)
	return h
}

// send hands a batch over and returns the trigger it made, if any: the
// batch after it, a barrier that always triggers, says when it is none.
func (h *harness) send(paths ...string) *runner.Trigger {
	h.t.Helper()
	now := time.Now()
	h.batches <- watcher.Batch{Paths: paths, First: now, Sent: now}
	write(h.t, h.p.dir, "barrier.go", "package main\n\n// "+now.String()+"\n")
	h.batches <- watcher.Batch{Paths: []string{"barrier.go"}, First: now, Sent: now}
	var got *runner.Trigger
	for {
		select {
		case tr := <-h.triggers:
			if len(tr.Paths) == 1 && tr.Paths[0] == "barrier.go" {
				return got
			}
			got = &tr
		case <-time.After(30 * time.Second):
			h.t.Fatal("no trigger for the barrier")
		}
	}
}

func module(t *testing.T) string {
	dir := t.TempDir()
	write(t, dir, "go.mod", "module example.com/app\n\ngo 1.22\n")
	write(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	write(t, dir, "barrier.go", "package main\n")
	write(t, dir, "web/app.ts", "let x = 1")
	return dir
}

// A change to what the build reads triggers a build; the same content
// saved again, and a file the build does not read, trigger nothing.
func TestWhatTriggers(t *testing.T) {
	dir := module(t)
	h := start(t, dir)
	write(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	if tr := h.send("main.go"); tr != nil {
		t.Errorf("the same content triggered %+v", tr)
	}
	write(t, dir, "web/app.ts", "let x = 2")
	if tr := h.send("web/app.ts"); tr != nil {
		t.Errorf("a file the build does not read triggered %+v", tr)
	}
	write(t, dir, "main.go", "package main\n\nfunc main() { println() }\n")
	if tr := h.send("main.go"); tr == nil || tr.Restart {
		t.Errorf("an edit triggered %+v, want a build", tr)
	}
}

// While a step runs, batches are held; what changed meanwhile in what the
// build reads (what the step wrote) is recorded at Release, and then
// triggers nothing: it joins the step's cycle.
func TestWhatAStepWritesJoinsItsCycle(t *testing.T) {
	dir := module(t)
	h := start(t, dir)
	h.p.Hold()
	since := time.Now()
	write(t, dir, "main_gen.go", "package main\n\nconst generated = 1\n")
	write(t, dir, "main.go", "package main\n\nfunc main() { println(generated) }\n")
	now := time.Now()
	h.batches <- watcher.Batch{Paths: []string{"main.go", "main_gen.go"}, First: now, Sent: now}
	h.p.Release(since)
	if tr := h.send(); tr != nil {
		t.Errorf("what a step wrote started another cycle: %+v", tr)
	}
}
