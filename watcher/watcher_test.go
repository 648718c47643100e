package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/devrun/devrun/internal/syncbuf"
	"github.com/devrun/devrun/internal/tmpfs"
)

// harness runs a Watcher over a temporary tree.
type harness struct {
	t       *testing.T
	root    string
	batches chan Batch
	n       int
}

func start(t *testing.T, root string, opts Options) *harness {
	t.Helper()
	opts.Root = root
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, root, w)
}

// run runs w, which watches root.
func run(t *testing.T, root string, w *Watcher) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	done := make(chan struct{})
	go func() { w.Run(ctx, out); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &harness{t: t, root: root, batches: out}
}

func (h *harness) write(rel, content string) {
	h.t.Helper()
	p := filepath.Join(h.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// sync writes a barrier file and returns every batch received up to the one
// that holds it, without the barrier itself. Events written before the
// barrier are delivered before its own, so no sleep is needed.
func (h *harness) sync() []Batch {
	h.t.Helper()
	h.n++
	name := fmt.Sprintf("barrier-%d", h.n)
	h.write(name, "")
	var got []Batch
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-h.batches:
			i := slices.Index(b.Paths, name)
			if i >= 0 {
				b.Paths = slices.Delete(b.Paths, i, i+1)
			}
			if len(b.Paths) > 0 {
				got = append(got, b)
			}
			if i >= 0 {
				return got
			}
		case <-deadline:
			h.t.Fatalf("no batch with %s after 10s; got %v", name, got)
		}
	}
}

