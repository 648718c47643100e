//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/devrun/devrun/internal/dockertest"
)

// devrunCmd runs the devrun command in dir and returns its combined output.
func devrunCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("devrun")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fixtureArgs point the Dockerfile's base images at the local fixtures.
var fixtureArgs = []string{"--build-arg", "GO_IMAGE=" + dockertest.GolangImage, "--build-arg", "RUNTIME_IMAGE=" + dockertest.BusyboxImage}

// The example app's image, from the Dockerfile devrun init writes, builds
// through BuildKit, runs and answers; a one-line change reuses the module
// download layer; the image is the base plus the binary.
func TestInitBuildAndSmokeTheExample(t *testing.T) {
	c := dockertest.Engine(t)
	dockertest.GolangImages(t, c)
	dir := t.TempDir()
	for _, f := range []string{"main.go", "go.mod"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "hello", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	out, err := devrunCmd(t, dir, "init", "--image.port", "8080")
	if err != nil {
		t.Fatalf("devrun init: %v\n%s", err, out)
	}
	df, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	for _, want := range []string{"ARG GO_IMAGE=golang:1.22-alpine", "ARG RUNTIME_IMAGE=alpine:3.20", "--mount=type=cache,id=hello-gobuild,target=/root/.cache/go-build",
		"COPY go.* ./", "go mod download", `-trimpath -ldflags="-s -w"`, "USER 65534:65534", "EXPOSE 8080", `CMD ["/usr/local/bin/hello"]`,
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("the Dockerfile lacks %q:\n%s", want, df)
		}
	}
	if out, err := devrunCmd(t, dir, "init"); err == nil || !strings.Contains(out, "overwrites nothing without --force") {
		t.Errorf("a second init: %v\n%s", err, out)
	}

	tag := "devrun-test/hello:e2e"
	t.Cleanup(func() { c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}) })
	build := append([]string{"build", "-t", tag, "--smoke", "--image.port", "8080"}, fixtureArgs...)
	out, err = devrunCmd(t, dir, build...)
	if err != nil {
		t.Fatalf("devrun build: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`devrun: built [0-9a-f]{12} in .* with buildkit: devrun-test/hello:e2e`).MatchString(out) ||
		!strings.Contains(out, "smoke test passed: the image ran for 3s; port 8080 answered 200 OK") {
		t.Errorf("build output:\n%s", out)
	}

	// The image is the runtime base plus the binary, plus at most 1 MB.
	img, err := c.ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := c.ImageInspect(context.Background(), dockertest.BusyboxImage)
	bin := filepath.Join(t.TempDir(), "hello")
	gb := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	gb.Dir, gb.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := gb.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fi, _ := os.Stat(bin)
	if limit := base.Size + fi.Size() + 1_000_000; img.Size > limit {
		t.Errorf("the image is %d bytes, more than base %d + binary %d + 1 MB", img.Size, base.Size, fi.Size())
	}

	// A one-line change: the module download layer is reused.
	main, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.Replace(string(main), `"v1"`, `"v2"`, 1)), 0o644)
	out, err = devrunCmd(t, dir, append([]string{"build", "-t", tag}, fixtureArgs...)...)
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\[build \d/\d\] RUN --mount=type=cache,id=hello-gomod,target=/go/pkg/mod     go mod download\s+CACHED$`).MatchString(out) {
		t.Errorf("the go mod download layer was not reused:\n%s", out)
	}
}

// Bad input gets a one-line cause and what to do.
func TestBuildBadInput(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	out, err := devrunCmd(t, dir, "build")
	if err == nil || !strings.Contains(out, "reading the Dockerfile: open Dockerfile: no such file or directory; 'devrun init' writes one") {
		t.Errorf("no Dockerfile: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY\n"), 0o644)
	out, err = devrunCmd(t, dir, "build")
	if err == nil || !strings.Contains(out, "Dockerfile does not parse") {
		t.Errorf("a Dockerfile that does not parse: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+dockertest.BusyboxImage+"\nCOPY main.go /\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("TOKEN=secret\n"), 0o644)
	dockertest.Images(t, dockertest.Engine(t))
	out, err = devrunCmd(t, dir, "build", "-t", "devrun-test/secret:e2e")
	if err != nil || !strings.Contains(out, "the build context holds what looks like secrets: .env; add them to .dockerignore") {
		t.Errorf("a .env in the context: %v\n%s", err, out)
	}
	dockertest.Engine(t).ImageRemove(context.Background(), "devrun-test/secret:e2e", client.ImageRemoveOptions{Force: true})
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+dockertest.BusyboxImage+"\nRUN echo the step said boom && false\n"), 0o644)
	out, err = devrunCmd(t, dir, "build", "-t", "devrun-test/fails:e2e")
	if err == nil || !regexp.MustCompile(`step \[\d/\d\] RUN echo the step said boom && false failed: .*exit code: 1\n.*the step said boom`).MatchString(out) {
		t.Errorf("a failing step: %v\n%s", err, out)
	}
	out, err = devrunCmd(t, dir, "build", "--image.builder", "sometimes")
	if err == nil || !strings.Contains(out, `image.builder (from flag --image.builder): must be one of auto, buildkit, classic`) {
		t.Errorf("a bad builder: %v\n%s", err, out)
	}
}

// The context devrun sends is the docker CLI's, file for file and byte for
// byte: both are sent through the same classic builder, which lists what it
// got, with checksums.
func TestDockerignoreLikeTheDockerCLI(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the docker CLI is needed to compare with: ", err)
	}
	c := dockertest.Engine(t)
	dockertest.Images(t, c)
	dir := t.TempDir()
	files := map[string]string{
		".dockerignore": "# comment\n*.log\n!keep.log\n**/secret*\ndocs/\n!docs/README.md\nvendor/**/*.txt\n/abs.txt\nsub/../other.txt\nDockerfile\n.dockerignore\n**/*.tmp\n!important.tmp\n",
		"Dockerfile":    "FROM " + dockertest.BusyboxImage + "\nARG NONCE\nCOPY . /ctx\nRUN echo $NONCE && cd /ctx && /bin/busybox find . -type f -exec /bin/busybox md5sum {} +\n",
		"a.log":         "a", "keep.log": "k", "x/secret.txt": "s", "x/y/secret2": "s2", "docs/a.md": "d", "docs/README.md": "r",
		"vendor/m/a.txt": "t", "vendor/m/b.go": "b", "abs.txt": "1", "sub/abs.txt": "2", "other.txt": "o", "main.go": "package main",
		"with space.txt": "sp", "dir/sub/deep.go": "deep", "x.tmp": "t", "important.tmp": "i", "ünï.txt": "u",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	nonce := fmt.Sprint(os.Getpid())
	cli := exec.Command("docker", "build", "--no-cache", "--build-arg", "NONCE="+nonce, "-t", "devrun-test/ctx:cli", ".")
	cli.Dir, cli.Env = dir, append(os.Environ(), "DOCKER_BUILDKIT=0")
	cliOut, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, cliOut)
	}
	ours, err := devrunCmd(t, dir, "build", "--image.builder", "classic", "--build-arg", "NONCE="+nonce+"x", "-t", "devrun-test/ctx:devrun")
	if err != nil {
		t.Fatalf("devrun build: %v\n%s", err, ours)
	}
	t.Cleanup(func() {
		for _, tag := range []string{"devrun-test/ctx:cli", "devrun-test/ctx:devrun"} {
			c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true})
		}
	})
	sums := regexp.MustCompile(`(?m)^[0-9a-f]{32}  \./.*$`)
	want, got := sums.FindAllString(string(cliOut), -1), sums.FindAllString(ours, -1)
	slices.Sort(want)
	slices.Sort(got)
	if len(want) < 8 || !slices.Equal(got, want) {
		t.Errorf("the contexts differ:\ndocker CLI: %q\ndevrun:     %q", want, got)
	}
}
