//go:build linux

// Command image measures devrun build on the example app, in one run: the
// first build, a rebuild after a one-line change and a rebuild with no
// change, through BuildKit with cache mounts and through the classic builder
// on the same Dockerfile (written by devrun init), against the floor of a
// plain `go build` of the same change on the host.
//
//	go run ./bench/image
//
// It uses the test fixtures as base images (nothing is pulled), and fresh
// cache-mount IDs, so the first build is cold.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/devrun/devrun/internal/dockertest"
)

func main() {
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "devrun-image-bench-")
	check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "devrun")
	run("", nil, "go", "build", "-o", bin, "./cmd/devrun")
	c := dockertest.Engine(dockertest.FatalTB{})
	dockertest.GolangImages(dockertest.FatalTB{}, c)

	fmt.Printf("devrun build of examples/hello: %s\n", time.Now().Format(time.DateOnly))
	fmt.Printf("%-10s %-22s %10s\n", "builder", "case", "time")
	for _, builder := range []string{"buildkit", "classic"} {
		dir := project(work, builder)
		tag := "devrun-bench/hello:" + builder
		build := func() time.Duration {
			start := time.Now()
			run(dir, nil, bin, "build", "--image.builder", builder, "-t", tag,
				"--build-arg", "GO_IMAGE="+dockertest.GolangImage, "--build-arg", "RUNTIME_IMAGE="+dockertest.BusyboxImage)
			return time.Since(start)
		}
		fmt.Printf("%-10s %-22s %10s\n", builder, "first build", ms(build()))
		edit(dir, "v2")
		fmt.Printf("%-10s %-22s %10s\n", builder, "one-line change", ms(build()))
		fmt.Printf("%-10s %-22s %10s\n", builder, "no change", ms(build()))
		c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true})
	}
	dir := project(work, "floor")
	run(dir, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", "app", ".")
	edit(dir, "v2")
	start := time.Now()
	run(dir, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", "app", ".")
	fmt.Printf("%-10s %-22s %10s\n", "floor", "go build, one change", ms(time.Since(start)))
}

// project copies examples/hello into a new directory, with devrun init's
// files, whose cache-mount IDs are made unique to this run.
func project(work, name string) string {
	dir := filepath.Join(work, name)
	check(os.MkdirAll(dir, 0o755))
	for _, f := range []string{"main.go", "go.mod"} {
		b, err := os.ReadFile(filepath.Join("examples/hello", f))
		check(err)
		check(os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	run(dir, nil, filepath.Join(work, "devrun"), "init")
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	check(err)
	id := fmt.Sprintf("id=bench%d-", time.Now().UnixNano())
	check(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.ReplaceAll(string(df), "id=hello-", id)), 0o644))
	return dir
}

func edit(dir, v string) {
	p := filepath.Join(dir, "main.go")
	b, err := os.ReadFile(p)
	check(err)
	check(os.WriteFile(p, []byte(strings.Replace(string(b), `"v1"`, `"`+v+`"`, 1)), 0o644))
}

func run(dir string, env []string, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
