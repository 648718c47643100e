// Package dockertest makes the images and checks that devrun's container
// tests need, on the real engine. Nothing is pulled: images are imported from
// root filesystems made here, and cached on the engine by tag.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devrun/devrun/docker"
	"github.com/devrun/devrun/image"
	"github.com/devrun/devrun/internal/need"
)

// Image tags. Bump the version when a root filesystem changes.
const (
	BusyboxImage = "devrun-test/busybox:1" // Alpine-like: a busybox shell and tools
	ScratchImage = "devrun-test/scratch:1" // no shell, no files but /etc/passwd and /tmp
	// GolangImage stands in for golang:<version>-alpine: busybox, this
	// machine's Go toolchain at /usr/local/go, and CA certificates.
	GolangImage = "devrun-test/golang:1"
)

// Engine connects to the engine. Without one, the test is skipped, saying
// why (a contributor's laptop), unless the environment says the engine is
// required (TESTS_REQUIRE=docker, as CI sets it): then it fails (see package need).
func Engine(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := docker.Connect(ctx)
	if err != nil {
		need.Skip(t, "docker", "no Docker engine: "+err.Error())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Images makes both fixture images, if the engine lacks them.
func Images(t testing.TB, c *client.Client) {
	t.Helper()
	if err := EnsureImages(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// EnsureImages makes both fixture images, if the engine lacks them.
func EnsureImages(ctx context.Context, c *client.Client) error {
	if err := ensure(ctx, c, ScratchImage, nil); err != nil {
		return err
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("the busybox fixture needs a static /bin/busybox (Debian: busybox-static): %w", err)
	}
	return ensure(ctx, c, BusyboxImage, busybox)
}

func ensure(ctx context.Context, c *client.Client, tag string, busybox []byte) error {
	if _, err := c.ImageInspect(ctx, tag); err == nil {
		return nil
	}
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootFS(busybox)), SourceName: "-"}, tag,
		client.ImageImportOptions{Changes: []string{"ENV PATH=/bin:/usr/bin", "CMD [\"/bin/sh\"]"}})
	if err != nil {
		return fmt.Errorf("importing %s: %w", tag, err)
	}
	defer res.Close()
	var out bytes.Buffer
	out.ReadFrom(res)
	if _, err := c.ImageInspect(ctx, tag); err != nil {
		return fmt.Errorf("importing %s: %w\n%s", tag, err, out.String())
	}
	return nil
}

// rootFS returns a tar of a minimal root filesystem; with busybox, /bin holds
// it and its shell.
func rootFS(busybox []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dir := func(name string, mode int64) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode, ModTime: now})
	}
	file := func(name string, mode int64, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: now})
		tw.Write(data)
	}
	dir("etc/", 0o755)
	dir("tmp/", 0o1777)
	file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	file("etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\n"))
	if busybox != nil {
		dir("bin/", 0o755)
		file("bin/busybox", 0o755, busybox)
		for _, name := range []string{"sh", "ls", "cat", "sleep", "ps", "kill", "wget", "echo", "true"} {
			tw.WriteHeader(&tar.Header{Name: "bin/" + name, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: now})
		}
	}
	tw.Close() // writes to memory: no error
	return buf.Bytes()
}

