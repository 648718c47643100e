package graph

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree writes files (slash paths relative to root → content).
func tree(t *testing.T, root string, files map[string]string) {
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

func load(t *testing.T, opts Options) *Graph {
	t.Helper()
	g, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A module with a replace ../lib, an embedded directory, a file for another
// OS, a test file and a frontend beside the code: the graph holds the main
// module's and the replacement's files, the embedded ones, go.mod and
// go.sum of both, and knows the file for another OS as one that could join
// the build; the test file, the frontend and the standard library are not in it.
func TestGraphOfAModuleWithAReplace(t *testing.T) {
	root := t.TempDir()
	tree(t, root, map[string]string{
		"app/go.mod":            "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
		"app/main.go":           "package main\n\nimport (\n\t\"embed\"\n\t\"fmt\"\n\n\t\"example.com/lib\"\n)\n\n//go:embed static\nvar static embed.FS\n\nfunc main() { fmt.Println(lib.V, static) }\n",
		"app/main_windows.go":   "package main\n",
		"app/main_test.go":      "package main\n",
		"app/static/index.html": "<p>hi</p>",
		"app/web/src/app.ts":    "let x = 1",
		"app/internal/db/db.go": "package db\n",
		"lib/go.mod":            "module example.com/lib\n\ngo 1.22\n",
		"lib/lib.go":            "package lib\n\nconst V = \"v\"\n",
		"lib/unused/unused.go":  "package unused\n",
	})
	app := filepath.Join(root, "app")
	g := load(t, Options{Dir: app, Env: []string{"GOOS=linux", "GOFLAGS=-mod=mod"}})
	in := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	for _, f := range []string{"app/main.go", "app/static/index.html", "app/go.mod", "lib/lib.go", "lib/go.mod"} {
		if _, ok := g.Reads(in(f)); !ok {
			t.Errorf("the graph does not hold %s; it holds %v", f, g.Files)
		}
	}
	for _, f := range []string{"app/main_test.go", "app/web/src/app.ts", "app/internal/db/db.go", "lib/unused/unused.go", "app/main_windows.go"} {
		if _, ok := g.Reads(in(f)); ok {
			t.Errorf("the graph holds %s, which the build does not read", f)
		}
	}
	if pkg := g.Ignored[in("app/main_windows.go")]; pkg != "example.com/app" {
		t.Errorf("main_windows.go is not known as a file that could join the build: %v", g.Ignored)
	}
	if pkg, _ := g.Reads(in("lib/lib.go")); pkg != "example.com/lib" {
		t.Errorf("lib.go is read by %q, want example.com/lib", pkg)
	}
	if strings.Join(g.Roots, " ") != in("app")+" "+in("lib") {
		t.Errorf("roots %v, want the two modules", g.Roots)
	}
	if len(g.Dirs) != 2 {
		t.Errorf("package directories %v, want the app's and the lib's (the standard library is not on the graph)", g.Dirs)
	}
}

// A go.work workspace of two modules: the other module's files, and the
// workspace's own files, are in the graph.
func TestGraphOfAWorkspace(t *testing.T) {
	root := t.TempDir()
	tree(t, root, map[string]string{
		"go.work":       "go 1.22\n\nuse (\n\t./app\n\t./shared\n)\n",
		"app/go.mod":    "module example.com/app\n\ngo 1.22\n",
		"app/main.go":   "package main\n\nimport \"example.com/shared\"\n\nfunc main() { println(shared.V) }\n",
		"shared/go.mod": "module example.com/shared\n\ngo 1.22\n",
		"shared/v.go":   "package shared\n\nconst V = 1\n",
	})
	g := load(t, Options{Dir: filepath.Join(root, "app")})
	for _, f := range []string{"shared/v.go", "go.work", "go.work.sum", "app/main.go"} {
		if _, ok := g.Reads(filepath.Join(root, filepath.FromSlash(f))); !ok {
			t.Errorf("the graph does not hold %s: %v", f, g.Files)
		}
	}
}

// Tags and the environment are the build's: a file behind a tag is read
// with the tag, and not without it.
func TestGraphFollowsTheBuildsTags(t *testing.T) {
	root := t.TempDir()
	tree(t, root, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
		"dev.go":  "//go:build dev\n\npackage main\n",
	})
	dev := filepath.Join(root, "dev.go")
	if _, ok := load(t, Options{Dir: root}).Reads(dev); ok {
		t.Error("dev.go is read without the dev tag")
	}
	if _, ok := load(t, Options{Dir: root, Tags: []string{"dev"}}).Reads(dev); !ok {
		t.Error("dev.go is not read with the dev tag")
	}
}

// A package that does not compile yet (an import of a package that does
// not exist, mid-edit) still gives the graph of the rest, and the error.
func TestGraphOfABrokenImport(t *testing.T) {
	root := t.TempDir()
	tree(t, root, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n",
		"main.go": "package main\n\nimport _ \"example.com/app/nope\"\n\nfunc main() {}\n",
	})
	g := load(t, Options{Dir: root})
	if _, ok := g.Reads(filepath.Join(root, "main.go")); !ok {
		t.Error("main.go is not in the graph of a broken build")
	}
	if len(g.Errors) == 0 {
		t.Error("no error for the missing package")
	}
}

func TestListFlags(t *testing.T) {
	got := listFlags([]string{"-race", "-gcflags=all=-N -l", "-mod", "vendor", "-trimpath", "-modfile=dev.mod", "-ldflags", "-race", "-gcflags", "-N"})
	want := "-race -mod vendor -modfile=dev.mod"
	if strings.Join(got, " ") != want {
		t.Errorf("listFlags = %q, want %q", got, want)
	}
}
