// Package rules decides what a change to a file does: rebuild and swap the
// app, restart it without a build, run steps (generators) before the
// build, or nothing. The build graph (package graph) answers for what the
// build reads, exactly, whatever .gitignore says; a short ordered list of
// rules answers for the rest, which the graph cannot know: templates the
// app reads at run time, files to ignore. Steps say which generators a
// change needs.
//
// A Decider is a value that reads its graph through a function, so that
// the graph can be replaced while it is used; Decide is safe for
// concurrent use if that function is.
package rules

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"

	"github.com/devrun/devrun/graph"
)

// An Action is what a change does.
type Action string

// The actions.
const (
	Ignore  Action = "ignore"  // nothing
	Rebuild Action = "rebuild" // build, and swap the app
	Restart Action = "restart" // restart the app without a build: a file it reads at run time
	Reload  Action = "reload"  // neither: a file the app serves from disk; the pages reload
)

// Actions lists the actions a rule may name.
var Actions = []Action{Restart, Ignore, Rebuild, Reload}

// A Rule matches paths to an action, for what the graph does not know.
type Rule struct {
	Paths  []string // globs relative to the project directory, slash-separated; ** for any depth
	Action Action
}

// A Step is a command that makes files the build reads (a generator),
// run before the build when a change matches it, and once at start.
type Step struct {
	Name string   // for the log; default the command's first word
	Run  []string // the command, without a shell unless it names one
	On   []string // globs of the files whose changes need it
}

// A Decision is what a change to one path does, and why.
type Decision struct {
	Path    string   // the path, relative to the project directory, slash-separated
	Action  Action   // what to do
	Steps   []string // the steps to run first, in order, by name
	Refresh bool     // the build graph may have changed: load it again
	Why     string   // the reason, for people: "read by the build (package example.com/app)"
}

// A Decider decides what changes do.
type Decider struct {
	dir   string
	graph func() *graph.Graph
	rules []compiled
	steps []compiledStep
	// Ignored, when set, says whether .gitignore ignores the path: the
	// explanation then says that the graph wins.
	Ignored func(rel string) bool
}

type compiled struct {
	Rule
	pm *patternmatcher.PatternMatcher
}

type compiledStep struct {
	Step
	pm *patternmatcher.PatternMatcher
}

// New returns a Decider for the project in dir, reading the build graph
// through g (which may return nil while none is known: every change then
// rebuilds, as before the graph). It returns an error naming the first
// glob that does not compile.
func New(dir string, g func() *graph.Graph, rules []Rule, steps []Step) (*Decider, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	d := &Decider{dir: abs, graph: g}
	for i, r := range rules {
		pm, err := compile(r.Paths)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		if !slices.Contains(Actions, r.Action) {
			return nil, fmt.Errorf("rule %d: the action %q is not one of restart, ignore, rebuild, reload", i+1, r.Action)
		}
		d.rules = append(d.rules, compiled{r, pm})
	}
	for i, s := range steps {
		pm, err := compile(s.On)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		if s.Name == "" && len(s.Run) > 0 {
			s.Name = s.Run[0]
		}
		d.steps = append(d.steps, compiledStep{s, pm})
	}
	return d, nil
}

func compile(globs []string) (*patternmatcher.PatternMatcher, error) {
	native := make([]string, len(globs))
	for i, g := range globs {
		if _, err := path.Match(strings.ReplaceAll(g, "**", "*"), ""); err != nil {
			return nil, fmt.Errorf("the glob %q: %w", g, err)
		}
		native[i] = filepath.FromSlash(strings.TrimPrefix(g, "./"))
		if _, err := patternmatcher.New(native[i : i+1]); err != nil {
			return nil, fmt.Errorf("the glob %q: %w", g, err)
		}
	}
	return patternmatcher.New(native)
}

func matches(pm *patternmatcher.PatternMatcher, rel string) bool {
	ok, err := pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	return err == nil && ok
}

// Steps returns the steps, in order.
func (d *Decider) Steps() []Step {
	out := make([]Step, len(d.steps))
	for i, s := range d.steps {
		out[i] = s.Step
	}
	return out
}

// Decide says what a change to p does: p is absolute, or relative to the
// project directory.
func (d *Decider) Decide(p string) Decision {
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(d.dir, filepath.FromSlash(p))
	}
	rel, err := filepath.Rel(d.dir, abs)
	if err != nil {
		rel = abs
	}
	rel = filepath.ToSlash(rel)
	dec := Decision{Path: rel}
	for _, s := range d.steps {
		if matches(s.pm, rel) {
			dec.Steps = append(dec.Steps, s.Name)
		}
	}
	if len(dec.Steps) > 0 {
		dec.Action = Rebuild
		dec.Why = fmt.Sprintf("matches the step %s: run it, then rebuild", strings.Join(dec.Steps, ", then "))
		return dec
	}
	g := d.graph()
	if g == nil {
		return d.byRules(dec, Decision{Path: rel, Action: Rebuild, Why: "the build graph is not known yet: rebuild"})
	}
	if pkg, ok := g.Reads(abs); ok {
		dec.Action = Rebuild
		switch {
		case pkg == "":
			dec.Why, dec.Refresh = "steers the build (module or workspace file)", true
		default:
			dec.Why = "read by the build (package " + pkg + ")"
		}
		if strings.HasSuffix(abs, ".go") {
			dec.Refresh = true // its imports or embeds may have changed; the caller sees whether they did
		}
		return d.noteIgnored(dec)
	}
	if pkg, ok := g.Ignored[abs]; ok {
		dec.Action, dec.Refresh = Ignore, true
		dec.Why = "a file of package " + pkg + " that the build's constraints leave out: load the graph again, in case that changed"
		return dec
	}
	if pkg, ok := g.PackageOf(abs); ok && isGoSource(abs) {
		dec.Action, dec.Refresh = Rebuild, true
		dec.Why = "a Go file added to or removed from package " + pkg
		return d.noteIgnored(dec)
	}
	if pkg, ok := g.EmbedDirOf(abs); ok {
		dec.Action, dec.Refresh = Rebuild, true
		dec.Why = "a file added to or removed from a directory package " + pkg + " embeds"
		return d.noteIgnored(dec)
	}
	return d.byRules(dec, Decision{Path: rel, Action: Ignore, Why: "not read by the build of " + g.Main + ", no rule matches: ignored"})
}

// byRules applies the first rule that matches dec's path, or returns def.
func (d *Decider) byRules(dec, def Decision) Decision {
	for i, r := range d.rules {
		if matches(r.pm, dec.Path) {
			dec.Action = r.Action
			dec.Why = fmt.Sprintf("rule %d (%s: %s)", i+1, strings.Join(r.Paths, ", "), r.Action)
			if def.Action == Rebuild && def.Why != "" && r.Action != Rebuild {
				dec.Why += "; " + def.Why
				dec.Action = Rebuild // without a graph, the build may read it
			}
			return dec
		}
	}
	return def
}

func (d *Decider) noteIgnored(dec Decision) Decision {
	if d.Ignored != nil && d.Ignored(dec.Path) {
		dec.Why += ", though .gitignore ignores it"
	}
	return dec
}

func isGoSource(p string) bool {
	return strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go")
}
