package rules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devrun/devrun/graph"
)

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// What each kind of change does, and why, in a project with a replace
// target, an embedded directory, a gitignored generated package, a
// frontend, templates read at run time, and a templ step.
func TestDecide(t *testing.T) {
	top := t.TempDir()
	write(t, top, map[string]string{
		"app/go.mod":                   "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
		"app/main.go":                  "package main\n\nimport (\n\t\"embed\"\n\n\t\"example.com/app/internal/db\"\n\t\"example.com/lib\"\n)\n\n//go:embed static\nvar static embed.FS\n\nfunc main() { println(lib.V, db.Q, static) }\n",
		"app/internal/db/query.sql.go": "package db\n\nconst Q = 1\n",
		"app/static/app.css":           "body{}",
		"app/web/src/app.ts":           "let x = 1",
		"app/templates/index.html":     "<p>",
		"app/views/home.templ":         "templ Home() {}",
		"lib/go.mod":                   "module example.com/lib\n\ngo 1.22\n",
		"lib/lib.go":                   "package lib\n\nconst V = 1\n",
	})
	app := filepath.Join(top, "app")
	g, err := graph.Load(context.Background(), graph.Options{Dir: app, Env: []string{"GOFLAGS=-mod=mod"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(app, func() *graph.Graph { return g },
		[]Rule{{Paths: []string{"templates/**"}, Action: Restart}, {Paths: []string{"docs/**"}, Action: Ignore}},
		[]Step{{Run: []string{"templ", "generate"}, On: []string{"**/*.templ"}}})
	if err != nil {
		t.Fatal(err)
	}
	d.Ignored = func(rel string) bool { return strings.HasSuffix(rel, ".sql.go") }
	for _, tc := range []struct {
		path    string
		action  Action
		refresh bool
		steps   string
		why     string
	}{
		{"web/src/app.ts", Ignore, false, "", "not read by the build of example.com/app, no rule matches: ignored"},
		{"internal/db/query.sql.go", Rebuild, true, "", "read by the build (package example.com/app/internal/db), though .gitignore ignores it"},
		{"../lib/lib.go", Rebuild, true, "", "read by the build (package example.com/lib)"},
		{"static/app.css", Rebuild, false, "", "read by the build (package example.com/app)"},
		{"static/new.css", Rebuild, true, "", "a file added to or removed from a directory package example.com/app embeds"},
		{"internal/db/new.go", Rebuild, true, "", "a Go file added to or removed from package example.com/app/internal/db"},
		{"internal/db/new_test.go", Ignore, false, "", "no rule matches"},
		{"go.mod", Rebuild, true, "", "steers the build (module or workspace file)"},
		{"templates/index.html", Restart, false, "", "rule 1 (templates/**: restart)"},
		{"docs/README.md", Ignore, false, "", "rule 2 (docs/**: ignore)"},
		{"views/home.templ", Rebuild, false, "templ", "matches the step templ: run it, then rebuild"},
	} {
		got := d.Decide(tc.path)
		if got.Action != tc.action || got.Refresh != tc.refresh || strings.Join(got.Steps, ",") != tc.steps || !strings.Contains(got.Why, tc.why) {
			t.Errorf("Decide(%s) = %+v; want %s, refresh %v, steps %q, why containing %q", tc.path, got, tc.action, tc.refresh, tc.steps, tc.why)
		}
	}
}

// Without a graph (not loaded yet, or go list failed) every change
// rebuilds, as before there was one; rules still restart and ignore what
// they name, but only where the build cannot read it.
func TestDecideWithoutAGraph(t *testing.T) {
	d, err := New(t.TempDir(), func() *graph.Graph { return nil }, []Rule{{Paths: []string{"templates/**"}, Action: Restart}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Decide("main.go"); got.Action != Rebuild {
		t.Errorf("without a graph, main.go: %+v", got)
	}
	if got := d.Decide("templates/a.html"); got.Action != Rebuild || !strings.Contains(got.Why, "rule 1") {
		t.Errorf("without a graph, templates/a.html: %+v (the build may embed it)", got)
	}
}

func TestBadRulesAndSteps(t *testing.T) {
	nog := func() *graph.Graph { return nil }
	if _, err := New(".", nog, []Rule{{Paths: []string{"a/[b"}, Action: Ignore}}, nil); err == nil || !strings.Contains(err.Error(), `rule 1: the glob "a/[b"`) {
		t.Errorf("a bad glob: %v", err)
	}
	if _, err := New(".", nog, []Rule{{Paths: []string{"a"}, Action: "sync"}}, nil); err == nil || !strings.Contains(err.Error(), `"sync" is not one of restart, ignore, rebuild`) {
		t.Errorf("a bad action: %v", err)
	}
	if _, err := New(".", nog, nil, []Step{{Run: []string{"x"}, On: []string{"!"}}}); err == nil || !strings.Contains(err.Error(), `step 1: the glob "!"`) {
		t.Errorf("a bad step glob: %v", err)
	}
}

// A save that changes nothing is no change; one that changes the body is,
// and only one that changes the imports, //go:embed or //go:build lines
// changes the graph.
func TestContents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "main.go")
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(1) }\n"
	os.WriteFile(p, []byte(src), 0o644)
	c := NewContents()
	if n, _ := c.Record(p); n != 1 {
		t.Fatal("not recorded")
	}
	if ch := c.Compare(p); ch.Content || ch.Header {
		t.Errorf("the same content: %+v", ch)
	}
	os.WriteFile(p, []byte(strings.Replace(src, "1", "2", 1)), 0o644)
	if ch := c.Compare(p); !ch.Content || ch.Header {
		t.Errorf("a new body: %+v", ch)
	}
	os.WriteFile(p, []byte(strings.Replace(src, `import "fmt"`, "import (\n\t\"fmt\"\n\t_ \"embed\"\n)", 1)), 0o644)
	if ch := c.Compare(p); !ch.Content || !ch.Header {
		t.Errorf("a new import: %+v", ch)
	}
	os.WriteFile(p, []byte("//go:build dev\n\n"+src), 0o644)
	if ch := c.Compare(p); !ch.Header {
		t.Errorf("a new build constraint: %+v", ch)
	}
	os.Remove(p)
	if ch := c.Compare(p); !ch.Content || !ch.Header {
		t.Errorf("removed: %+v", ch)
	}
	other := filepath.Join(dir, "new.txt")
	os.WriteFile(other, []byte("x"), 0o644)
	if ch := c.Compare(other); !ch.Content || c.Known(p) {
		t.Errorf("a file never recorded: %+v", ch)
	}
}
