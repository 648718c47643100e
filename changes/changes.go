// Package changes turns the watcher's batches into the supervisor's
// triggers. For each changed path it asks the build graph and the rules
// (package rules) what the change does, drops the changes that change
// nothing (the same content saved again), keeps the graph up to date (a
// change of imports, embeds, build constraints, go.mod or go.work loads it
// again, off the edit-to-serve path), and holds back what generators write
// while they run, so that it joins their cycle instead of starting another.
//
// A Pipeline is made by New, started by Start, and run by Run in one
// goroutine; Keep, Hold, Release and Decide are safe for concurrent use.
package changes

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devrun/devrun/graph"
	"github.com/devrun/devrun/rules"
	"github.com/devrun/devrun/runner"
	"github.com/devrun/devrun/watcher"
)

// Options configures a Pipeline.
type Options struct {
	Dir     string // the project directory, which the watcher's paths are relative to
	NoGraph bool   // every change not ignored rebuilds, as without a graph
	Rules   []rules.Rule
	Steps   []rules.Step
	EnvFile string // the app's .env file: a change restarts the app
	// Settle is how long the watcher may take to report a write (its
	// max_wait and a margin): a file new to a graph loaded again that was
	// written more recently is not taken as what the build read until its
	// own change is decided. Default 1 s.
	Settle time.Duration
	// QuietIgnored says a change that does nothing at debug level only:
	// with several services, the caller says it once for all of them.
	QuietIgnored bool
	// Reload is told of changes a rule says the app serves from disk
	// (rules.Reload) when nothing else in their batch builds or restarts
	// the app (which reloads the pages anyway); nil when no proxy runs.
	// Called from Run's goroutine; it must not block.
	Reload func(paths []string)
	Log    *slog.Logger
}

// A Pipeline decides what changes do; see the package's doc.
type Pipeline struct {
	opts     Options
	dir      string
	decider  *rules.Decider
	contents *rules.Contents
	state    atomic.Pointer[state]
	watch    func(paths ...string)
	build    graph.Options // the build the graph is of
	reload   chan struct{} // asks the refresher for a new graph (coalesced)
	made     time.Time     // when New made the Pipeline, before the first build

	mu       sync.Mutex
	held     bool
	pending  []watcher.Batch
	released chan struct{}
}

// state is one graph and what is derived from it.
type state struct {
	g    *graph.Graph
	keep map[string]bool // the graph's directories, and those above them up to a root
}

// New checks opts and returns a Pipeline.
func New(opts Options) (*Pipeline, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.EnvFile != "" {
		if opts.EnvFile, err = filepath.Abs(opts.EnvFile); err != nil {
			return nil, err
		}
	}
	if opts.Settle <= 0 {
		opts.Settle = time.Second
	}
	p := &Pipeline{opts: opts, dir: dir, made: time.Now(), contents: rules.NewContents(), reload: make(chan struct{}, 1), released: make(chan struct{}, 1)}
	p.decider, err = rules.New(dir, p.graph, opts.Rules, opts.Steps)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// graph returns the current graph, or nil while there is none.
func (p *Pipeline) graph() *graph.Graph {
	if s := p.state.Load(); s != nil {
		return s.g
	}
	return nil
}

// Graph returns the current build graph, or nil while none is known.
func (p *Pipeline) Graph() *graph.Graph { return p.graph() }

// SetIgnored has Decide say when a file the build reads is one the
// watcher's ignore rules would leave out (ignored reports that, for a path
// relative to the project).
func (p *Pipeline) SetIgnored(ignored func(rel string) bool) { p.decider.Ignored = ignored }

// Decide says what a change to path (absolute, or relative to the project)
// would do, and why.
func (p *Pipeline) Decide(path string) rules.Decision { return p.decider.Decide(path) }

// Keep reports whether the watcher must watch or report rel (relative to
// the project) whatever its ignore rules say: the build reads it, or it
// leads to what the build reads.
func (p *Pipeline) Keep(rel string) bool {
	s := p.state.Load()
	if s == nil {
		return false
	}
	abs := filepath.Join(p.dir, filepath.FromSlash(rel))
	if _, ok := s.g.Files[abs]; ok {
		return true
	}
	return s.keep[abs]
}

// Load loads the graph of build now, and records what its files hold. It
// is what Start does first, for callers that need the graph at once
// (devrun why).
func (p *Pipeline) Load(ctx context.Context, build graph.Options) error {
	p.build = build
	begin := time.Now()
	g, err := graph.Load(ctx, build)
	if err != nil {
		return err
	}
	p.set(g, begin)
	return nil
}

// Start loads the graph of build in the background, then has the watcher
// watch what the build reads outside the tree (watch is the watcher's
// Refresh), and loads the graph again whenever a change may have changed
// it, until ctx is done. Until the first graph is loaded, every change
// rebuilds. Call it once, before Run.
func (p *Pipeline) Start(ctx context.Context, build graph.Options, watch func(paths ...string)) {
	p.watch, p.build = watch, build
	if p.opts.NoGraph {
		return
	}
	p.reload <- struct{}{}
	go p.refresher(ctx)
}

func (p *Pipeline) refresher(ctx context.Context) {
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.reload:
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		begin := time.Now()
		g, err := graph.Load(lctx, p.build)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if first {
				p.opts.Log.Warn(oneLine(err.Error()) + "; every change rebuilds until it loads")
			} else {
				p.opts.Log.Warn(oneLine(err.Error()) + "; keeping the previous build graph")
			}
			continue
		}
		old := p.graph()
		n := p.set(g, begin)
		switch {
		case first:
			p.opts.Log.Info(fmt.Sprintf("build graph: %s, %s on this disk, in %s (go list %s, %d files read)",
				plural(len(g.Dirs), "package"), plural(len(g.Files), "file"), rootsText(p.dir, g.Roots), ms(g.Took), n))
		case old == nil || len(old.Dirs) != len(g.Dirs) || len(old.Files) != len(g.Files):
			p.opts.Log.Info(fmt.Sprintf("build graph loaded again: %s, %s (go list %s)", plural(len(g.Dirs), "package"), plural(len(g.Files), "file"), ms(g.Took)))
		}
		first = false
		if p.watch != nil {
			p.watch(g.Roots...)
		}
	}
}

