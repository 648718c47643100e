//go:build unix

package pid1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// pid1CacheEnv makes the test binary, run again by
// TestBuildPID1ConcurrentlyInTwoProcesses, one more concurrent builder.
const pid1CacheEnv = "DEVRUN_TEST_PID1_CACHE"

// Four devruns building pid1 at once into a fresh cache (three goroutines and
// another process) all get the same path to a whole, working binary, and
// leave nothing else in the cache.
func TestBuildPID1ConcurrentlyInTwoProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if cache := os.Getenv(pid1CacheEnv); cache != "" {
		// The other process: build once the parent says go.
		os.Stdout.WriteString("ready\n")
		io.ReadFull(os.Stdin, make([]byte, 1))
		bin, err := Build(ctx, cache, runtime.GOOS, runtime.GOARCH)
		if err != nil {
			os.Stdout.WriteString("error: " + strings.ReplaceAll(err.Error(), "\n", " | ") + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("path: " + bin + "\n")
		os.Exit(0)
	}

	cache := t.TempDir()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBuildPID1ConcurrentlyInTwoProcesses$", "-test.count=1")
	child.Env = append(os.Environ(), pid1CacheEnv+"="+cache)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("the other process: got %q (%v), want ready", lines.Text(), lines.Err())
	}

	const goroutines = 3
	paths := make([]string, goroutines+1)
	errs := make([]error, goroutines+1)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			<-start
			paths[i], errs[i] = Build(ctx, cache, runtime.GOOS, runtime.GOARCH)
		})
	}
	close(start)
	stdin.Write([]byte("g"))
	stdin.Close()
	wg.Wait()
	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	if err := child.Wait(); err != nil {
		errs[goroutines] = errors.New("the other process: " + err.Error() + ": " + out.String())
	} else if p, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "path: "); ok {
		paths[goroutines] = p
	} else {
		errs[goroutines] = errors.New("the other process said " + out.String())
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("builder %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	for i, p := range paths {
		if p != paths[0] {
			t.Errorf("builder %d got %s, builder 0 %s", i, p, paths[0])
		}
	}
	if rel, err := filepath.Rel(cache, paths[0]); err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("pid1 at %s, not in the cache %s", paths[0], cache)
	}

	// The binary is whole: it runs, and without an app it says how it is used.
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, paths[0])
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "usage: pid1") {
		t.Errorf("pid1 without arguments: %v, stderr %q; want exit status 2 and its usage", err, stderr.String())
	}

	// Nothing but the binary is left: no source, no temporary output.
	binRel, _ := filepath.Rel(cache, paths[0])
	var left []string
	filepath.WalkDir(cache, func(p string, _ fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(cache, p); rel != "." || err != nil {
			left = append(left, rel)
		}
		return nil
	})
	if want := []string{filepath.Dir(binRel), binRel}; !slices.Equal(left, want) {
		t.Errorf("the cache holds %v, want only %v", left, want)
	}
}
