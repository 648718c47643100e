// Command tree measures what a large tree costs devrun's watcher with file
// events: the time from New to watching every directory, against its floor,
// a bare walk of the same tree (the least any watcher must do to find its
// directories); the memory the watcher holds; and the time from an edit deep
// in the tree to its batch.
//
//	go run ./bench/tree [-files 100000] [-dir DIR] [-runs 5]
//
// Creating files on some disks costs close to a millisecond each; -dir puts
// the tree elsewhere, on a tmpfs for instance.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/devrun/devrun/watcher"
)

func main() {
	files := flag.Int("files", 100_000, "files in the tree, 100 to a directory")
	dir := flag.String("dir", "", "where to make the tree (default: a new temporary directory)")
	runs := flag.Int("runs", 5, "runs of each measure")
	flag.Parse()
	root, err := os.MkdirTemp(*dir, "devrun-tree-")
	check(err)
	defer os.RemoveAll(root)
	t0 := time.Now()
	for i := range *files {
		d := filepath.Join(root, fmt.Sprintf("d%04d", i/100))
		if i%100 == 0 {
			check(os.MkdirAll(d, 0o755))
		}
		check(os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d.go", i)), []byte("package p\n"), 0o644))
	}
	fmt.Printf("%d files in %d directories, written in %s\n", *files, (*files+99)/100, time.Since(t0).Round(time.Millisecond))

	var walks, news []time.Duration
	var heap uint64
	for range *runs {
		walks = append(walks, timed(func() { walk(root) }))
		var w *watcher.Watcher
		before := heapInUse()
		news = append(news, timed(func() { w = newWatcher(root) }))
		heap = heapInUse() - before
		if len(news) < *runs {
			closeWatcher(w)
			continue
		}
		fmt.Printf("ready: watcher %s, bare walk (floor) %s, ratio %.2f (medians of %d)\n",
			median(news), median(walks), float64(median(news))/float64(median(walks)), *runs)
		fmt.Printf("memory: %.1f MB of heap held by the watcher (%d bytes a file)\n",
			float64(heap)/1e6, heap/uint64(*files))
		fmt.Printf("edit deep in the tree to batch: %s\n", editToBatch(w, root, *files))
	}
}

func walk(root string) {
	filepath.WalkDir(root, func(string, fs.DirEntry, error) error { return nil })
}

func newWatcher(root string) *watcher.Watcher {
	w, err := watcher.New(watcher.Options{Root: root, GitIgnore: true})
	check(err)
	return w
}

// closeWatcher runs w for an instant: Run closes the watcher when it returns.
func closeWatcher(w *watcher.Watcher) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Run(ctx, make(chan watcher.Batch))
}

func editToBatch(w *watcher.Watcher, root string, files int) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan watcher.Batch)
	go w.Run(ctx, out)
	last := files - 1
	name := filepath.Join(root, fmt.Sprintf("d%04d", last/100), fmt.Sprintf("f%d.go", last))
	start := time.Now()
	check(os.WriteFile(name, []byte("package p // edited\n"), 0o644))
	<-out
	return time.Since(start).Round(100 * time.Microsecond)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
