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
	return startWith(t, Options{Dir: dir})
}

// startWith runs a Pipeline made with opts, with its graph loaded unless
// opts.NoGraph.
func startWith(t *testing.T, opts Options) *harness {
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := opts.Dir
	if !opts.NoGraph {
		if err := p.Load(context.Background(), graph.Options{Dir: dir}); err != nil {
			t.Fatal(err)
		}
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

// Without a graph (watch.graph false, or the first one still loading when
// the steps at start end), what a step wrote is recorded all the same: it
// never starts another cycle.
func TestWhatAStepWritesJoinsItsCycleWithoutAGraph(t *testing.T) {
	dir := module(t)
	h := startWith(t, Options{Dir: dir, NoGraph: true})
	h.p.Hold()
	since := time.Now()
	write(t, dir, "page_templ.go", "package main\n\nconst generated = 1\n")
	write(t, dir, "web/dist/app.js", "let y = 1")
	now := time.Now()
	h.batches <- watcher.Batch{Paths: []string{"page_templ.go", "web/dist/app.js"}, First: now, Sent: now}
	h.p.Release(since)
	if tr := h.send(); tr != nil {
		t.Errorf("what a step wrote started another cycle: %+v", tr)
	}
	write(t, dir, "page_templ.go", "package main\n\nconst generated = 2\n")
	if tr := h.send("page_templ.go"); tr == nil {
		t.Errorf("an edit after the step triggered nothing")
	}
}

// The first graph, loaded beside the first build, is not taken as what
// that build read for a file written after the build started: an edit
// that lands while the graph loads is built, never "the same content".
func TestAnEditWhileTheFirstGraphLoadsIsBuilt(t *testing.T) {
	dir := module(t)
	p, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The first build starts now and reads main.go; the user saves it
	// before the graph has loaded, once the files' clock (coarse, a tick
	// behind) has passed the start.
	waitFileClock(t, dir, p.made)
	write(t, dir, "main.go", "package main\n\nfunc main() { println(1) }\n")
	if err := p.Load(context.Background(), graph.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, p: p, batches: make(chan watcher.Batch), triggers: make(chan runner.Trigger, 8)}
	go p.Run(ctx, h.batches, h.triggers)
	if tr := h.send("main.go"); tr == nil || tr.Restart {
		t.Errorf("an edit made while the first graph loaded triggered %+v, want a build", tr)
	}
	if tr := h.send("go.mod"); tr != nil {
		t.Errorf("go.mod, written before the first build and not changed since, triggered %+v", tr)
	}
}

// waitFileClock returns once a file written in dir gets a time after t.
func waitFileClock(t *testing.T, dir string, t0 time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		write(t, dir, ".clock", "")
		if fi, err := os.Stat(filepath.Join(dir, ".clock")); err == nil && fi.ModTime().After(t0) {
			os.Remove(filepath.Join(dir, ".clock"))
			return
		}
	}
	t.Fatal("the files' clock never passed", t0)
}
