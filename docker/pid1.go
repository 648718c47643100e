package docker

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

//go:embed pid1/main.go
var pid1Source []byte

// BuildPID1 builds pid1 for goos/goarch with the local go command, once per
// source, Go version and platform, into a cache under cacheDir, and returns
// the binary's path. devrun needs the go command to build the app anyway.
// Several devruns may build it at once: each builds in a directory of its
// own and renames the binary into place, so the binary at the path is always
// whole, whichever build finishes first.
func BuildPID1(ctx context.Context, cacheDir, goos, goarch string) (string, error) {
	sum := sha256.Sum256(append(pid1Source, runtime.Version()...))
	dir := filepath.Join(cacheDir, "pid1-"+hex.EncodeToString(sum[:6])+"-"+goos+"-"+goarch)
	bin := filepath.Join(dir, "pid1")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building pid1: %w", err)
	}
	src, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("building pid1: %w", err)
	}
	defer os.RemoveAll(src)
	files := map[string][]byte{"go.mod": []byte("module devrun.local/pid1\n\ngo 1.22\n"), "main.go": pid1Source}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), content, 0o644); err != nil {
			return "", fmt.Errorf("building pid1: %w", err)
		}
	}
	tmp := filepath.Join(src, "pid1")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building pid1 for %s/%s: %w\n%s", goos, goarch, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		// Windows refuses to replace a file in use: another build's
		// identical binary is in place.
		if _, statErr := os.Stat(bin); statErr == nil {
			return bin, nil
		}
		return "", fmt.Errorf("building pid1: %w", err)
	}
	return bin, nil
}
