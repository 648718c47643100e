package watcher

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
)

// SkipDirs are directory names that are never watched: version control,
// vendored and third-party trees. Hidden directories are skipped too.
var SkipDirs = []string{".git", ".hg", ".svn", "vendor", "node_modules"}

// EphemeralFiles are base-name patterns of the temporary files that editors and
// tools write next to the file being saved. They are never reported.
var EphemeralFiles = []string{
	"4913",                    // vim: probes whether the directory is writable
	"*.swp", "*.swx", "*.swo", // vim swap files
	"*~",         // vim and emacs backups
	".#*", "#*#", // emacs lock and auto-save files
	"*___jb_tmp___",    // JetBrains "safe write"
	"*___jb_old___",    // JetBrains "safe write"
	"*-go-tmp-umask",   // the go command probing the umask
	".DS_Store",        // macOS Finder
	".goutputstream-*", // GNOME editors
	".devrun-probe-*",  // devrun's own check that file events arrive
}

// A Filter decides which paths under a root are watched and reported.
// Paths given to it are slash-separated and relative to the root.
// A Filter is not safe for concurrent use.
type Filter struct {
	include   *patternmatcher.PatternMatcher // nil: every file
	exclude   *patternmatcher.PatternMatcher
	gitignore map[string][]string // .gitignore's directory → its patterns, made relative to the root
	ignored   *patternmatcher.PatternMatcher
	tests     bool
	own       []string // paths never watched, whatever the patterns say
	keep      func(rel string) bool
}

// FilterOptions configures a Filter.
type FilterOptions struct {
	// Include, when not empty, limits the reported files to those matching one
	// of these patterns (Dockerfile-style globs relative to the root, "**" for any
	// number of directories).
	Include []string
	// Exclude lists further patterns of files and directories never watched.
	Exclude []string
	// Tests reports changes to _test.go files, which are ignored otherwise.
	Tests bool
	// Own lists paths, relative to the root, that are never watched nor
	// reported, with everything below them: what devrun writes itself.
	// They are paths, not patterns: a name holding * or [ means itself.
	Own []string
	// Keep, when set, names paths that are watched and reported whatever
	// the patterns, hidden names and SkipDirs say (Own still wins): for a
	// directory, that it must be watched (it holds, or leads to, a kept
	// path); for a file, that its changes are reported. devrun keeps what
	// the build reads, a generated file that .gitignore ignores among it.
	// It is called from the watcher's goroutine, and must be safe for that.
	Keep func(rel string) bool
}

// NewFilter compiles the patterns of opts. It returns an error naming the first
// pattern that does not compile.
func NewFilter(opts FilterOptions) (*Filter, error) {
	f := &Filter{tests: opts.Tests, gitignore: map[string][]string{}, keep: opts.Keep}
	for _, o := range opts.Own {
		if o = path.Clean(filepath.ToSlash(o)); o != "." {
			f.own = append(f.own, o)
		}
	}
	var err error
	if len(opts.Include) > 0 {
		if f.include, err = compile(opts.Include); err != nil {
			return nil, fmt.Errorf("include pattern: %w", err)
		}
	}
	if f.exclude, err = compile(opts.Exclude); err != nil {
		return nil, fmt.Errorf("exclude pattern: %w", err)
	}
	return f, nil
}

func compile(patterns []string) (*patternmatcher.PatternMatcher, error) {
	native := make([]string, len(patterns))
	for i, p := range patterns {
		if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), ""); err != nil {
			return nil, fmt.Errorf("%q: %w", p, err)
		}
		native[i] = filepath.FromSlash(p)
		if _, err := patternmatcher.New(native[i : i+1]); err != nil {
			return nil, fmt.Errorf("%q: %w", p, err)
		}
	}
	return patternmatcher.New(native)
}

// SkipDir reports whether the directory rel and everything below it is left unwatched.
func (f *Filter) SkipDir(rel string) bool {
	if rel == "." {
		return false
	}
	if f.isOwn(rel) {
		return true
	}
	if f.keep != nil && f.keep(rel) {
		return false
	}
	base := path.Base(rel)
	if strings.HasPrefix(base, ".") {
		return true
	}
	for _, d := range SkipDirs {
		if base == d {
			return true
		}
	}
	return f.matches(f.exclude, rel) || f.matches(f.ignored, rel)
}