// ProjectContainers lists the containers, running or not, that devrun made
// for the project in dir.
func ProjectContainers(t testing.TB, c *client.Client, dir string) []string {
	t.Helper()
	list, err := c.ContainerList(context.Background(), client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", docker.LabelProject+"="+docker.ProjectHash(dir)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range list.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// RemoveProjectContainers removes what ProjectContainers lists: a test's cleanup.
func RemoveProjectContainers(t testing.TB, c *client.Client, dir string) {
	for _, id := range ProjectContainers(t, c, dir) {
		c.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
	}
}

// GolangImages makes the busybox image and the Go toolchain image, if the
// engine lacks them. The toolchain is this machine's GOROOT.
func GolangImages(t testing.TB, c *client.Client) {
	t.Helper()
	Images(t, c)
	ctx := context.Background()
	if _, err := c.ImageInspect(ctx, GolangImage); err == nil {
		return
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(golangRootFS(pw, strings.TrimSpace(string(goroot)))) }()
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, GolangImage,
		client.ImageImportOptions{Changes: []string{
			"ENV PATH=/usr/local/go/bin:/go/bin:/bin GOPATH=/go HOME=/root GOTOOLCHAIN=local CGO_ENABLED=0",
			"WORKDIR /go",
		}})
	if err != nil {
		t.Fatalf("importing %s: %v", GolangImage, err)
	}
	io.Copy(io.Discard, res)
	res.Close()
	if _, err := c.ImageInspect(ctx, GolangImage); err != nil {
		t.Fatalf("importing %s: %v", GolangImage, err)
	}
}

// golangRootFS writes the Go image's root filesystem as a tar to w.
func golangRootFS(w io.Writer, goroot string) error {
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	base := tar.NewReader(bytes.NewReader(rootFS(busybox)))
	for { // the busybox tree first
		h, err := base.Next()
		if err == io.EOF {
			break
		}
		tw.WriteHeader(h)
		io.Copy(tw, base)
	}
	now := time.Now()
	for _, d := range []string{"root/", "go/", "etc/ssl/", "etc/ssl/certs/", "usr/", "usr/local/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now})
	}
	if certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		tw.WriteHeader(&tar.Header{Name: "etc/ssl/certs/ca-certificates.crt", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(certs)), ModTime: now})
		tw.Write(certs)
	}
	skip := map[string]bool{"test": true, "api": true, "doc": true, "misc": true, "testdata": true, ".git": true}
	err = filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skip[d.Name()] {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(goroot, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		h.Name = filepath.ToSlash(filepath.Join("usr/local/go", rel))
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// SidecarImage builds an image laid out as devrun's own Dockerfile lays it
// out, from GolangImage (made first with GolangImages) and devrun built here
// from the checkout at repo. It is cached by the binary's and the
// Dockerfile's hash, and returns the tag.
func SidecarImage(ctx context.Context, c *client.Client, repo string) (string, error) {
	dir, err := os.MkdirTemp("", "devrun-sidecar-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	gb := exec.Command("go", "build", "-o", filepath.Join(dir, "devrun"), "./cmd/devrun")
	gb.Dir, gb.Env = repo, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := gb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building devrun for the sidecar: %w\n%s", err, out)
	}
	df := `FROM ` + GolangImage + `
COPY devrun /usr/local/bin/devrun
RUN /bin/busybox --install -s /bin \
 && echo 'devrun:x:1000:1000::/home/devrun:/bin/sh' >> /etc/passwd \
 && mkdir -p /devrun /home/devrun/.cache /home/devrun/go /home/devrun/out \
 && chown -R 1000 /devrun /home/devrun
USER 1000
ENV HOME=/home/devrun GOPATH=/home/devrun/go GOCACHE=/home/devrun/.cache/go-build GOFLAGS=-buildvcs=false DEVRUN_BUILD_OUTPUT=/home/devrun/out/bin
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/devrun"]
CMD ["up", "--mode", "compose"]
`
	bin, err := os.ReadFile(filepath.Join(dir, "devrun"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(bin, df...))
	tag := "devrun-test/sidecar:" + hex.EncodeToString(sum[:6])
	if _, err := c.ImageInspect(ctx, tag); err == nil {
		return tag, nil
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", err
	}
	_, err = image.Build(ctx, image.BuildOptions{Engine: c, Dir: dir, Tags: []string{tag}, Progress: io.Discard, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", fmt.Errorf("building the sidecar image: %w", err)
	}
	return tag, nil
}

// FatalTB lets the fixtures serve a benchmark outside a test: a failure ends
// the program.
type FatalTB struct{ testing.TB }

// Helper does nothing.
func (FatalTB) Helper() {}

// Cleanup does nothing: the program's end cleans up.
func (FatalTB) Cleanup(func()) {}

// Fatal logs args and exits 1.
func (FatalTB) Fatal(args ...any) { log.Fatal(args...) }

// Fatalf logs and exits 1.
func (FatalTB) Fatalf(f string, a ...any) { log.Fatalf(f, a...) }
