//go:build linux

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
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
// mode, gzip-compressed or plain, and the swap, to pid1's "started"
// record. Each size alternates two binaries that differ in one constant,
// as builds do, so that each Start sends.
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
	}
	fmt.Printf("\nkubernetes mode: the binary into the dev pod and the swap (Runner.Start: exec of pid1's receive mode, SIGHUP, pid1's started record); %d swaps each\n", n)
	fmt.Printf("%-20s %9s %9s %12s %12s %9s\n", "binary", "size", "gzipped", "gzip median", "plain median", "plain/gzip")
	for _, s := range sizes {
		dir := filepath.Join(work, "transfer-"+strings.ReplaceAll(s.name, " ", "-"))
		bins := [2]string{}
		for i, v := range []string{"a", "b"} {
			bins[i] = transferBinary(dir, tools, s.embed, goarch, v)
		}
		data, err := os.ReadFile(bins[0])
		bench.Check(err)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(data)
		zw.Close()
		med := map[bool]time.Duration{}
		for _, plain := range []bool{false, true} {
			med[plain] = bench.Median(transferRuns(ctx, c, work, dir, pid1Bin, goarch, bins, plain, n))
		}
		mb := func(n int) string { return fmt.Sprintf("%.1fMB", float64(n)/1e6) }
		fmt.Printf("%-20s %9s %9s %12s %12s %9.2f\n", s.name, mb(len(data)), mb(gz.Len()), bench.MS(med[false]), bench.MS(med[true]), float64(med[true])/float64(med[false]))
	}
}

// transferRuns runs a dev pod of kubeImage and swaps in bins, alternately,
// n times, returning how long each Start took.
func transferRuns(ctx context.Context, c *kube.Client, work, dir, pid1Bin, goarch string, bins [2]string, plain bool, n int) []time.Duration {
	r, err := kube.New(kube.Options{
		Client: c, Project: dir, Image: kubeImage, PID1: pid1Bin, GOARCH: goarch,
		StopSignal: 15, StopTimeout: 5 * time.Second, Transfer: map[bool]string{true: "plain", false: "gzip"}[plain],
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
// embedded, and version v; it returns the binary's path.
func transferBinary(dir, tools string, embed []string, goarch, v string) string {
	src := filepath.Join(dir, "src-"+v)
	makeApp(src, "hello")
	var b strings.Builder
	b.WriteString("package main\n\nimport _ \"embed\"\n\n")
	for i, t := range embed {
		data, err := os.ReadFile(filepath.Join(tools, t))
		bench.Check(err)
		bench.Check(os.WriteFile(filepath.Join(src, fmt.Sprintf("blob%d", i)), data, 0o644))
		fmt.Fprintf(&b, "//go:embed blob%d\nvar blob%d []byte\n\n", i, i)
	}
	b.WriteString("func init() {\n")
	for i := range embed {
		fmt.Fprintf(&b, "\t_ = blob%d[0]\n", i)
	}
	b.WriteString("}\n")
	bench.Write(src, "blobs.go", b.String())
	file, content := versionFile(src, "hello", "main", v)
	bench.Check(os.WriteFile(file, []byte(content), 0o644))
	out := filepath.Join(dir, "app-"+v)
	build := exec.Command("go", "build", "-o", out, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	bench.Check(build.Run())
	return out
}
