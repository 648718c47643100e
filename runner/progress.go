package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
)

// A Progress is shown how a long build goes. Its methods may be called from
// two goroutines at once (the build's output and the count of what it has to
// compile), and, when it serves several GoBuilds, from each of their builds:
// it must be safe for concurrent use.
type Progress interface {
	// Compiling says that the go command has started to compile pkg.
	Compiling(pkg string)
	// ToCompile says how many packages the build has to compile in all;
	// it is told once, and only of builds that have run for a second and
	// compiled 100 packages (see countMany).
	ToCompile(n int)
	// Done says that the build has ended, whether it succeeded or not.
	Done()
}

// What a build has to compile is counted (a go list of the whole graph,
// a second of CPU on an app of 1,600 packages) only once it has run for
// countAfter and compiled countMany packages: a first build, or one after
// an upgrade of a dependency, which take tens of seconds. Not for the
// loop's builds, which compile the edited package and those that import it
// (31 in the benchmark's deep edit) and link: there that second of CPU
// was taken from the link (the deep edit's build went from 0.85 of the
// floor's to 0.94).
var (
	countAfter = time.Second
	countMany  = int64(100)
)

// progress returns b.Progress unless the build runs a command of the
// user's or a go command older than -json (Go 1.24).
func (b *GoBuild) progress() Progress {
	if b.Progress == nil || len(b.Command) > 0 || b.noJSON.Load() {
		return nil
	}
	return b.Progress
}

// countToCompile counts, once the build has run for countAfter and many is
// closed, the packages it has to compile (go list's stale ones), and tells
// progress.
// The returned func stops the count and waits for it.
func (b *GoBuild) countToCompile(ctx context.Context, progress Progress, many <-chan struct{}, compiled func() int) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, wait := range []<-chan time.Time{time.After(countAfter), nil} {
			select {
			case <-ctx.Done():
				return
			case <-wait:
			case <-many:
			}
		}
		args := []string{"list", "-e", "-deps", "-f", "{{if .Stale}}x{{end}}"}
		if len(b.Tags) > 0 {
			args = append(args, "-tags", strings.Join(b.Tags, ","))
		}
		args = append(args, b.Flags...)
		pkg := b.Package
		if pkg == "" {
			pkg = "."
		}
		// Those compiled so far are no longer stale, or being compiled: the
		// count is theirs and the stale ones' (over by those in flight).
		before := compiled()
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Dir = b.Dir
		cmd.Env = append(os.Environ(), b.Env...)
		cmd.WaitDelay = time.Second
		out, err := cmd.Output()
		if err != nil || ctx.Err() != nil {
			return
		}
		progress.ToCompile(before + bytes.Count(out, []byte("x")))
	}()
	return func() {
		cancel()
		<-done
	}
}

// buildEvents reads the go command's -json events: the -v events, whose
// output is the package's own path, go to progress, and the rest of the
// output, which is the build's output as it would be without -json, to
// output; a line that is no event (the go command's early errors, on
// stderr) is passed on as it is. Write and flush are called from one
// goroutine at a time (exec's copies of the build's stdout and stderr, then
// Build once Wait has returned); count from any.
type buildEvents struct {
	output   io.Writer
	progress Progress
	partial  []byte
	compiled atomic.Int64  // packages started; read by the count too
	many     chan struct{} // closed once countMany packages are compiled
}

func newBuildEvents(output io.Writer, progress Progress) *buildEvents {
	return &buildEvents{output: output, progress: progress, many: make(chan struct{})}
}

// Write takes the next part of the event stream.
func (e *buildEvents) Write(p []byte) (int, error) {
	e.partial = append(e.partial, p...)
	for {
		i := bytes.IndexByte(e.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		e.line(e.partial[:i+1])
		e.partial = e.partial[i+1:]
	}
}

// flush takes what is left of a last line without its end.
func (e *buildEvents) flush() {
	if len(e.partial) > 0 {
		e.line(e.partial)
		e.partial = nil
	}
}

func (e *buildEvents) line(l []byte) {
	var ev struct{ ImportPath, Action, Output string }
	if err := json.Unmarshal(l, &ev); err != nil || ev.Action == "" {
		e.output.Write(l) // not an event: pass it on as it is
		return
	}
	switch {
	case ev.Action != "build-output":
	case ev.Output == ev.ImportPath+"\n":
		e.progress.Compiling(ev.ImportPath)
		if e.compiled.Add(1) == countMany {
			close(e.many)
		}
	default:
		io.WriteString(e.output, ev.Output)
	}
}

// count returns how many packages the build has started to compile.
func (e *buildEvents) count() int { return int(e.compiled.Load()) }