// set makes g the graph, loaded from begin on, and records what its new
// files hold, as what the build read: for the first graph, those written
// before the Pipeline was made (the first build started after that); for
// a later one, those written long enough before begin that their change,
// if any, has been decided already (Settle). A file written later is
// recorded when its own change is decided, and counts as changed then: a
// change is never taken for "the same content" because the graph read
// the file after an edit the build may not have seen. It returns how
// many files it read.
func (p *Pipeline) set(g *graph.Graph, begin time.Time) int {
	keep := map[string]bool{}
	mark := func(d string) {
		for !keep[d] && (within(d, p.dir) || underAny(d, g.Roots)) {
			keep[d] = true
			if d == p.dir || d == filepath.Dir(d) {
				break
			}
			d = filepath.Dir(d)
		}
	}
	for d := range g.Dirs {
		mark(d)
	}
	for d := range g.EmbedDirs {
		mark(d)
	}
	cut := begin.Add(-p.opts.Settle)
	if p.graph() == nil {
		// A file's time is the kernel's coarse clock, never ahead: what
		// has an earlier time was written before the first build started.
		cut = p.made
	}
	var fresh []string
	consider := func(f string) {
		if p.contents.Known(f) {
			return
		}
		if fi, err := os.Stat(f); err == nil && fi.ModTime().Before(cut) {
			fresh = append(fresh, f)
		}
	}
	for f := range g.Files {
		consider(f)
	}
	if p.opts.EnvFile != "" {
		consider(p.opts.EnvFile)
	}
	n, _ := p.contents.Record(fresh...)
	p.state.Store(&state{g: g, keep: keep})
	return n
}

// requestReload asks for the graph to be loaded again.
func (p *Pipeline) requestReload() {
	if p.opts.NoGraph {
		return
	}
	select {
	case p.reload <- struct{}{}:
	default: // one is asked for already
	}
}

// Hold holds back the batches that arrive from now on: a step runs, and
// what it writes is to join its cycle.
func (p *Pipeline) Hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Release ends a Hold: it records what the files the build reads hold now
// when they changed since since (what the steps wrote, and the user's
// edits meanwhile, which the build that follows reads too), then lets Run
// decide the batches held back, of which those are no change any more.
func (p *Pipeline) Release(since time.Time) {
	p.recordSince(since.Add(-50 * time.Millisecond)) // the kernel's clock for files is coarse
	p.mu.Lock()
	p.held = false
	p.mu.Unlock()
	select {
	case p.released <- struct{}{}:
	default:
	}
}

// recordSince records the graph's files, and the files of its package and
// embedded directories, modified since t: generated files new to the
// graph among them. Without a graph (watch.graph false, or the first
// still loading), it records every file under the project modified since
// t, but for the directories the watcher never watches.
func (p *Pipeline) recordSince(t time.Time) {
	g := p.graph()
	if g == nil {
		p.contents.Record(modifiedSince(p.dir, t)...)
		return
	}
	var changed []string
	seen := map[string]bool{}
	consider := func(f string) {
		if seen[f] {
			return
		}
		seen[f] = true
		if fi, err := os.Stat(f); err == nil && !fi.ModTime().Before(t) {
			changed = append(changed, f)
		}
	}
	for f := range g.Files {
		consider(f)
	}
	for _, dirs := range []map[string]string{g.Dirs, g.EmbedDirs} {
		for d := range dirs {
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				if !e.IsDir() {
					consider(filepath.Join(d, e.Name()))
				}
			}
		}
	}
	p.contents.Record(changed...)
	if len(changed) > 0 {
		p.requestReload() // a generated file may be new to the graph
	}
}

