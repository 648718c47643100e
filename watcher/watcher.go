// Package watcher reports debounced batches of changed files under a directory
// tree.
//
// fsnotify watches single directories, not trees, so a Watcher adds a watch for
// every directory it walks and for every directory created later, and drops the
// watches of removed ones. Editors save by writing a temporary file and renaming
// it over the original, and tools change many files at once, so events are
// gathered into a Batch that is sent once the tree has been quiet for a short
// while. Where the kernel delivers no events (some network and container
// filesystems), or its watch limit is reached, the Watcher polls instead.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configures a Watcher. The zero value of each field has a usable default.
type Options struct {
	// Root is the directory that reported paths are relative to. Default ".".
	Root string
	// Paths are the directories to watch, relative to Root. Default ".".
	Paths []string
	// Filter selects the files and directories watched. Default: the zero FilterOptions.
	Filter FilterOptions
	// GitIgnore makes the patterns of .gitignore files under Root exclude paths too.
	GitIgnore bool
	// Quiet is how long the tree must stay quiet before a batch is sent:
	// 0 is the default, 10ms; a negative value is none, a batch at the
	// first change (and the next changes in batches of their own).
	Quiet time.Duration
	// MaxWait caps how long a batch waits for the tree to go quiet. Default 500ms.
	MaxWait time.Duration
	// Poll scans the tree every PollInterval instead of asking the kernel for events.
	Poll bool
	// PollInterval is the time between two scans when polling. Default 500ms.
	PollInterval time.Duration
	// Probe, when not zero, makes New check that file events arrive: it
	// writes a probe file and waits this long for its event, and polls when
	// none comes (bind mounts of Docker Desktop and WSL2 deliver none).
	Probe time.Duration
	// Own lists files and directories that devrun writes itself (build
	// outputs, PID files, mounts, logs, caches), absolute or relative to
	// the working directory. They are never watched nor reported, with
	// everything below them, wherever they are: inside the tree or not,
	// named directly or through a symbolic link. A change there can never
	// start a build, and so never a cycle of builds.
	Own []string
	// Log receives the Watcher's warnings. Default: discarded.
	Log *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Root == "" {
		o.Root = "."
	}
	if len(o.Paths) == 0 {
		o.Paths = []string{"."}
	}
	switch {
	case o.Quiet == 0:
		o.Quiet = 10 * time.Millisecond
	case o.Quiet < 0:
		o.Quiet = 0
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 500 * time.Millisecond
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// A Watcher watches a tree and sends batches of changes. Create it with New,
// which returns once the tree is being watched, and start it with Run.
// A Watcher is used by one goroutine: New, then Run once.
type Watcher struct {
	opts   Options
	filter *Filter
	fsw    *fsnotify.Watcher // nil when polling
	dirs   map[string]bool   // watched directories, relative to Root
	poll   *poller           // nil unless polling
	// refresh carries Refresh's requests to Run's goroutine.
	refresh chan refresh
}

// A refresh is one call of Refresh.
type refresh struct {
	rels []string
	at   time.Time
}

// New walks the tree and watches every directory that the filter keeps.
// Changes made after New returns are reported by Run. When the OS limit on
// watches is reached, New logs how to raise it and falls back to polling.
func New(opts Options) (*Watcher, error) {
	opts.setDefaults()
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", opts.Root, err)
	}
	opts.Root = root
	opts.Filter.Own = append(opts.Filter.Own, ownPaths(root, opts.Own)...)
	filter, err := NewFilter(opts.Filter)
	if err != nil {
		return nil, err
	}
	w := &Watcher{opts: opts, filter: filter, dirs: map[string]bool{}, refresh: make(chan refresh, 16)}
	if !opts.Poll {
		err = w.watchEvents()
		if err == nil && opts.Probe > 0 && !probeEvents(w, opts.Probe) {
			w.opts.Log.Warn(fmt.Sprintf("file events do not arrive from %s (a bind mount of Docker Desktop or WSL2?); polling every %s instead", root, opts.PollInterval))
			w.close()
			w.fsw, w.dirs = nil, map[string]bool{}
			w.poll = newPoller(w)
			return w, nil
		}
		if err == nil {
			return w, nil
		}
		if !isLimit(err) {
			w.close()
			return nil, err
		}
		w.opts.Log.Warn(err.Error() + "; polling the tree every " + opts.PollInterval.String() + " instead")
		w.close()
		w.fsw, w.dirs = nil, map[string]bool{}
	}
	w.poll = newPoller(w)
	return w, nil
}

// ownPaths returns the paths in own relative to root, as the tree is
// walked: each as named and as its symbolic links resolve, against root as
// named and as resolved (/tmp is /private/tmp on macOS).
func ownPaths(root string, own []string) []string {
	roots := []string{root}
	if r, err := filepath.EvalSymlinks(root); err == nil && r != root {
		roots = append(roots, r)
	}
	var rels []string
	for _, o := range own {
		abs, err := filepath.Abs(o)
		if err != nil {
			continue
		}
		targets := []string{abs}
		if r, err := filepath.EvalSymlinks(abs); err == nil && r != abs {
			targets = append(targets, r)
		}
		for _, t := range targets {
			for _, r := range roots {
				if rel, err := filepath.Rel(r, t); err == nil && !above(rel) {
					rels = append(rels, filepath.ToSlash(rel))
				}
			}
		}
	}
	return rels
}

// above reports whether the relative path rel names the root or a
// directory above it, which holds the whole tree and cannot be left out.
func above(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part != ".." && part != "." {
			return false
		}
	}
	return true
}

