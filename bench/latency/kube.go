//go:build linux

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/devrun/devrun/internal/bench"
	"github.com/devrun/devrun/kube"
	"github.com/devrun/devrun/pid1"
	"github.com/devrun/devrun/runner"
)

// kubeImage is the image of the Kubernetes mode's dev pod: busybox, built
// and imported by hack/cluster/cluster.sh (never pulled).
const kubeImage = "devrun.local/busybox:1"

// startKubeDevrun runs devrun up in kubernetes mode, in the cluster of
// KUBECONFIG (hack/cluster/cluster.sh up), forwarding port to the app's
// 8080.
func startKubeDevrun(work, bin, name, dir string, port int) *devrunSwapper {
	d := startDevrun(work, bin, name, dir, port, []string{"--mode", "kubernetes",
		"--container.image", kubeImage,
		"--container.ports", fmt.Sprintf("%d:8080", port), "--container.env", "ADDR=:8080"})
	d.app = func() []int { return nil } // the app's PIDs are on the node: the new version's answer is what counts
	return d
}

// kubeTransfer measures what a swap in the dev pod costs against the
// binary's size: the binary sent through the exec API into pid1's receive
// mode, gzip-compressed, plain, or as a delta against the one in the pod
// (devrun's default), and the swap, to pid1's "started" record. Each size
// alternates two binaries, built as devrun's dev builds are, that differ
// by a statement added to a function, which moves the code linked after
// it, so that each Start sends. The embedded tools stand for an app's
// embedded assets, which an edit leaves as they are; bench/realapp (~1,600
// packages) is edited in one of its services' packages.
func kubeTransfer(work string, n int) {
	ctx := context.Background()
	c, err := kube.Connect("", "")
	bench.Check(err)
	goarch, _, err := c.Platform(ctx)
	bench.Check(err)
	pid1Bin, err := pid1.Build(ctx, work, "linux", goarch)
	bench.Check(err)
	tools := filepath.Join(runtime.GOROOT(), "pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH)
	sizes := []struct {
		name  string
		embed []string // Go binaries embedded in hello, to make a binary of a real app's size and compressibility
	}{
		{"hello", nil},
		{"hello+compile+vet", []string{"compile", "vet"}},
		{"hello+4 tools", []string{"compile", "compile", "compile", "vet", "fix"}},
		{"realapp", nil},
	}
	fmt.Printf("\nkubernetes mode: the binary into the dev pod and the swap (Runner.Start: exec of pid1's receive mode, SIGHUP, pid1's started record); %d swaps each\n", n)
	fmt.Printf("%-18s %8s %8s %8s %12s %12s %12s %11s %10s\n", "binary", "size", "gzipped", "delta", "gzip median", "plain median", "delta median", "plain/gzip", "delta/plain")
	for _, s := range sizes {
		dir := filepath.Join(work, "transfer-"+strings.ReplaceAll(s.name, " ", "-"))
		bins := [2]string{}
		for i, v := range []string{"a", "b"} {
			if s.name == "realapp" {
				bins[i] = transferRealapp(dir, goarch, v)
			} else {
				bins[i] = transferBinary(dir, tools, s.embed, goarch, v)
			}
		}
		a, err := os.ReadFile(bins[0])
		bench.Check(err)
		b, err := os.ReadFile(bins[1])
		bench.Check(err)
		var gz, delta bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(b)
		zw.Close()
		zw, _ = gzip.NewWriterLevel(&delta, gzip.BestSpeed)
		bench.Check(pid1.NewDeltaBase(a).Delta(zw, b))
		zw.Close()
		med := map[string]time.Duration{}
		for _, how := range []string{"gzip", "plain", ""} {
			med[how] = bench.Median(transferRuns(ctx, c, work, dir, pid1Bin, goarch, bins, how, n))
		}
		mb := func(n int) string { return fmt.Sprintf("%.1fMB", float64(n)/1e6) }
		fmt.Printf("%-18s %8s %8s %8s %12s %12s %12s %11.2f %10.2f\n", s.name, mb(len(b)), mb(gz.Len()), mb(delta.Len()),
			bench.MS(med["gzip"]), bench.MS(med["plain"]), bench.MS(med[""]), float64(med["plain"])/float64(med["gzip"]), float64(med[""])/float64(med["plain"]))
	}
}

// transferRuns runs a dev pod of kubeImage and swaps in bins, alternately,
// n times, with the kube.Options.Transfer how, returning how long each
// Start took.
func transferRuns(ctx context.Context, c *kube.Client, work, dir, pid1Bin, goarch string, bins [2]string, how string, n int) []time.Duration {
	r, err := kube.New(kube.Options{
		Client: c, Project: dir, Image: kubeImage, PID1: pid1Bin, GOARCH: goarch,
		StopSignal: 15, StopTimeout: 5 * time.Second, Transfer: how,
		Env: []string{"ADDR=:8080"}, Log: slog.New(slog.DiscardHandler), Stdout: io.Discard, Stderr: io.Discard,
	})
	bench.Check(err)
	bench.Check(r.Prepare(ctx))
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		bench.Check(r.Close(cctx))
	}()
	_, err = r.Start(ctx, runner.Artifact(bins[0])) // the pod's creation: not measured
	bench.Check(err)
	var took []time.Duration
	for i := 1; i <= n; i++ {
		start := time.Now()
		_, err := r.Start(ctx, runner.Artifact(bins[i%2]))
		bench.Check(err)
		took = append(took, time.Since(start))
	}
	return took
}