func paths(batches []Batch) []string {
	var all []string
	for _, b := range batches {
		all = append(all, b.Paths...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

func TestReportsEditsCreatesAndRemoves(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, root: root}
	h.write("main.go", "package main")
	h.write("pkg/a.go", "package pkg")
	h = start(t, root, Options{})
	h.sync() // the watcher is up

	h.write("main.go", "package main // edited")
	h.write("pkg/a.go", "package pkg // edited")
	if got, want := paths(h.sync()), []string{"main.go", "pkg/a.go"}; !slices.Equal(got, want) {
		t.Errorf("after edits: got %v, want %v", got, want)
	}

	if err := os.Remove(filepath.Join(root, "pkg/a.go")); err != nil {
		t.Fatal(err)
	}
	if got, want := paths(h.sync()), []string{"pkg/a.go"}; !slices.Equal(got, want) {
		t.Errorf("after remove: got %v, want %v", got, want)
	}
}

func TestWatchesNewAndRecreatedDirectories(t *testing.T) {
	root := t.TempDir()
	h := start(t, root, Options{})
	h.sync()

	h.write("new/deep/x.go", "package deep")
	if got := paths(h.sync()); !slices.Contains(got, "new/deep/x.go") {
		t.Errorf("file in a new directory: got %v", got)
	}
	h.write("new/deep/y.go", "package deep")
	if got, want := paths(h.sync()), []string{"new/deep/y.go"}; !slices.Equal(got, want) {
		t.Errorf("file added to the new directory later: got %v, want %v", got, want)
	}

	// A branch switch removes a directory and creates it again.
	if err := os.RemoveAll(filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	if got := paths(h.sync()); !slices.Contains(got, "new") {
		t.Errorf("removed directory: got %v, want it reported", got)
	}
	h.write("new/deep/z.go", "package deep")
	h.sync()
	h.write("new/deep/z.go", "package deep // edited")
	if got, want := paths(h.sync()), []string{"new/deep/z.go"}; !slices.Equal(got, want) {
		t.Errorf("edit in a recreated directory: got %v, want %v", got, want)
	}
}

func TestIgnoresDefaultsAndGitignore(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, root: root}
	h.write(".gitignore", "/dist\n*.log\ngen/\n!keep.log\n")
	for _, d := range []string{".git", "vendor/x", "node_modules/y", ".idea", "dist", "sub/gen"} {
		h.write(d+"/f.go", "")
	}
	h = start(t, root, Options{GitIgnore: true, Filter: FilterOptions{Exclude: []string{"out/**", "**/*.pb.go"}}})
	h.sync()

	ignored := []string{
		".git/f.go", "vendor/x/f.go", "node_modules/y/f.go", ".idea/f.go", "dist/f.go", "sub/gen/f.go",
		"4913", ".main.go.swp", "main.go~", ".#main.go", "main.go___jb_tmp___", "x-go-tmp-umask",
		"main_test.go", "debug.log", "sub/trace.log", "out/a", "api/x.pb.go", "newdir/.hidden/f.go",
	}
	for _, p := range ignored {
		h.write(p, "x")
	}
	h.write("keep.log", "x")
	if got, want := paths(h.sync()), []string{"keep.log"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want only %v", got, want)
	}
}

func TestIncludeLimitsReportedFiles(t *testing.T) {
	root := t.TempDir()
	h := start(t, root, Options{Filter: FilterOptions{Include: []string{"**/*.go", "go.mod", "barrier-*"}, Tests: true}})
	h.sync()
	h.write("a/b.go", "")
	h.write("a/b_test.go", "")
	h.write("README.md", "")
	h.write("go.mod", "")
	if got, want := paths(h.sync()), []string{"a/b.go", "a/b_test.go", "go.mod"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A rename-save, as vim and JetBrains editors do it, reports the saved file once.
func TestRenameSaveIsOneBatch(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, root: root}
	h.write("main.go", "v1")
	h = start(t, root, Options{})
	h.sync()

	h.write("4913", "")
	os.Remove(filepath.Join(root, "4913"))
	h.write("main.go___jb_tmp___", "v2")
	if err := os.Rename(filepath.Join(root, "main.go"), filepath.Join(root, "main.go~")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "main.go___jb_tmp___"), filepath.Join(root, "main.go")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "main.go~"))
	got := h.sync()
	if len(got) != 1 || !slices.Equal(got[0].Paths, []string{"main.go"}) {
		t.Errorf("got %v, want one batch of [main.go]", got)
	}
}

// 500 files written at once arrive as exactly one batch. The quiet period
// is a second: on a loaded machine (CI) the writing test itself may stall
// for longer than the default's 100 ms for a burst, which is not what this
// test is about; the barrier still ends the batch.
func TestBurstIsOneBatch(t *testing.T) {
	root := t.TempDir()
	h := start(t, root, Options{Quiet: time.Second, MaxWait: 5 * time.Second})
	h.sync()
	for i := range 500 {
		h.write(fmt.Sprintf("p%d/f%d.go", i%25, i), "package p")
	}
	// The burst ends with the barrier, so it must come in the barrier's batch.
	got := h.sync()
	if len(got) != 1 || len(got[0].Paths) != 500 {
		n := 0
		for _, b := range got {
			n += len(b.Paths)
		}
		t.Errorf("got %d batches with %d paths, want 1 batch with 500", len(got), n)
	}
}

func TestPollingReportsChanges(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, root: root}
	h.write("main.go", "v1")
	h.write(".git/HEAD", "x")
	h = start(t, root, Options{Poll: true, PollInterval: 20 * time.Millisecond})
	h.write("main.go", "v2 is longer")
	h.write("sub/new.go", "x")
	h.write(".git/HEAD", "y")
	if got, want := paths(h.sync()), []string{"main.go", "sub/new.go"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestBadPatternIsAnError(t *testing.T) {
	_, err := New(Options{Root: t.TempDir(), Filter: FilterOptions{Exclude: []string{"a/[b"}}})
	if err == nil || !strings.Contains(err.Error(), `"a/[b"`) {
		t.Errorf("got %v, want an error naming the pattern", err)
	}
}

func TestBatcherQuietWindowAndCap(t *testing.T) {
	t0 := time.Unix(0, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	b := newBatcher(10*time.Millisecond, 50*time.Millisecond)
	b.add("a", ms(0), false)
	if got := b.due(); !got.Equal(ms(10)) {
		t.Errorf("due after one change = %v, want 10ms", got.Sub(t0))
	}
	for i := 5; i <= 45; i += 5 {
		b.add("b", ms(i), false)
	}
	if got := b.due(); !got.Equal(ms(50)) {
		t.Errorf("due under a steady stream = %v, want the 50ms cap", got.Sub(t0))
	}
	batch := b.take(ms(50), func(string) bool { return true })
	if !slices.Equal(batch.Paths, []string{"a", "b"}) || !batch.First.Equal(ms(0)) || b.pending() {
		t.Errorf("take = %+v, pending %v", batch, b.pending())
	}
}

// sed -i and many editors write a temporary file and rename it over the
// original: only the original is reported.
func TestTransientFilesAreLeftOut(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, root: root}
	h.write("main.go", "v1")
	h = start(t, root, Options{})
	h.sync()
	h.write("sedX1y2Z3", "v2")
	if err := os.Rename(filepath.Join(root, "sedX1y2Z3"), filepath.Join(root, "main.go")); err != nil {
		t.Fatal(err)
	}
	h.write("scratch", "")
	os.Remove(filepath.Join(root, "scratch"))
	if got, want := paths(h.sync()), []string{"main.go"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// When the kernel's watch limit is reached, New says how to raise it and
// polls instead.
func TestWatchLimitFallsBackToPolling(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the hint names Linux's sysctl")
	}
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	orig := addWatch
	t.Cleanup(func() { addWatch = orig })
	n := 0
	addWatch = func(w *fsnotify.Watcher, p string) error {
		if n++; n > 2 {
			return fmt.Errorf("inotify_add_watch: %w", syscall.ENOSPC) // as the kernel says it
		}
		return orig(w, p)
	}
	var log strings.Builder
	opts := Options{Root: root, PollInterval: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&log, nil))}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Polling() {
		t.Error("the watcher does not poll")
	}
	if !strings.Contains(log.String(), "sudo sysctl fs.inotify.max_user_watches=524288") {
		t.Errorf("the log does not say how to raise the limit: %s", log.String())
	}
	h := start(t, root, opts)
	h.write("c/x.go", "x")
	if got := paths(h.sync()); !slices.Contains(got, "c/x.go") {
		t.Errorf("got %v, want c/x.go reported by polling", got)
	}
}

// Where no events arrive (here they are filtered out), the probe notices
// and the watcher polls.
func TestProbeFallsBackToPollingWhenEventsDoNotArrive(t *testing.T) {
	root := t.TempDir()
	var log strings.Builder
	opts := Options{Root: root, Probe: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&log, nil))}
	w, err := New(opts)
	if err != nil || w.Polling() {
		t.Fatalf("with events: New = %v, polling %v", err, w.Polling())
	}
	w.close()
	orig := probeEvents
	t.Cleanup(func() { probeEvents = orig })
	probeEvents = func(w *Watcher, timeout time.Duration) bool {
		for { // the events are filtered out: drain them, never see the probe
			select {
			case <-w.fsw.Events:
			case <-time.After(timeout):
				return false
			}
		}
	}
	h := start(t, root, opts)
	if !strings.Contains(log.String(), "file events do not arrive from") {
		t.Errorf("no warning: %s", log.String())
	}
	h.write("main.go", "x")
	if got := paths(h.sync()); !slices.Contains(got, "main.go") {
		t.Errorf("got %v, want main.go reported by polling", got)
	}
}

