package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// OutPlaceholder, in an argument of GoBuild.Command, stands for the path the
// build must write the binary to.
const OutPlaceholder = "{out}"

// GoBuild builds the app with `go build`, or with a command of the user's,
// into a fresh path for every build, so that the running binary is never
// overwritten (Windows locks a running .exe; Linux reports "text file busy").
// Only the running binary and the newest one are kept. Its fields must not be
// changed once Build has been called; Build is safe for concurrent use.
type GoBuild struct {
	Dir     string   // the module directory the build runs in
	Package string   // the main package; default "."
	OutDir  string   // where binaries are written: OutDir/<n>/Name
	Name    string   // the binary's name; default "app"
	Flags   []string // further `go build` flags, such as -race or -gcflags=...
	LDFlags string   // -ldflags
	Tags    []string // -tags
	Env     []string // "KEY=value" entries added to devrun's environment
	// Command, when set, replaces `go build`: an argv, run without a shell, in
	// which "{out}" stands for the output path. Without "{out}" the command must
	// write OutDir/Name itself.
	Command []string
	// PIDFile, when set, records the running build's process group, so that
	// the next devrun can stop a build that a killed devrun left (KillLeftover).
	PIDFile string
	// Progress, when set, is shown the packages each build compiles, as the
	// go command (1.24 and later: go build -v -json) starts them. Not used
	// with Command.
	Progress Progress

	noJSON atomic.Bool // the go command is older than -json (Go 1.24)

	mu   sync.Mutex
	seq  int
	kept []string // output directories, oldest first
}

