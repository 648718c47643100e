//go:build unix

package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a Progress that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	compiled  []string
	toCompile []int
	done      int
}

func (r *recorder) Compiling(pkg string) {
	r.mu.Lock()
	r.compiled = append(r.compiled, pkg)
	r.mu.Unlock()
}
func (r *recorder) ToCompile(n int) { r.mu.Lock(); r.toCompile = append(r.toCompile, n); r.mu.Unlock() }
func (r *recorder) Done()           { r.mu.Lock(); r.done++; r.mu.Unlock() }

// A build with an empty cache compiles the standard library's packages it
// needs: each is told as it starts, and so is how many there are. A failed
// build's output is the compiler's, as without -json.
func TestGoBuildTellsItsProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles part of the standard library")
	}
	defer func(n int64) { countMany = n }(countMany)
	countMany = 16 // of the 60 this build compiles
	dir := module(t, hello)
	cache := []string{"GOCACHE=" + t.TempDir()}
	r := &recorder{}
	b := &GoBuild{Dir: dir, OutDir: filepath.Join(dir, "out"), Env: cache, Progress: r}
	if _, err := b.Build(context.Background(), Trigger{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.compiled, "fmt") || !slices.Contains(r.compiled, "example.com/app") {
		t.Errorf("told of %q; want fmt and example.com/app among them", r.compiled)
	}
	if len(r.toCompile) != 1 || r.toCompile[0] < len(r.compiled)-2 || r.toCompile[0] > len(r.compiled)+4 {
		t.Errorf("told %v to compile, having compiled %d", r.toCompile, len(r.compiled))
	}
	if r.done != 1 {
		t.Errorf("Done told %d times, want 1", r.done)
	}

	*r = recorder{}
	broken := module(t, "package main\n\nfunc main() { undefinedThing() }\n")
	b = &GoBuild{Dir: broken, OutDir: filepath.Join(broken, "out"), Env: cache, Progress: r}
	_, err := b.Build(context.Background(), Trigger{})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build = %v, want a *BuildError", err)
	}
	if want := "# example.com/app\n./main.go:3:15: undefined: undefinedThing\n"; string(be.Output) != want {
		t.Errorf("output %q, want the compiler's %q", be.Output, want)
	}
	if !slices.Equal(r.compiled, []string{"example.com/app"}) || len(r.toCompile) != 0 || r.done != 1 {
		t.Errorf("a quick build told %q compiled, %v to compile, %d done", r.compiled, r.toCompile, r.done)
	}
}

func TestBuildEventsPassOnWhatIsNotAnEvent(t *testing.T) {
	var out bytes.Buffer
	r := &recorder{}
	e := newBuildEvents(&out, r)
	stream := `{"ImportPath":"fmt","Action":"build-output","Output":"fmt\n"}
go: some early error
{"ImportPath":"x","Action":"build-output","Output":"# x\n"}
{"ImportPath":"x","Action":"build-output","Output":"x.go:1:1: oops\n"}
{"ImportPath":"x","Action":"build-fail"}
{"ImportPath":"x","Action":"build-output","Output":"no end"}`
	for i := 0; i < len(stream); i += 7 { // in pieces, as a pipe gives it
		e.Write([]byte(stream[i:min(i+7, len(stream))]))
	}
	e.flush()
	if want := "go: some early error\n# x\nx.go:1:1: oops\nno end"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if !slices.Equal(r.compiled, []string{"fmt"}) {
		t.Errorf("compiled %q, want fmt", r.compiled)
	}
}

// A go command older than -json (Go 1.24) refuses the flag: the build runs
// again without it, and so does every build after.
func TestGoBuildWithoutJSONBuildsAsBefore(t *testing.T) {
	real, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	old := "#!/bin/sh\necho \"$*\" >> " + calls + "\nfor a; do [ \"$a\" = -json ] && { echo 'flag provided but not defined: -json' >&2; exit 2; }; done\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(old), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := module(t, hello)
	b := &GoBuild{Dir: dir, OutDir: filepath.Join(dir, "out"), Progress: &recorder{}}
	for range 2 {
		if _, err := b.Build(context.Background(), Trigger{}); err != nil {
			t.Fatal(err)
		}
	}
	log, _ := os.ReadFile(calls)
	if n := strings.Count(string(log), "-json"); n != 1 {
		t.Errorf("-json given %d times, want once:\n%s", n, log)
	}
	if n := strings.Count(string(log), "build"); n != 3 {
		t.Errorf("%d builds, want 3 (one refused, two built):\n%s", n, log)
	}
}