// Odd trees: names with spaces, unicode and newlines, a symlink loop, an
// unreadable directory, a file replaced by a directory of the same name.
func TestOddTrees(t *testing.T) {
	root := t.TempDir()
	h := &harness{t: t, root: root}
	h.write("loop/a.go", "")
	if err := os.Symlink("..", filepath.Join(root, "loop", "up")); err != nil {
		t.Fatal(err)
	}
	h.write("locked/x.go", "")
	os.Chmod(filepath.Join(root, "locked"), 0)
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	h.write("thing", "a file for now")
	h = start(t, root, Options{})
	h.sync()

	names := []string{"with space.go", "ünïcödé.go", "new\nline.go"}
	for _, n := range names {
		h.write(n, "x")
	}
	got := paths(h.sync())
	for _, n := range names {
		if !slices.Contains(got, n) {
			t.Errorf("%q not reported: %q", n, got)
		}
	}
	os.Remove(filepath.Join(root, "thing"))
	h.write("thing/inside.go", "x")
	if got := paths(h.sync()); !slices.Contains(got, "thing/inside.go") {
		t.Errorf("a file replaced by a directory: got %q", got)
	}
}

func TestBurstsWaitLonger(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := newBatcher(10*time.Millisecond, time.Second)
	for i := range burstPaths {
		b.add(fmt.Sprint(i), t0, false)
	}
	if got := b.due().Sub(t0); got != burstQuiet {
		t.Errorf("a burst is due after %v, want %v", got, burstQuiet)
	}
}

