//go:build linux

// Command poll measures what polling costs: the CPU devrun's watcher uses
// to scan a tree of 40,000 files (the size the host-mode benchmark's users
// reach) at the default interval, and how long after a change it reports it.
//
//	go run ./bench/poll [-files 40000] [-interval 500ms] [-for 10s]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/devrun/devrun/watcher"
)

func main() {
	files := flag.Int("files", 40000, "files in the tree")
	interval := flag.Duration("interval", 500*time.Millisecond, "the polling interval")
	dur := flag.Duration("for", 10*time.Second, "how long to measure")
	flag.Parse()
	root, err := os.MkdirTemp("", "devrun-poll-")
	check(err)
	defer os.RemoveAll(root)
	for i := range *files {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("e%02d", i%100/10))
		check(os.MkdirAll(dir, 0o755))
		check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.go", i)), []byte("package p\n"), 0o644))
	}
	w, err := watcher.New(watcher.Options{Root: root, Poll: true, PollInterval: *interval, GitIgnore: true})
	check(err)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan watcher.Batch, 16)
	go w.Run(ctx, out)

	before := cpu()
	start := time.Now()
	time.Sleep(*dur)
	used := cpu() - before
	wall := time.Since(start)

	// Latency, from a change to its batch: a rename-save (as vim and
	// JetBrains editors save) of a file untouched so far, an in-place write
	// of one, and in-place writes of a file that changed lately.
	measure := func(change func()) time.Duration {
		t0 := time.Now()
		change()
		<-out
		return time.Since(t0).Round(time.Millisecond)
	}
	rename := measure(func() {
		tmp := filepath.Join(root, "d001", "e00", ".f100.go.tmp")
		check(os.WriteFile(tmp, []byte("package p // renamed\n"), 0o644))
		check(os.Rename(tmp, filepath.Join(root, "d001", "e00", "f100.go")))
	})
	cold := measure(func() {
		check(os.WriteFile(filepath.Join(root, "d002", "e00", "f200.go"), []byte("package p // cold\n"), 0o644))
	})
	var hot []time.Duration
	for i := range 4 {
		hot = append(hot, measure(func() {
			check(os.WriteFile(filepath.Join(root, "d002", "e00", "f200.go"), []byte(fmt.Sprintf("package p // %d\n", i)), 0o644))
		}))
	}
	cancel()
	fmt.Printf("polling %d files every %s: %.1f%% of one core (%s CPU in %s)\n",
		*files, *interval, 100*used.Seconds()/wall.Seconds(), used.Round(time.Millisecond), wall.Round(time.Millisecond))
	fmt.Printf("change to batch: rename-save %s, first in-place write %s, later in-place writes %v\n", rename, cold, hot)
}

func cpu() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
