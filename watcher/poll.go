package watcher

import (
	"io/fs"
	"path"
	"time"
)

// fileState is what a scan compares to see that a file changed.
type fileState struct {
	mod  time.Time
	size int64
	mode fs.FileMode
}

// poller finds changes by scanning the tree and comparing each file's state
// with the previous scan.
type poller struct {
	w     *Watcher
	files map[string]fileState
}

func newPoller(w *Watcher) *poller {
	p := &poller{w: w, files: map[string]fileState{}}
	p.scan(func(string) {})
	return p
}

// scan walks the tree and calls changed for every file added, modified or
// removed since the last scan.
func (p *poller) scan(changed func(rel string)) {
	seen := make(map[string]fileState, len(p.files))
	noDir := func(string) error { return nil }
	for _, root := range p.w.opts.Paths {
		_ = p.w.walk(path.Clean(root), noDir, func(rel string, d fs.DirEntry) {
			info, err := d.Info()
			if err != nil {
				return
			}
			st := fileState{info.ModTime(), info.Size(), info.Mode()}
			seen[rel] = st
			if old, ok := p.files[rel]; !ok || old != st {
				changed(rel)
			}
		})
	}
	for rel := range p.files {
		if _, ok := seen[rel]; !ok {
			changed(rel)
		}
	}
	p.files = seen
}
