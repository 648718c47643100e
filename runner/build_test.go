//go:build unix

package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// module writes a main package printing msg into a new directory.
func module(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n",
		"main.go": src,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const hello = "package main\n\nimport \"fmt\"\n\nvar msg = \"hello\"\n\nfunc main() { fmt.Print(msg) }\n"

func TestGoBuildWritesAFreshBinaryEachTime(t *testing.T) {
	dir := module(t, hello)
	b := &GoBuild{Dir: dir, OutDir: filepath.Join(dir, ".devrun/bin"), Name: "hello", LDFlags: "-X main.msg=linked"}
	var arts []Artifact
	for range 3 {
		a, err := b.Build(context.Background(), Trigger{})
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, a)
	}
	if arts[0] == arts[1] || arts[1] == arts[2] {
		t.Errorf("artifacts reuse a path: %v", arts)
	}
	if _, err := os.Stat(string(arts[0])); !os.IsNotExist(err) {
		t.Errorf("the oldest binary %s is kept", arts[0])
	}
	out, err := exec.Command(string(arts[2])).Output()
	if err != nil || string(out) != "linked" {
		t.Errorf("running the build: %q, %v; want the -ldflags value", out, err)
	}
}

func TestGoBuildReportsCompilerErrors(t *testing.T) {
	dir := module(t, "package main\n\nfunc main() { undefinedThing() }\n")
	b := &GoBuild{Dir: dir, OutDir: filepath.Join(dir, "out")}
	_, err := b.Build(context.Background(), Trigger{})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build = %v, want a *BuildError", err)
	}
	if !strings.Contains(string(be.Output), "main.go:3:15: undefined: undefinedThing") {
		t.Errorf("output lacks the compiler's error:\n%s", be.Output)
	}
}

func TestGoBuildRunsTheUsersCommandWithoutAShell(t *testing.T) {
	dir := module(t, hello)
	b := &GoBuild{Dir: dir, OutDir: filepath.Join(dir, "out"), Command: []string{"go", "build", "-o", "{out}", "-ldflags", "-X 'main.msg=two words'", "."}}
	a, err := b.Build(context.Background(), Trigger{})
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(string(a)).Output(); string(out) != "two words" {
		t.Errorf("got %q, want the argument kept whole", out)
	}
}

func TestGoBuildStopsWhenCancelled(t *testing.T) {
	dir := module(t, hello)
	pidFile := filepath.Join(dir, "pid")
	b := &GoBuild{Dir: dir, OutDir: filepath.Join(dir, "out"),
		Command: []string{"sh", "-c", "sleep 60 & echo $$ > " + pidFile + "; wait"}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := b.Build(ctx, Trigger{})
		errc <- err
	}()
	pgid := waitFile(t, pidFile)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Build = %v, want context.Canceled", err)
	}
	if groupAlive(pgid) {
		killGroup(pgid)
		t.Error("the build's processes survived the cancellation")
	}
}

// build.output may be shared with the user's files (bin, or /tmp): a new
// devrun removes its own earlier builds there, and no numbered directory
// of anyone else's.
func TestGoBuildRemovesOnlyItsOwnStaleBuilds(t *testing.T) {
	dir := module(t, hello)
	out := filepath.Join(dir, "bin")
	b := &GoBuild{Dir: dir, OutDir: out}
	var a Artifact
	for range 2 {
		var err error
		if a, err = b.Build(context.Background(), Trigger{}); err != nil {
			t.Fatal(err)
		}
	}
	theirs := filepath.Join(out, "7", "keep.txt")
	os.MkdirAll(filepath.Dir(theirs), 0o755)
	os.WriteFile(theirs, []byte("mine"), 0o644)
	b2 := &GoBuild{Dir: dir, OutDir: out}
	if _, err := b2.Build(context.Background(), Trigger{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(string(a))); !os.IsNotExist(err) {
		t.Errorf("the earlier run's build %s is kept", a)
	}
	if _, err := os.Stat(theirs); err != nil {
		t.Errorf("a numbered directory that is not devrun's was removed: %v", err)
	}
}
