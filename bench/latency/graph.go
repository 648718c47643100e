//go:build linux

package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/devrun/devrun/changes"
	"github.com/devrun/devrun/graph"
	"github.com/devrun/devrun/internal/bench"
)

// largePackages is the large app's number of packages (-packages).
var largePackages int

// generateLarge writes a module of n packages under pkg/, each importing
// the standard library and the one at half its index (a tree 11 deep for
// 1,500), all of them imported by the main package, which serves
// version.Version from a package of its own: an edit of the version
// rebuilds that package and main, and links the whole program, as an edit
// of a real app's handler does.
func generateLarge(dir string, n int) {
	bench.Write(dir, "go.mod", "module example.com/large\n\ngo 1.22\n")
	var imports, uses strings.Builder
	for i := range n {
		name := fmt.Sprintf("p%04d", i)
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"strings\"\n", name)
		if i > 0 {
			fmt.Fprintf(&b, "\n\t\"example.com/large/pkg/p%04d\"\n", i/2)
		}
		b.WriteString(")\n\n")
		if i > 0 {
			fmt.Fprintf(&b, "var _ = p%04d.F0\n\n", i/2)
		}
		for f := range 3 {
			fmt.Fprintf(&b, "// F%d transforms s.\nfunc F%d(s string) string {\n\treturn strings.Repeat(strings.TrimSpace(s), %d)\n}\n\n", f, f, f+1)
		}
		bench.Write(filepath.Join(dir, "pkg", name), name+".go", b.String())
		fmt.Fprintf(&imports, "\t\"example.com/large/pkg/%s\"\n", name)
		fmt.Fprintf(&uses, "\t_ = %s.F1\n", name)
	}
	bench.Check(os.MkdirAll(filepath.Join(dir, "version"), 0o755))
	bench.Write(dir, "main.go", "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n\n\t\"example.com/large/version\"\n"+imports.String()+
		")\n\nfunc main() {\n"+uses.String()+
		"\thttp.ListenAndServe(\"127.0.0.1:\"+os.Getenv(\"PORT\"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {\n\t\tfmt.Fprint(w, version.Version)\n\t}))\n}\n")
}

// graphCosts prints what the build graph of the app in dir costs, each
// against its floor, measured in this run: the go command listing the
// same packages (go list -deps, the least that knows them), devrun's
// first load (go list, and a hash of every file the build reads) and a
// load again (what a change of imports costs, off the edit-to-serve
// path), the heap the graph and the hashes take, and devrun's resident
// memory with the graph against without it.
func graphCosts(work, bin, dir string, n int) {
	ctx := context.Background()
	opts := graph.Options{Dir: dir}
	var floor, load, first, again []time.Duration
	var g *graph.Graph
	for range n {
		start := time.Now()
		cmd := exec.Command("go", "list", "-e", "-deps", ".")
		cmd.Dir = dir
		_, err := cmd.Output()
		bench.Check(err)
		floor = append(floor, time.Since(start))

		start = time.Now()
		g, err = graph.Load(ctx, opts)
		bench.Check(err)
		load = append(load, time.Since(start))

		p, err := changes.New(changes.Options{Dir: dir})
		bench.Check(err)
		start = time.Now()
		bench.Check(p.Load(ctx, opts))
		first = append(first, time.Since(start))
		start = time.Now()
		bench.Check(p.Load(ctx, opts))
		again = append(again, time.Since(start))
	}
	var bytes int64
	for f := range g.Files {
		if fi, err := os.Stat(f); err == nil {
			bytes += fi.Size()
		}
	}
	fmt.Printf("\nbuild graph of the large app: %d packages on this disk, %d files (%.1f MB) read by the build; %d runs each\n",
		len(g.Dirs), len(g.Files), float64(bytes)/1e6, n)
	fmt.Printf("%-52s %8s %8s %8s\n", "", "min", "median", "ratio")
	row := func(name string, d []time.Duration) {
		fmt.Printf("%-52s %8s %8s %8.2f\n", name, bench.MS(bench.Min(d)), bench.MS(bench.Median(d)), float64(bench.Median(d))/float64(bench.Median(floor)))
	}
	row("floor: go list -deps (the go command alone)", floor)
	row("graph.Load: go list -deps -json, parsed", load)
	row("first load in devrun: graph.Load + every file hashed", first)
	row("load again (a change of imports): graph.Load", again)

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	p, err := changes.New(changes.Options{Dir: dir})
	bench.Check(err)
	bench.Check(p.Load(ctx, opts))
	after := heap()
	runtime.KeepAlive(p)
	fmt.Printf("heap held by the graph and the files' hashes: %.1f MB (%d bytes a file)\n",
		float64(after-before)/1e6, int64(after-before)/int64(max(1, len(g.Files))))

	with := devrunMemory(work, bin, dir, "graph")
	without := devrunMemory(work, bin, dir, "nograph", "--watch.graph=false")
	fmt.Printf("devrun up's peak resident memory, serving the large app: with the graph %.1f MB, without %.1f MB (ratio %.2f)\n",
		float64(with)/1e6, float64(without)/1e6, float64(with)/float64(without))
}

// devrunMemory runs devrun up in dir until the app answers and the graph
// is loaded (or, with --watch.graph=false, the app answers), and returns
// devrun's peak resident memory (VmHWM).
func devrunMemory(work, bin, dir, name string, args ...string) int64 {
	port := bench.FreePort()
	logFile := filepath.Join(work, "large-memory-"+name+".log")
	d := startDevrunLog(bin, dir, port, logFile, args)
	defer d.close()
	waitBody(port, "v0")
	if len(args) == 0 {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			b, _ := os.ReadFile(logFile)
			if strings.Contains(string(b), "build graph: ") {
				break
			}
			if time.Now().After(deadline) {
				log.Fatalf("devrun never loaded the graph; its log:\n%s", b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.pid))
	bench.Check(err)
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			bench.Check(err)
			return kb * 1024
		}
	}
	log.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