// Refresh has Run watch paths too (absolute, or relative to the working
// directory; inside the tree or not, such as a module that a replace
// directive names), and ask the filter again about every directory, whose
// Keep may say otherwise now. Files already there are not reported. It is
// safe to call from any goroutine, before or while Run runs.
func (w *Watcher) Refresh(paths ...string) {
	var rels []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(w.opts.Root, abs); err == nil {
			rels = append(rels, filepath.ToSlash(rel))
		}
	}
	w.refresh <- refresh{rels, time.Now()}
}

// addPaths adds the new ones of rels to the watched paths, and watches
// the tree again. It runs in Run's goroutine.
func (w *Watcher) addPaths(rels []string, at time.Time) {
	for _, r := range rels {
		r = path.Clean(r)
		covered := false
		for _, p := range w.opts.Paths {
			p = path.Clean(filepath.ToSlash(p))
			if p == r || p == "." && !strings.HasPrefix(r, "../") || strings.HasPrefix(r, p+"/") {
				covered = true
			}
		}
		if !covered {
			w.opts.Paths = append(w.opts.Paths, r)
		}
	}
	if w.poll != nil {
		w.poll.refilter()
		// What was there at the call is no change. The kernel stamps files
		// with a coarse clock, a few milliseconds behind: a file written
		// just after the call may look older than it.
		w.poll.quietBefore = at.Add(-50 * time.Millisecond)
		return
	}
	w.rescan()
}

// Polling reports whether the Watcher scans the tree instead of receiving events.
func (w *Watcher) Polling() bool { return w.poll != nil }

func (w *Watcher) watchEvents() error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return withLimitHint(fmt.Errorf("starting the file watcher: %w", err))
	}
	w.fsw = fsw
	for _, p := range w.opts.Paths {
		if err := w.walk(path.Clean(filepath.ToSlash(p)), w.addDir, nil); err != nil {
			return err
		}
	}
	return nil
}

// addWatch adds a watch; tests replace it to hit OS limits.
var addWatch = (*fsnotify.Watcher).Add

func (w *Watcher) addDir(rel string) error {
	if err := addWatch(w.fsw, w.abs(rel)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		return withLimitHint(fmt.Errorf("watching %s: %w", rel, err))
	}
	w.dirs[rel] = true
	return nil
}

// walk visits the tree below rel, calling dir for each directory kept by the
// filter and file (when not nil) for each file kept. Unreadable directories are
// logged and skipped.
func (w *Watcher) walk(rel string, dir func(rel string) error, file func(rel string, info fs.DirEntry)) error {
	return filepath.WalkDir(w.abs(rel), func(p string, d fs.DirEntry, err error) error {
		r := w.rel(p)
		if err != nil {
			if r == rel && errors.Is(err, fs.ErrNotExist) && rel != "." {
				return nil
			}
			w.opts.Log.Warn("skipping unreadable path", "path", r, "err", err)
			return nil
		}
		if !d.IsDir() {
			if file != nil && !w.filter.SkipFile(r) {
				file(r, d)
			}
			return nil
		}
		if w.filter.SkipDir(r) {
			return filepath.SkipDir
		}
		if w.opts.GitIgnore {
			if err := w.filter.LoadGitignore(w.opts.Root, r); err != nil {
				w.opts.Log.Warn("ignoring a .gitignore", "dir", r, "err", err)
			}
		}
		return dir(r)
	})
}

func (w *Watcher) exists(rel string) bool {
	_, err := os.Lstat(w.abs(rel))
	return err == nil
}

func (w *Watcher) abs(rel string) string { return filepath.Join(w.opts.Root, filepath.FromSlash(rel)) }

