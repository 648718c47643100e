package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/devrun/devrun/internal/need"
	"github.com/devrun/devrun/internal/tmpfs"
)

// The disk that holds the build output fills up: the build fails with an
// error that says so and where, the last good build keeps serving, and once
// there is room again the next edit is served.
func TestDiskFullKeepsTheOldAppServing(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	out, ok := tmpfs.Dir(t, "32m")
	if !ok {
		need.Skip(t, "root", "filling a disk needs a tmpfs: run as root")
	}
	p.start("--build.output", out)
	p.waitBody("v1")

	filler := fill(t, out)
	p.write("version.go", version("v2"))
	p.waitLog(`build failed .*the disk is full; free space on the disk that holds `+out, 1)
	if !strings.Contains(p.log(), "point build.output at another disk") {
		t.Error("the error does not say how to make room")
	}
	if body := get(p.url()); body != "v1" {
		t.Errorf("after the failed build the app answered %q, want v1", body)
	}

	os.Remove(filler)
	p.write("version.go", version("v3"))
	p.waitBody("v3")
	p.stop(os.Interrupt)
}

// fill writes a file into dir until the disk is full, and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}
