package watcher

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// fileState is what a scan compares to see that a file changed.
type fileState struct {
	mod  time.Time
	size int64
	mode fs.FileMode
}

// poller finds changes by comparing the tree's state with the previous
// scan's. On a large tree the file system calls are the whole cost (40,000
// files take some 200 ms a scan on a small VM), so it scans in two ways:
//
//   - a full scan stats every file; it runs at most once per 20 times its own
//     duration, so it costs at most 5% of one core;
//   - a quick scan, at every interval, stats every directory (a file added,
//     removed or renamed over, as editors save, changes its directory) and
//     the files changed in the last ten minutes (saved again in place).
//
// On a small tree a full scan is cheap enough to run at every interval.
// A file written in place for the first time in ten minutes, in a large
// tree, is seen by the next full scan. Scans ask the filter only about paths
// not seen before and read .gitignore files only when one changed.
type poller struct {
	w        *Watcher
	files    map[string]fileState
	dirs     map[string]time.Time // directory → its modification time
	hot      map[string]time.Time // file → when it last changed
	skipped  map[string]bool      // files and directories the filter leaves out
	lastFull time.Time
	fullCost time.Duration
	// quietBefore is when the watched paths last changed (Refresh): a file
	// first seen after it, but written before it, was there already (in a
	// directory now watched, or kept), and is no change.
	quietBefore time.Time
}

const (
	fullScanBudget = 20               // a full scan every 20 times its duration: 5% of a core
	hotFor         = 10 * time.Minute // how long a changed file is watched closely
)

func newPoller(w *Watcher) *poller {
	p := &poller{w: w, files: map[string]fileState{}, dirs: map[string]time.Time{}, hot: map[string]time.Time{}, skipped: map[string]bool{}}
	if w.opts.GitIgnore {
		for _, root := range w.opts.Paths { // loads every .gitignore
			_ = w.walk(path.Clean(filepath.ToSlash(root)), func(string) error { return nil }, nil)
		}
	}
	p.full(func(string) {})
	return p
}

// scan calls changed for every file added, modified or removed since the
// last scan, with a full or a quick scan.
func (p *poller) scan(changed func(rel string)) {
	now := time.Now()
	gitignoreChanged := false
	mark := func(rel string) {
		p.hot[rel] = now
		changed(rel)
		gitignoreChanged = gitignoreChanged || path.Base(rel) == ".gitignore"
	}
	if now.Sub(p.lastFull) >= fullScanBudget*p.fullCost {
		p.full(mark)
	} else {
		p.quick(mark)
	}
	if gitignoreChanged && p.w.opts.GitIgnore {
		p.reloadGitignore()
	}
	for f, t := range p.hot {
		if now.Sub(t) > hotFor {
			delete(p.hot, f)
		}
	}
}

// quick stats the directories and the hot files, and reads again the
// directories that changed.
func (p *poller) quick(changed func(rel string)) {
	for dir, mod := range p.dirs {
		info, err := os.Lstat(p.w.abs(dir))
		if err != nil {
			p.lastFull = time.Time{} // gone: a full scan sorts it out
			continue
		}
		if !info.ModTime().Equal(mod) {
			p.rescanDir(dir, changed)
		}
	}
	for f := range p.hot {
		info, err := os.Lstat(p.w.abs(f))
		if err != nil {
			continue // removed: its directory changed
		}
		st := fileState{info.ModTime(), info.Size(), info.Mode()}
		if old, ok := p.files[f]; ok && old != st {
			p.files[f] = st
			changed(f)
		}
	}
}