// A tree of 100,000 files is watched, and a branch switch brings in 100,000
// more, in new directories, while the watcher is busy: the kernel's event
// queue overflows and drops events, new directories' among them. The
// watcher rescans the tree, so that edits everywhere are reported.
func TestHundredThousandFilesAndAnOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200,000 files")
	}
	root, fast := tmpfs.Dir(t, "1g")
	n := 100_000
	if !fast {
		// On a disk, a file costs up to a millisecond to create here: a
		// smaller tree still overflows the kernel's queue (16,384 events).
		n = 20_000
		t.Logf("no tmpfs: %d files instead of 100,000", n)
	}
	writeTree(t, root, "old", n)
	os.Mkdir(filepath.Join(root, "new"), 0o755)
	writeTree(t, root, "recreated", 100)
	log := &syncbuf.Buffer{}
	w, err := New(Options{Root: root, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing reads the events yet: rewriting the old files fills the
	// kernel's queue, and the new directories' events are dropped.
	writeTree(t, root, "old", n)
	writeTree(t, root, "new", n)
	os.RemoveAll(filepath.Join(root, "recreated"))
	writeTree(t, root, "recreated", 100)
	h := run(t, root, w)
	h.settle()
	if !strings.Contains(log.String(), "dropped file events") {
		t.Errorf("no overflow reported; log:\n%s", log.String())
	}
	last, mid := n-1, n/2
	for _, rel := range []string{
		fmt.Sprintf("old/d%03d/f%d.txt", last/100, last), "new/d000/f0.txt", fmt.Sprintf("new/d%03d/f%d.txt", mid/100, mid),
		fmt.Sprintf("new/d%03d/f%d.txt", last/100, last), "recreated/d000/f99.txt",
	} {
		h.write(rel, "edited")
		if got, want := paths(h.sync()), []string{rel}; !slices.Equal(got, want) {
			t.Errorf("edit after the overflow: got %v, want %v", got, want)
		}
	}
}

// writeTree writes n files under dir, 100 to a directory.
func writeTree(t *testing.T, root, dir string, n int) {
	t.Helper()
	for i := range n {
		d := filepath.Join(root, dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d.txt", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// settle waits until the watcher has caught up with a storm of changes, when
// the kernel may have dropped events (the barrier's among them): it writes
// barriers until one comes through, and discards every batch up to it.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		h.n++
		name := fmt.Sprintf("barrier-%d", h.n)
		h.write(name, "")
		wait := time.After(time.Second)
	drain:
		for {
			select {
			case b := <-h.batches:
				if slices.Contains(b.Paths, name) {
					return
				}
			case <-wait:
				break drain
			}
		}
	}
	h.t.Fatal("the watcher never caught up")
}

// The probe for file events leaves no event behind: its removal would
// otherwise cancel the first build and start it again.
func TestProbeLeavesNoEvent(t *testing.T) {
	root := t.TempDir()
	h := start(t, root, Options{Probe: 5 * time.Second})
	if got := paths(h.sync()); len(got) != 0 {
		t.Errorf("after the probe: got %v, want nothing", got)
	}
}

// Run returns once its context is done, and closes its channel: the
// supervisor's loop ends on it.
func TestRunClosesItsChannelWhenDone(t *testing.T) {
	root := t.TempDir()
	w, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	returned := make(chan struct{})
	go func() { w.Run(ctx, out); close(returned) }()
	cancel()
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context was done")
	}
	if _, ok := <-out; ok {
		t.Error("Run left its channel open")
	}
}