// Build runs the build. On cancellation it kills the build's whole process
// group and removes what it wrote.
func (b *GoBuild) Build(ctx context.Context, trig Trigger) (Artifact, error) {
	dir, out, err := b.nextOutput()
	if err != nil {
		return "", err
	}
	progress := b.progress()
	argv := b.argv(out, progress != nil)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), b.Env...)
	if dir != "" {
		// The go command's work files go next to the output, so that a killed
		// build leaves nothing in the system's temporary directory and the
		// linked binary is moved, not copied, into place.
		tmp := filepath.Join(dir, "tmp")
		if err := os.Mkdir(tmp, 0o755); err != nil {
			discard(dir)
			return "", b.diskFull(fmt.Errorf("making the build's temporary directory: %w", err), nil)
		}
		defer os.RemoveAll(tmp)
		cmd.Env = append(cmd.Env, "GOTMPDIR="+tmp)
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	var events *buildEvents
	if progress != nil {
		// The events on stdout, early errors as plain lines on stderr: one
		// writer for both, which exec calls from one goroutine at a time.
		events = newBuildEvents(&output, progress)
		cmd.Stdout, cmd.Stderr = events, events
		defer progress.Done()
		defer b.countToCompile(ctx, progress, events.many, events.count)()
	}
	t := newTree(cmd)
	// A superseded build is killed at once: its output is discarded anyway,
	// and every millisecond it lingers delays the build that replaces it.
	cmd.Cancel = func() error { t.kill(); return nil }
	cmd.WaitDelay = time.Second
	err = t.start()
	if err == nil {
		b.recordPID(cmd)
		err = cmd.Wait()
		t.waited()
		b.recordPID(nil)
		if t.kill() { // anything the build left behind
			for i := 0; i < 100 && t.alive(); i++ {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	t.release()
	if events != nil {
		events.flush() // the writers are done once Wait has returned
	}
	if ctx.Err() != nil {
		discard(dir)
		return "", ctx.Err()
	}
	if err != nil {
		discard(dir)
		if progress != nil && bytes.Contains(output.Bytes(), []byte("flag provided but not defined: -json")) {
			b.noJSON.Store(true) // learnt once, at no cost to a go command that has it
			return b.Build(ctx, trig)
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) {
			return "", fmt.Errorf("running the build: %w", err)
		}
		return "", &BuildError{Output: output.Bytes(), Err: b.diskFull(err, output.Bytes())}
	}
	if _, err := os.Stat(out); err != nil {
		return "", &BuildError{Output: output.Bytes(), Err: fmt.Errorf("the build wrote no %s", out)}
	}
	b.keep(dir)
	return Artifact(out), nil
}

// nextOutput makes the directory for the next build.
func (b *GoBuild) nextOutput() (dir, out string, err error) {
	b.mu.Lock()
	b.seq++
	n := b.seq
	b.mu.Unlock()
	if n == 1 {
		b.removeStale()
	}
	name := b.Name
	if name == "" {
		name = "app"
	}
	if runtime.GOOS == "windows" && !strings.HasSuffix(name, ".exe") {
		name += ".exe"
	}
	if len(b.Command) > 0 && !strings.Contains(strings.Join(b.Command, " "), OutPlaceholder) {
		out, err := filepath.Abs(filepath.Join(b.OutDir, name))
		if err != nil {
			return "", "", fmt.Errorf("making the output directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", "", b.diskFull(fmt.Errorf("making the output directory: %w", err), nil)
		}
		return "", out, nil
	}
	outDir, err := filepath.Abs(b.OutDir)
	if err != nil {
		return "", "", fmt.Errorf("making the output directory: %w", err)
	}
	dir = filepath.Join(outDir, strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", b.diskFull(fmt.Errorf("making the output directory: %w", err), nil)
	}
	if err := os.WriteFile(filepath.Join(dir, outputMark), nil, 0o644); err != nil {
		return "", "", b.diskFull(fmt.Errorf("making the output directory: %w", err), nil)
	}
	return dir, filepath.Join(dir, name), nil
}

func (b *GoBuild) argv(out string, progress bool) []string {
	if len(b.Command) > 0 {
		argv := make([]string, len(b.Command))
		for i, a := range b.Command {
			argv[i] = strings.ReplaceAll(a, OutPlaceholder, out)
		}
		return argv
	}
	argv := []string{"go", "build", "-o", out}
	if progress {
		argv = append(argv, "-v", "-json")
	}
	if len(b.Tags) > 0 {
		argv = append(argv, "-tags", strings.Join(b.Tags, ","))
	}
	if b.LDFlags != "" {
		argv = append(argv, "-ldflags", b.LDFlags)
	}
	argv = append(argv, b.Flags...)
	pkg := b.Package
	if pkg == "" {
		pkg = "."
	}
	return append(argv, pkg)
}

// keep records a successful build's directory and removes all but the two
// newest: the one just built and the one that may still be running.
func (b *GoBuild) keep(dir string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if dir == "" {
		return // the user's command owns its output
	}
	b.kept = append(b.kept, dir)
	for len(b.kept) > 2 {
		os.RemoveAll(b.kept[0])
		b.kept = b.kept[1:]
	}
}

// A DiskFullError is a build that ran out of disk space. Its message says
// where the space is needed and how to make room.
type DiskFullError struct {
	OutDir string // the directory binaries are built into
	Err    error
}

// Error says that the disk is full, where, and how to make room.
func (e *DiskFullError) Error() string {
	return fmt.Sprintf("%v: the disk is full; free space on the disk that holds %s "+
		"(and the Go build cache, `go env GOCACHE`), or point build.output at another disk", e.Err, e.OutDir)
}

// Unwrap returns the error the build failed with.
func (e *DiskFullError) Unwrap() error { return e.Err }

// diskFull wraps err in a *DiskFullError when the build failed for lack of
// space: when err says so, or when the build's output does.
func (b *GoBuild) diskFull(err error, output []byte) error {
	full := false
	for _, errno := range diskFullErrnos {
		full = full || errors.Is(err, errno)
	}
	for _, phrase := range diskFullPhrases {
		full = full || bytes.Contains(output, []byte(phrase))
	}
	if !full {
		return err
	}
	dir, abserr := filepath.Abs(b.OutDir)
	if abserr != nil {
		dir = b.OutDir
	}
	return &DiskFullError{OutDir: dir, Err: err}
}

// diskFullPhrases are how the go command reports a full disk, on Unix and on
// Windows (ERROR_DISK_FULL).
var diskFullPhrases = []string{"no space left on device", "not enough space on the disk"}

// discard removes a build's output directory; "" names none.
func discard(dir string) {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// outputMark names the file that marks a numbered output directory as
// devrun's.
const outputMark = ".devrun-build"

// removeStale removes the numbered output directories of earlier runs, and
// nothing else: OutDir may be shared with the user's files (build.output:
// bin, or /tmp), so a numbered directory without devrun's mark stays.
func (b *GoBuild) removeStale() {
	entries, _ := os.ReadDir(b.OutDir)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		dir := filepath.Join(b.OutDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, outputMark)); err == nil {
			os.RemoveAll(dir)
		}
	}
}

// recordPID writes the running build's group to PIDFile, or removes the
// file when cmd is nil.
func (b *GoBuild) recordPID(cmd *exec.Cmd) {
	if b.PIDFile == "" {
		return
	}
	if cmd == nil {
		os.Remove(b.PIDFile)
		return
	}
	os.WriteFile(b.PIDFile, []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, cmd.Path)), 0o644)
}
