package watcher

import (
	"slices"
	"time"
)

// A Batch is one debounced burst of changes.
type Batch struct {
	// Paths holds the changed paths, slash-separated, relative to the root,
	// sorted and without duplicates. "." means "anything may have changed"
	// (the kernel's event queue overflowed).
	Paths []string
	// First is when the first change of the batch was seen.
	First time.Time
	// Sent is when the batch was handed over.
	Sent time.Time
}

// batcher gathers changes into batches: a batch is due once no change arrived
// for quiet, or maxWait after its first change, whichever comes first. A
// batch that has grown into a burst (burstPaths paths or more: a checkout, a
// formatter over the tree) waits for burstQuiet instead, so that a writer
// that stalls for a moment, on a loaded machine, does not split its burst;
// a save of a file or two keeps the short window. It is a pure value driven
// by the caller's clock.
type batcher struct {
	quiet, maxWait time.Duration
	paths          map[string]struct{}
	created        map[string]struct{} // paths whose first event in this batch was a create
	first, last    time.Time
}

func newBatcher(quiet, maxWait time.Duration) *batcher {
	return &batcher{quiet: quiet, maxWait: maxWait, paths: map[string]struct{}{}, created: map[string]struct{}{}}
}

// add records a change to p seen at now; created says the change created p.
func (b *batcher) add(p string, now time.Time, created bool) {
	if len(b.paths) == 0 {
		b.first = now
	}
	if _, seen := b.paths[p]; !seen && created {
		b.created[p] = struct{}{}
	}
	b.paths[p] = struct{}{}
	b.last = now
}

// pending reports whether a batch is being gathered.
func (b *batcher) pending() bool { return len(b.paths) > 0 }

// Bursts wait for burstQuiet, when that is longer than the quiet window.
const (
	burstPaths = 16
	burstQuiet = 100 * time.Millisecond
)

// due returns when the pending batch is to be sent.
func (b *batcher) due() time.Time {
	window := b.quiet
	if len(b.paths) >= burstPaths {
		window = max(window, burstQuiet)
	}
	quiet := b.last.Add(window)
	if limit := b.first.Add(b.maxWait); b.maxWait > 0 && limit.Before(quiet) {
		return limit
	}
	return quiet
}

// take returns the pending batch and starts a new one. Files that were
// created during the batch and no longer exist (exists reports false) are
// left out: they are the temporary files of editors and tools such as sed -i,
// written and renamed or removed within a save.
func (b *batcher) take(now time.Time, exists func(string) bool) Batch {
	paths := make([]string, 0, len(b.paths))
	for p := range b.paths {
		if _, created := b.created[p]; created && !exists(p) {
			continue
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	clear(b.paths)
	clear(b.created)
	return Batch{Paths: paths, First: b.first, Sent: now}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