// Run hands a Trigger to triggers for each batch that changes what the app
// is or reads, until batches is closed or ctx is done. triggers is not
// closed.
func (p *Pipeline) Run(ctx context.Context, batches <-chan watcher.Batch, triggers chan<- runner.Trigger) {
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-batches:
			if !ok {
				return
			}
			p.mu.Lock()
			if p.held {
				p.pending = append(p.pending, b)
				p.mu.Unlock()
				continue
			}
			p.mu.Unlock()
			p.handle(ctx, b, triggers)
		case <-p.released:
			p.mu.Lock()
			pending := p.pending
			p.pending = nil
			p.mu.Unlock()
			for _, b := range pending {
				p.handle(ctx, b, triggers)
			}
		}
	}
}

// handle decides one batch, and sends what it asks for.
func (p *Pipeline) handle(ctx context.Context, b watcher.Batch, triggers chan<- runner.Trigger) {
	var build, restart, ignored, same, served []string
	var steps []string
	reload := false
	for _, rel := range b.Paths {
		if rel == "." { // the kernel dropped events: anything may have changed
			build = append(build, rel)
			reload = true
			continue
		}
		abs := filepath.Join(p.dir, filepath.FromSlash(rel))
		if abs == p.opts.EnvFile {
			if p.contents.Compare(abs).Content {
				if _, err := runner.ReadEnvFile(abs); err != nil {
					// The running app keeps its values until the file reads.
					p.opts.Log.Error("run.env_file: " + err.Error() + "; the app keeps running with the values it has")
					continue
				}
				restart = append(restart, rel)
			} else {
				same = append(same, rel)
			}
			continue
		}
		d := p.decider.Decide(abs)
		if d.Action == rules.Ignore && !d.Refresh {
			ignored = append(ignored, rel)
			continue
		}
		ch := p.contents.Compare(abs)
		if !ch.Content {
			same = append(same, rel)
			continue
		}
		if d.Refresh && (ch.Header || !strings.HasSuffix(abs, ".go")) {
			if d.Action == rules.Ignore {
				// A file the constraints left out whose constraints changed:
				// the new graph says whether the build reads it now.
				if err := p.Load(ctx, p.build); err == nil {
					d = p.decider.Decide(abs)
				}
			} else {
				reload = true
			}
		}
		switch d.Action {
		case rules.Rebuild:
			build = append(build, rel)
			for _, s := range d.Steps {
				if !contains(steps, s) {
					steps = append(steps, s)
				}
			}
		case rules.Restart:
			restart = append(restart, rel)
		case rules.Reload:
			served = append(served, rel)
		default:
			ignored = append(ignored, rel)
		}
	}
	if reload {
		p.requestReload()
	}
	var t *runner.Trigger
	switch {
	case len(build) > 0:
		t = &runner.Trigger{Paths: append(build, restart...), Steps: steps}
	case len(restart) > 0:
		t = &runner.Trigger{Paths: restart, Restart: true}
	case len(served) > 0 && p.opts.Reload != nil:
		p.opts.Log.Info(describe(served) + ": pages reload")
		p.opts.Reload(served)
		return
	case len(served) > 0:
		p.opts.Log.Info(describe(served) + ": a rule says reload, and no proxy reloads pages (proxy.listen, proxy.reload): nothing to do")
		return
	case len(ignored) > 0:
		msg := describe(ignored) + ": not read by the build, no rule: nothing to do (devrun why " + quoteArg(ignored[0]) + ")"
		if p.opts.QuietIgnored {
			p.opts.Log.Debug(msg)
		} else {
			p.opts.Log.Info(msg)
		}
		return
	default:
		if len(same) > 0 {
			p.opts.Log.Debug(describe(same) + ": the same content: nothing to do")
		}
		return
	}
	t.First, t.Sent = b.First, b.Sent
	select {
	case triggers <- *t:
	case <-ctx.Done():
	}
}

// modifiedSince returns the files under dir modified since t, leaving out
// .git, vendor, node_modules and hidden directories, which the watcher
// never watches either.
func modifiedSince(dir string, t time.Time) []string {
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && (strings.HasPrefix(name, ".") || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil && !fi.ModTime().Before(t) {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// plural says n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func describe(paths []string) string {
	if len(paths) == 1 {
		return paths[0] + " changed"
	}
	return fmt.Sprintf("%s and %d more changed", paths[0], len(paths)-1)
}

func quoteArg(s string) string {
	if strings.ContainsAny(s, " '\"\\$*?") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if within(path, d) {
			return true
		}
	}
	return false
}

func rootsText(dir string, roots []string) string {
	parts := make([]string, len(roots))
	for i, r := range roots {
		if rel, err := filepath.Rel(dir, r); err == nil {
			parts[i] = filepath.ToSlash(rel)
		} else {
			parts[i] = r
		}
	}
	return strings.Join(parts, ", ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	}
	return d.Round(10 * time.Millisecond).String()
}