func (w *Watcher) rel(p string) string {
	r, err := filepath.Rel(w.opts.Root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

func (w *Watcher) close() {
	if w.fsw != nil {
		w.fsw.Close()
	}
}

// Run sends a Batch on out for each burst of changes until ctx is done, then
// closes out and returns. It never blocks on out: changes seen while the
// receiver is busy are merged into the batch waiting to be received. It has
// no error to return: the kernel's errors are logged (a dropped event
// queue also makes it watch the tree again and send "."), and the watcher
// goes on.
func (w *Watcher) Run(ctx context.Context, out chan<- Batch) {
	defer close(out)
	defer w.close()
	b := newBatcher(w.opts.Quiet, w.opts.MaxWait)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	var tick <-chan time.Time
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	} else {
		t := time.NewTicker(w.opts.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	var ready *Batch // a batch waiting for the receiver
	for {
		var send chan<- Batch
		var head Batch
		if ready != nil {
			send, head = out, *ready
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			w.handle(ev, b)
		case err, ok := <-errs:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.opts.Log.Warn("the kernel dropped file events (more changes at once than " +
					"the sysctl fs.inotify.max_queued_events allows); rescanning the tree and rebuilding")
				w.rescan()
				b.add(".", time.Now(), false)
			} else {
				w.opts.Log.Warn("file watcher", "err", err)
			}
		case <-tick:
			w.poll.scan(func(rel string) { b.add(rel, time.Now(), false) })
		case r := <-w.refresh:
			w.addPaths(r.rels, r.at)
		case <-timer.C:
			if batch := b.take(time.Now(), w.exists); len(batch.Paths) > 0 {
				ready = merge(ready, batch)
			}
		case send <- head:
			ready = nil
		}
		if b.pending() {
			timer.Reset(time.Until(b.due()))
		}
	}
}

func merge(ready *Batch, b Batch) *Batch {
	if ready == nil {
		return &b
	}
	set := map[string]struct{}{}
	for _, p := range append(ready.Paths, b.Paths...) {
		set[p] = struct{}{}
	}
	ready.Paths = sortedKeys(set)
	ready.Sent = b.Sent
	return ready
}

// handle records what one fsnotify event means for the batch.
func (w *Watcher) handle(ev fsnotify.Event, b *batcher) {
	if ev.Op == fsnotify.Chmod {
		return // editors and tools touch modes and times; the content is unchanged
	}
	now := time.Now()
	rel := w.rel(ev.Name)
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			w.addTree(rel, b, now)
			return
		}
	}
	if w.dirs[rel] && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		w.dropTree(rel)
		b.add(rel, now, false)
		return
	}
	if w.opts.GitIgnore && path.Base(rel) == ".gitignore" {
		if err := w.filter.LoadGitignore(w.opts.Root, path.Dir(rel)); err != nil {
			w.opts.Log.Warn("ignoring a .gitignore", "path", rel, "err", err)
		}
	}
	if !w.filter.SkipFile(rel) {
		b.add(rel, now, ev.Has(fsnotify.Create))
	}
}

// addTree watches a directory that appeared, with everything below it, and
// records the files already in it: they were written before its watch existed.
func (w *Watcher) addTree(rel string, b *batcher, now time.Time) {
	if w.filter.SkipDir(rel) {
		return
	}
	err := w.walk(rel, w.addDir, func(r string, _ fs.DirEntry) { b.add(r, now, false) })
	if err != nil {
		w.opts.Log.Warn(err.Error())
	}
}

// rescan brings the watches up to date after the kernel dropped events, the
// creations and removals of directories among them. Every directory is
// watched again: one removed and created anew needs a new watch.
func (w *Watcher) rescan() {
	for d := range w.dirs {
		if !w.exists(d) {
			w.dropTree(d)
		}
	}
	// A directory that cannot be watched (the watch limit reached, say)
	// does not keep the others from being watched.
	var failed error
	add := func(rel string) error {
		if err := w.addDir(rel); err != nil && failed == nil {
			failed = err
		}
		return nil
	}
	for _, p := range w.opts.Paths {
		w.walk(path.Clean(filepath.ToSlash(p)), add, nil)
	}
	if failed != nil {
		w.opts.Log.Warn(failed.Error() + "; changes there are not seen")
	}
}

// dropTree forgets a removed directory and everything below it. The kernel has
// already dropped their watches.
func (w *Watcher) dropTree(rel string) {
	for d := range w.dirs {
		if d == rel || (len(d) > len(rel) && d[:len(rel)+1] == rel+"/") {
			_ = w.fsw.Remove(w.abs(d))
			delete(w.dirs, d)
		}
	}
}

// probeEvents checks that events arrive: tests replace it to suppress them.
var probeEvents = (*Watcher).eventsArrive

// eventsArrive writes a probe file in the first watched path and waits up
// to timeout for its event. Other events seen meanwhile are dropped: New
// has not returned yet, so nothing is being edited that devrun must see.
func (w *Watcher) eventsArrive(timeout time.Duration) bool {
	name := filepath.Join(w.abs(w.opts.Paths[0]), fmt.Sprintf(".devrun-probe-%d", os.Getpid()))
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		return true // cannot tell: trust the events
	}
	defer os.Remove(name)
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return false
			}
			if ev.Name == name {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
