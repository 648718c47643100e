package pid1

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
	"time"
)

//go:embed cmd/pid1/main.go
var source []byte

// Build builds pid1 for goos/goarch with the local go command, once per
// source, Go version and platform, into a cache under cacheDir, and returns
// the binary's path. devrun needs the go command to build the app anyway.
func Build(ctx context.Context, cacheDir, goos, goarch string) (string, error) {
	sum := sha256.Sum256(append(source, runtime.Version()...))
	dir := filepath.Join(cacheDir, "pid1-"+hex.EncodeToString(sum[:6])+"-"+goos+"-"+goarch)
	return buildCached(ctx, dir, "pid1", goos, goarch, map[string][]byte{"go.mod": []byte("module devrun.local/pid1\n\ngo 1.22\n"), "main.go": source},
		[]string{"build", "-trimpath", "-ldflags=-s -w", "-o", "pid1", "."})
}

// DelveVersion is the Delve that devrun builds for the dev container.
const DelveVersion = "v1.27.2"

// BuildDelve builds dlv, Delve's command, for goos/goarch and static, once
// per Delve and Go version and platform, into a cache under cacheDir, and
// returns the binary's path. Its sources come from the module cache or the
// Go module proxy: a first build takes about a minute.
func BuildDelve(ctx context.Context, cacheDir, goos, goarch string) (string, error) {
	dir := filepath.Join(cacheDir, "dlv-"+DelveVersion+"-"+runtime.Version()+"-"+goos+"-"+goarch)
	bin, err := buildCached(ctx, dir, "dlv", goos, goarch, map[string][]byte{"go.mod": []byte("module devrun.local/dlv\n\ngo 1.22\n")},
		[]string{"get", "github.com/go-delve/delve/cmd/dlv@" + DelveVersion},
		[]string{"build", "-trimpath", "-ldflags=-s -w", "-o", "dlv", "github.com/go-delve/delve/cmd/dlv"})
	if err != nil {
		return "", fmt.Errorf("%w\n(devrun builds Delve %s for the container from the Go module proxy: is it reachable? see go env GOPROXY)", err, DelveVersion)
	}
	return bin, nil
}

// buildCached runs the go commands in a new module of files, for
// goos/goarch, static, and puts the binary name they build at dir/name,
// unless it is there already. Several devruns may build it at once: each
// builds in a directory of its own and renames the binary into place, so
// the binary at the path is always whole, whichever build finishes first.
func buildCached(ctx context.Context, dir, name, goos, goarch string, files map[string][]byte, cmds ...[]string) (string, error) {
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	src, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	defer os.RemoveAll(src)
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(src, f), content, 0o644); err != nil {
			return "", fmt.Errorf("building %s: %w", name, err)
		}
	}
	for _, args := range cmds {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = src
		cmd.WaitDelay = time.Second
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s for %s/%s: go %s: %w\n%s", name, goos, goarch, args[0], err, out)
		}
	}
	if err := os.Rename(filepath.Join(src, name), bin); err != nil {
		// Windows refuses to replace a file in use: another build's
		// identical binary is in place.
		if _, statErr := os.Stat(bin); statErr == nil {
			return bin, nil
		}
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	return bin, nil
}