// SkipFile reports whether a change to the file rel is not reported.
func (f *Filter) SkipFile(rel string) bool {
	if f.isOwn(rel) {
		return true
	}
	if f.keep != nil && f.keep(rel) {
		return false
	}
	base := path.Base(rel)
	if !f.tests && strings.HasSuffix(base, "_test.go") {
		return true
	}
	for _, p := range EphemeralFiles {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	if f.matches(f.exclude, rel) || f.matches(f.ignored, rel) {
		return true
	}
	return f.include != nil && !f.matches(f.include, rel)
}

// isOwn reports whether rel is one of the Own paths or lies below one.
func (f *Filter) isOwn(rel string) bool {
	for _, o := range f.own {
		if rel == o || strings.HasPrefix(rel, o+"/") {
			return true
		}
	}
	return false
}

func (f *Filter) matches(pm *patternmatcher.PatternMatcher, rel string) bool {
	if pm == nil {
		return false
	}
	ok, err := pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	return err == nil && ok
}

// LoadGitignore reads dir/.gitignore (dir relative to root, "." for the root)
// and replaces the patterns that an earlier load of the same file gave.
// A missing file removes them.
func (f *Filter) LoadGitignore(root, dir string) error {
	file, err := os.Open(filepath.Join(root, filepath.FromSlash(dir), ".gitignore"))
	if os.IsNotExist(err) {
		delete(f.gitignore, dir)
		return f.recompile()
	}
	if err != nil {
		return fmt.Errorf("reading .gitignore: %w", err)
	}
	defer file.Close()
	var patterns []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if p, ok := gitignorePattern(dir, sc.Text()); ok {
			patterns = append(patterns, p)
		}
	}
	f.gitignore[dir] = patterns
	return f.recompile()
}

func (f *Filter) recompile() error {
	var all []string
	for _, dir := range sortedKeys(f.gitignore) {
		all = append(all, f.gitignore[dir]...)
	}
	pm, err := compile(all)
	if err != nil {
		return fmt.Errorf(".gitignore: %w", err)
	}
	f.ignored = pm
	return nil
}

// gitignorePattern turns one line of the .gitignore in dir into a pattern
// relative to the root: unanchored names match at any depth below dir.
// Directory-only patterns (a trailing slash) are treated as matching files too.
func gitignorePattern(dir, line string) (string, bool) {
	line = strings.TrimRight(line, " \t\r")
	if line == "" || strings.HasPrefix(line, "#") {
		return "", false
	}
	neg := ""
	if strings.HasPrefix(line, "!") {
		neg, line = "!", line[1:]
	}
	line = strings.TrimPrefix(line, `\`)
	line = strings.TrimSuffix(line, "/")
	if line == "" {
		return "", false
	}
	if !strings.Contains(line, "/") {
		line = "**/" + line
	}
	return neg + path.Join(dir, strings.TrimPrefix(line, "/")), true
}

// Skips reports whether a Watcher with this filter, on the tree at root,
// would leave the path rel out, Keep aside: rel or a directory above it
// is skipped, by name, pattern, or a .gitignore on the way (which it reads
// when gitignore is set).
func (f *Filter) Skips(root, rel string, gitignore bool) bool {
	keep := f.keep
	f.keep = nil
	defer func() { f.keep = keep }()
	rel = path.Clean(filepath.ToSlash(rel))
	parts := strings.Split(rel, "/")
	up := 0 // a path outside the tree (../lib/x.go) is judged from where it enters it
	for up < len(parts)-1 && parts[up] == ".." {
		up++
	}
	first := up
	if up > 0 {
		first = up + 1 // not ".." itself, which is no hidden directory
	}
	for i := first; i < len(parts); i++ {
		dir := path.Join(parts[:i]...)
		if dir == "" {
			dir = "."
		}
		if f.SkipDir(dir) {
			return true
		}
		if gitignore {
			f.LoadGitignore(root, dir)
		}
	}
	return f.SkipFile(rel)
}