// transferBinary builds hello for linux/goarch, with the named Go tools
// embedded, and version v: "b" has a statement more in main, at the
// start of the package's code. It returns the binary's path.
func transferBinary(dir, tools string, embed []string, goarch, v string) string {
	src := filepath.Join(dir, "src-"+v)
	makeApp(src, "hello")
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n\t_ \"embed\"\n\t\"os\"\n)\n\n")
	for i, t := range embed {
		data, err := os.ReadFile(filepath.Join(tools, t))
		bench.Check(err)
		bench.Check(os.WriteFile(filepath.Join(src, fmt.Sprintf("blob%d", i)), data, 0o644))
		fmt.Fprintf(&b, "//go:embed blob%d\nvar blob%d []byte\n\n", i, i)
	}
	b.WriteString("func init() {\n")
	if v == "b" {
		b.WriteString("\tif len(os.Args) > 7 {\n\t\tprintln(\"seven\", len(os.Args[1]))\n\t}\n")
	}
	for i := range embed {
		fmt.Fprintf(&b, "\t_ = blob%d[0]\n", i)
	}
	b.WriteString("\t_ = os.Args\n}\n")
	bench.Write(src, "blobs.go", b.String())
	file, content := versionFile(src, "hello", "main", "v1")
	bench.Check(os.WriteFile(file, []byte(content), 0o644))
	return devBuild(src, filepath.Join(dir, "app-"+v), goarch)
}

// transferRealapp builds bench/realapp for linux/goarch: "b" with a
// statement more in one of its services' packages (internal/svc/s05).
func transferRealapp(dir, goarch, v string) string {
	src := makeApp(filepath.Join(dir, "src-"+v), "real")
	if v == "b" {
		file := filepath.Join(src, "internal", "svc", "s05", "svc.go")
		code, err := os.ReadFile(file)
		bench.Check(err)
		edited := strings.Replace(string(code), "func Describe() string {", "func Describe() string {\n\tif len(m05.Name()) > 1000 {\n\t\tpanic(\"long name: \" + m05.Name())\n\t}\n\t", 1)
		if edited == string(code) {
			log.Fatalf("%s: no func Describe to edit", file)
		}
		bench.Check(os.WriteFile(file, []byte(edited), 0o644))
	}
	return devBuild(src, filepath.Join(dir, "app-"+v), goarch)
}

// devBuild builds the package in src for linux/goarch into out, as
// devrun's dev profile does (runner/profile.go), and returns out.
func devBuild(src, out, goarch string) string {
	build := exec.Command("go", "build", "-buildvcs=false", "-ldflags=-s -w", "-o", out, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	bench.Check(build.Run())
	return out
}