// rescanDir reads one directory again: files added, changed or removed.
// A new subdirectory makes the next scan a full one.
func (p *poller) rescanDir(dir string, changed func(rel string)) {
	entries, err := os.ReadDir(p.w.abs(dir))
	info, err2 := os.Lstat(p.w.abs(dir))
	if err != nil || err2 != nil {
		p.lastFull = time.Time{}
		return
	}
	p.dirs[dir] = info.ModTime()
	present := map[string]bool{}
	for _, e := range entries {
		rel := path.Join(dir, e.Name())
		if p.skip(rel, e.IsDir()) {
			continue
		}
		if e.IsDir() {
			if _, known := p.dirs[rel]; !known {
				p.lastFull = time.Time{}
			}
			continue
		}
		present[rel] = true
		fi, err := e.Info()
		if err != nil {
			continue
		}
		st := fileState{fi.ModTime(), fi.Size(), fi.Mode()}
		if old, ok := p.files[rel]; ok && old != st || !ok && !st.mod.Before(p.quietBefore) {
			p.files[rel] = st
			changed(rel)
		} else if !ok {
			p.files[rel] = st
		}
	}
	for f := range p.files {
		if path.Dir(f) == dir && !present[f] {
			delete(p.files, f)
			changed(f)
		}
	}
}

// full walks the whole tree.
func (p *poller) full(changed func(rel string)) {
	start := time.Now()
	defer func() { p.lastFull, p.fullCost = time.Now(), time.Since(start) }()
	dirs := make(map[string]time.Time, len(p.dirs))
	seen := make(map[string]fileState, len(p.files))
	prefix := p.w.opts.Root + string(filepath.Separator)
	for _, root := range p.w.opts.Paths {
		filepath.WalkDir(p.w.abs(root), func(abs string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable or gone: its files count as removed
			}
			rel := filepath.ToSlash(strings.TrimPrefix(abs, prefix))
			switch {
			case abs == p.w.opts.Root:
				rel = "."
			case !strings.HasPrefix(abs, prefix): // a path outside the tree: ../lib
				rel = p.w.rel(abs)
			}
			if p.skip(rel, d.IsDir()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if info, err := d.Info(); err == nil {
					dirs[rel] = info.ModTime()
				}
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st := fileState{info.ModTime(), info.Size(), info.Mode()}
			seen[rel] = st
			old, ok := p.files[rel]
			switch {
			case ok && old != st || !ok && !st.mod.Before(p.quietBefore):
				changed(rel)
			case !ok:
				// There already, first seen now (a directory just watched):
				// watched closely, so that an edit in place soon is not
				// left to the next full scan.
				p.hot[rel] = start
			}
			return nil
		})
	}
	for rel := range p.files {
		if _, ok := seen[rel]; !ok {
			changed(rel)
		}
	}
	p.files, p.dirs = seen, dirs
}

// skip asks the filter about rel once, and remembers.
func (p *poller) skip(rel string, dir bool) bool {
	if _, known := p.files[rel]; known {
		return false
	}
	if s, ok := p.skipped[rel]; ok {
		return s
	}
	var s bool
	if dir {
		s = p.w.filter.SkipDir(rel)
	} else {
		s = p.w.filter.SkipFile(rel)
	}
	p.skipped[rel] = s
	return s
}

// reloadGitignore reads the .gitignore files again, forgets the filter's
// remembered answers, and forgets the files and directories the new
// patterns leave out: skip trusts every file already recorded, so a file
// that became ignored would otherwise be reported at each change. The next
// scan is a full one, which finds the files that are no longer ignored.
func (p *poller) reloadGitignore() {
	for _, root := range p.w.opts.Paths {
		_ = p.w.walk(path.Clean(filepath.ToSlash(root)), func(string) error { return nil }, nil)
	}
	p.refilter()
}

// refilter forgets the filter's remembered answers and the files and
// directories it now leaves out, and makes the next scan a full one.
func (p *poller) refilter() {
	clear(p.skipped)
	for f := range p.files {
		if p.w.filter.SkipFile(f) {
			delete(p.files, f)
			delete(p.hot, f)
		}
	}
	for d := range p.dirs {
		if p.w.filter.SkipDir(d) {
			delete(p.dirs, d)
		}
	}
	p.lastFull = time.Time{}
}
