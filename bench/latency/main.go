//go:build linux

// Command latency measures devrun's edit-to-serve latency against its floor.
//
// Modes: host (devrun up), container (devrun up --mode container, on a
// locally made busybox image) and restart (no devrun: a container that runs
// the binary from a bind mount, swapped by `docker restart`, the mechanism of
// compose and Tilt). For the container modes it also reports the swap
// itself: from the new binary in place to the first response.
//
// The floor is the same edit followed directly by `go build` of the same
// package, a start of the new binary and its first HTTP response, with no
// watcher in between. devrun's latency is the time from the edit to the
// first HTTP response carrying the new version, while `devrun up` runs.
// Floor and devrun iterations alternate, so that both see the same machine.
//
//	go run ./bench/latency                 # both apps, both save styles
//	go run ./bench/latency -n 30 -app hello -save rename
//
// It prints min, median and p90 of each, and the ratios devrun/floor.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/devrun/devrun/internal/bench"
)

func main() {
	n := flag.Int("n", 20, "iterations per case")
	nReal := flag.Int("n-real", 6, "iterations per case of the real app, whose builds take seconds")
	apps := flag.String("app", "hello,generated,real", "apps to measure: hello (examples/hello), generated (~5,000 lines in 30 packages), real (bench/realapp: ~1,600 packages of real libraries, a ~100 MB binary), large (-packages generated packages, with the build graph's costs)")
	edits := flag.String("edit", "main,deep", "edits to measure: main (the main package), deep (a package of the app's own that others import; not for hello)")
	flag.Var(&devrunArgs, "args", "a further argument for devrun up, such as --watch.debounce=0 (repeat for more)")
	flag.IntVar(&largePackages, "packages", 1500, "the large app's packages")
	saves := flag.String("save", "inplace,rename", "save styles: inplace (write over the file), rename (write a temporary file, rename it over)")
	flag.DurationVar(&pollEvery, "poll", time.Millisecond, "how often the app is asked for its version")
	keep := flag.Bool("keep", false, "keep the work directory, with devrun's logs, and print its path")
	devrunBin := flag.String("devrun", "", "the devrun binary (default: build it from this checkout)")
	modes := flag.String("mode", "host", "swaps to measure: host (devrun up), debug (devrun up --debug: the app under Delve), container (devrun up --mode container), kubernetes (devrun up --mode kubernetes, in the cluster of KUBECONFIG, as hack/cluster/cluster.sh up runs it; also the transfer against the binary's size), compose (examples/compose: the devrun sidecar), restart (docker restart of a container running the binary: no devrun)")
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "devrun-bench-")
	bench.Check(err)
	if *keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := *devrunBin
	if bin == "" {
		bin = filepath.Join(work, "devrun")
		bench.Run("", "go", "build", "-o", bin, "./cmd/devrun")
	}
	fmt.Printf("devrun edit-to-serve latency against its floor (go build + start + first response); %d iterations each, %d for the real app\n", *n, *nReal)
	if len(devrunArgs) > 0 {
		fmt.Printf("devrun up %s\n", strings.Join(devrunArgs, " "))
	}
	fmt.Printf("%-9s %-15s %-8s %-7s %8s %8s %8s\n", "mode", "app", "save", "", "min", "median", "p90")
	worst := 0.0
	medians := map[string]time.Duration{}
	var realMain []float64
	for _, mode := range strings.Split(*modes, ",") {
		for _, app := range strings.Split(*apps, ",") {
			for _, ed := range strings.Split(*edits, ",") {
				for _, save := range strings.Split(*saves, ",") {
					if mode != "host" && mode != "debug" && mode != "container" && app != "hello" ||
						mode == "container" && app != "hello" && app != "real" {
						continue // the other container modes run examples/hello
					}
					if app == "hello" && ed != "main" || app == "large" && ed != "deep" {
						continue // hello has only a main package; large's edit is of its version package
					}
					iterations := *n
					if app == "real" {
						iterations = *nReal
					}
					r := measure(work, bin, mode, app, ed, save, iterations)
					name := app + "/" + ed
					r.print(mode, name, save)
					if app == "large" && mode == "host" && save == strings.Split(*saves, ",")[0] {
						graphCosts(work, bin, makeApp(filepath.Join(work, "large-graph"), "large"), 5)
					}
					medians[mode+" "+name+" "+save] = r.overhead()
					if mode != "restart" && mode != "debug" { // debug builds more, and starts Delve: measured against host below
						worst = max(worst, r.ratio(bench.Median))
					}
					if app == "real" && ed == "main" {
						realMain = append(realMain, r.ratio(bench.Median))
					}
				}
			}
		}
	}
	fmt.Printf("worst median ratio of devrun: %.3f\n", worst)
	if slices.Contains(strings.Split(*modes, ","), "kubernetes") {
		kubeTransfer(work, *nReal)
	}
	for _, r := range realMain {
		fmt.Printf("real app, main-package edit: median ratio %.3f (goal: at most 0.85)\n", r)
	}
	if strings.Contains(*apps, "real") {
		dir := makeApp(filepath.Join(work, "real-memory"), "real")
		fmt.Printf("devrun up's peak resident memory, serving the real app with its build graph: %.1f MB (goal: under 60 MB)\n",
			float64(devrunMemory(work, bin, dir, "real"))/1e6)
	}
	for key, c := range medians {
		for _, m := range []struct{ mode, base, what string }{
			{"container", "host", "container mode over host mode"},
			{"kubernetes", "host", "kubernetes mode over host mode"},
			{"kubernetes", "container", "kubernetes mode over container mode"},
			{"debug", "host", "under Delve (--debug) over without it"},
		} {
			if h, ok := medians[m.base+strings.TrimPrefix(key, m.mode)]; ok && strings.HasPrefix(key, m.mode+" ") {
				fmt.Printf("%s (%s): %+.0fms (median overhead over the floor: %s %.0fms, %s %.0fms)\n",
					m.what, strings.TrimPrefix(key, m.mode+" "), float64(c-h)/float64(time.Millisecond), m.mode, float64(c)/float64(time.Millisecond), m.base, float64(h)/float64(time.Millisecond))
			}
		}
	}
}

// result holds the latencies of one case: edit to first response, and for
// the container modes the swap itself (new binary in place to first response).
type result struct {
	floor, devrun, swap []time.Duration
	floorBuild          []time.Duration // the floor's go build alone
	pieces              []pieces        // devrun's own account of each cycle
}

// pieces is devrun's timing line of one cycle: "started in T (debounce D,
// build B, stop S, start S)".
type pieces struct{ debounce, build, stop, start time.Duration }

func (r result) ratio(stat func([]time.Duration) time.Duration) float64 {
	return float64(stat(r.devrun)) / float64(stat(r.floor))
}

func (r result) print(mode, app, save string) {
	row := func(name string, d []time.Duration) {
		fmt.Printf("%-9s %-15s %-8s %-7s %8s %8s %8s\n", mode, app, save, name, bench.MS(bench.Min(d)), bench.MS(bench.Median(d)), bench.MS(bench.P90(d)))
	}
	row("floor", r.floor)
	if mode == "restart" {
		row("restart", r.devrun)
	} else {
		row("devrun", r.devrun)
	}
	fmt.Printf("%-9s %-15s %-8s %-7s %8.3f %8.3f %8.3f\n", mode, app, save, "ratio", r.ratio(bench.Min), r.ratio(bench.Median), r.ratio(bench.P90))
	fmt.Printf("%-9s %-15s %-8s %-7s %8s %8.3f %8s   (median of the per-iteration ratios: robust to drift)\n", mode, app, save, "paired", "", r.paired(), "")
	if len(r.swap) > 0 {
		row("swap", r.swap)
	}
	if len(r.pieces) == len(r.devrun) && len(r.pieces) > 0 {
		// devrun's own time per piece, medians: the build against the
		// floor's, and what the timing line does not hold (the file event
		// reaching devrun, the first response) as the rest.
		var deb, build, stop, start, rest []time.Duration
		for i, p := range r.pieces {
			deb, build, stop, start = append(deb, p.debounce), append(build, p.build), append(stop, p.stop), append(start, p.start)
			rest = append(rest, r.devrun[i]-p.debounce-p.build-p.stop-p.start)
		}
		fmt.Printf("%-9s %-15s %-8s %-7s debounce %s, build %s (floor's go build %s, ratio %.3f), stop %s, start %s, rest %s\n",
			mode, app, save, "pieces", bench.MS(bench.Median(deb)), bench.MS(bench.Median(build)), bench.MS(bench.Median(r.floorBuild)),
			float64(bench.Median(build))/float64(bench.Median(r.floorBuild)), bench.MS(bench.Median(stop)), bench.MS(bench.Median(start)), bench.MS(bench.Median(rest)))
	}
}

// timingLine matches devrun's timing line of a swap.
var timingLine = regexp.MustCompile(`started in \S+ \(debounce (\S+), build (\S+), stop (\S+), start (\S+)\)`)

// lastPieces reads the last timing line of the log file.
func lastPieces(logFile string) (pieces, bool) {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return pieces{}, false
	}
	m := timingLine.FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		return pieces{}, false
	}
	last := m[len(m)-1]
	var d [4]time.Duration
	for i := range d {
		if d[i], err = time.ParseDuration(last[i+1]); err != nil {
			return pieces{}, false
		}
	}
	return pieces{d[0], d[1], d[2], d[3]}, true
}

// overhead returns the median of devrun[i]-floor[i]: what devrun adds to
// the floor iteration run just before it.
func (r result) overhead() time.Duration {
	d := make([]time.Duration, len(r.floor))
	for i := range r.floor {
		d[i] = r.devrun[i] - r.floor[i]
	}
	return bench.Median(d)
}

// paired returns the median of devrun[i]/floor[i]: each devrun iteration
// against the floor iteration run just before it.
func (r result) paired() float64 {
	ratios := make([]float64, len(r.floor))
	for i := range r.floor {
		ratios[i] = float64(r.devrun[i]) / float64(r.floor[i])
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

// measure runs n alternating floor and devrun (or restart) iterations of one case.
func measure(work, bin, mode, app, ed, save string, n int) result {
	name := mode + "-" + app + "-" + ed + "-" + save
	floorDir := makeApp(filepath.Join(work, name+"-floor"), app)
	devDir := makeApp(filepath.Join(work, name+"-devrun"), app)
	floorPort, devPort := bench.FreePort(), bench.FreePort()
	// The container modes' floor builds what they run: a static Linux binary.
	var floorEnv []string
	if mode != "host" {
		floorEnv = []string{"GOOS=linux", "CGO_ENABLED=0"}
	}
	warm := exec.Command("go", "build", "-o", filepath.Join(floorDir, "warm"), ".") // warm the build cache
	warm.Dir, warm.Env, warm.Stderr = floorDir, append(os.Environ(), floorEnv...), os.Stderr
	bench.Check(warm.Run())

	var swap swapper
	switch mode {
	case "host":
		swap = startDevrun(work, bin, name, devDir, devPort, nil)
	case "debug":
		swap = startDevrun(work, bin, name, devDir, devPort, []string{"--debug", "--run.debug_listen", strconv.Itoa(bench.FreePort())})
	case "container":
		swap = startContainerDevrun(work, bin, name, devDir, devPort)
	case "kubernetes":
		swap = startKubeDevrun(work, bin, name, devDir, devPort)
	case "restart":
		swap = startRestart(devDir, devPort)
	case "compose":
		swap = startCompose(devDir, devPort)
	default:
		log.Fatalf("unknown mode %q", mode)
	}
	defer swap.close()
	waitBody(devPort, "v0")

	var r result
	for i := 1; i <= n; i++ {
		v := fmt.Sprintf("r%d", i)
		took, built := floorOnce(floorDir, floorPort, floorEnv, app, ed, save, v)
		r.floor, r.floorBuild = append(r.floor, took), append(r.floorBuild, built)
		total, swapped := swap.once(func() { edit(devDir, app, ed, save, v) }, v)
		r.devrun = append(r.devrun, total)
		if swapped > 0 {
			r.swap = append(r.swap, swapped)
		}
		if d, ok := swap.(*devrunSwapper); ok && d.log != "" {
			if p, ok := lastPieces(d.log); ok {
				r.pieces = append(r.pieces, p)
			}
		}
	}
	return r
}

// devrunArgs are further arguments for devrun up (-args).
var devrunArgs words

// words is a flag that collects each value it is given.
type words []string

func (w *words) String() string     { return strings.Join(*w, " ") }
func (w *words) Set(v string) error { *w = append(*w, v); return nil }

// A swapper applies an edit and waits for the new version to answer.
type swapper interface {
	// once runs edit and waits until v answers. It returns the time from
	// the edit, and from the new binary being in place (0 if not known).
	once(edit func(), v string) (total, swap time.Duration)
	close()
}

// devrunSwapper is a running `devrun up`, on the host or as a sidecar.
type devrunSwapper struct {
	stop   func()
	log    string // devrun's log file, with its timing lines
	port   int
	pid    int          // devrun's
	app    func() []int // the running app's PIDs
	binary string       // where the new binary lands, if watched
}

func startDevrun(work, bin, name, dir string, port int, args []string) *devrunSwapper {
	return startDevrunLog(bin, dir, port, filepath.Join(work, name+".log"), args)
}

// startDevrunLog runs devrun up in dir, logging to logFile.
func startDevrunLog(bin, dir string, port int, logFile string, args []string) *devrunSwapper {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"up", "--log", logFile}, args...), devrunArgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "ADDR=127.0.0.1:"+strconv.Itoa(port))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	bench.Check(cmd.Start())
	d := &devrunSwapper{port: port, pid: cmd.Process.Pid, log: logFile, stop: func() {
		cancel() // Ctrl-C to devrun
		cmd.Wait()
	}}
	d.app = func() []int { return children(cmd.Process.Pid) }
	return d
}

func (d *devrunSwapper) once(edit func(), v string) (time.Duration, time.Duration) {
	old := d.app()
	landed := make(chan time.Time, 1)
	stop := make(chan struct{})
	if d.binary != "" {
		go watchInode(d.binary, landed, stop)
	}
	start := time.Now()
	edit()
	waitGone(old)
	waitBody(d.port, v)
	end := time.Now()
	close(stop)
	select {
	case t := <-landed:
		return end.Sub(start), end.Sub(t)
	default:
		return end.Sub(start), 0
	}
}

func (d *devrunSwapper) close() { d.stop() }

// watchInode sends the time path first names another file, polling every
// 200µs until stop is closed.
func watchInode(path string, landed chan<- time.Time, stop <-chan struct{}) {
	ino := func() uint64 {
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil {
			return 0
		}
		return st.Ino
	}
	first := ino()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if ino() != first {
			landed <- time.Now()
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// floorOnce edits, builds (with env added), starts and polls without
// devrun, then stops the app. It returns the time from the edit to the
// first response, and the build's.
func floorOnce(dir string, port int, env []string, app, ed, save, v string) (time.Duration, time.Duration) {
	start := time.Now()
	edit(dir, app, ed, save, v)
	out := filepath.Join(dir, "bin-"+v)
	build := exec.Command("go", "build", "-o", out, ".")
	build.Dir, build.Env, build.Stderr = dir, append(os.Environ(), env...), os.Stderr
	bench.Check(build.Run())
	built := time.Since(start)
	cmd := exec.Command(out)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "ADDR=127.0.0.1:"+strconv.Itoa(port))
	bench.Check(cmd.Start())
	waitBody(port, v)
	took := time.Since(start)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	os.Remove(out)
	return took, built
}

// pollEvery is the time between two requests for the app's version.
var pollEvery time.Duration

var httpClient = &http.Client{Timeout: 5 * time.Second}

// children returns the PIDs of pid's child processes.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// waitGone waits until the processes pids have exited, blocked on a pidfd:
// no CPU is spent while devrun builds. The running app is not asked for its
// version meanwhile: a thousand requests a second would slow the build down
// on a small machine, and the new version cannot answer before the old app
// is gone anyway. (The floor's build runs with nothing listening.)
func waitGone(pids []int) {
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // already gone
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(fd)
	}
}

// waitBody polls the app every millisecond until its answer holds v.
func waitBody(port int, v string) {
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := httpClient.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), v) {
				return
			}
		}
		time.Sleep(pollEvery)
	}
	log.Fatalf("%s never answered %s", url, v)
}

// edit sets the app's version to v, as an editor saving in the given style.
func edit(dir, app, ed, save, v string) {
	file, content := versionFile(dir, app, ed, v)
	switch save {
	case "inplace":
		bench.Check(os.WriteFile(file, []byte(content), 0o644))
	case "rename":
		tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp"+strconv.Itoa(os.Getpid()))
		bench.Check(os.WriteFile(tmp, []byte(content), 0o644))
		bench.Check(os.Rename(tmp, file))
	default:
		log.Fatalf("unknown save style %q", save)
	}
}

// versionFile returns the file that an edit ed of app writes, and what it
// writes there to make the app serve v.
func versionFile(dir, app, ed, v string) (string, string) {
	main := func() (string, string) {
		return filepath.Join(dir, "version.go"), "package main\n\nconst version = \"" + v + "\"\n"
	}
	switch {
	case app == "hello" || ed == "main":
		return main()
	case app == "large":
		return filepath.Join(dir, "version", "version.go"), "package version\n\nconst Version = \"" + v + "\"\n"
	case app == "real":
		return filepath.Join(dir, "internal", "core", "version.go"), "package core\n\nconst Version = \"" + v + "\"\n"
	}
	return filepath.Join(dir, "p00", "version.go"), "package p00\n\nconst Version = \"" + v + "\"\n"
}

// makeApp writes the app into dir and returns dir.
func makeApp(dir, app string) string {
	bench.Check(os.MkdirAll(dir, 0o755))
	switch app {
	case "hello":
		src, err := os.ReadFile("examples/hello/main.go")
		bench.Check(err)
		s := strings.Replace(string(src), "const version = \"v1\"", "", 1)
		bench.Write(dir, "main.go", s)
		bench.Write(dir, "go.mod", "module example.com/hello\n\ngo 1.22\n")
	case "generated":
		generate(dir)
	case "large":
		generateLarge(dir, largePackages)
	case "real":
		bench.Check(os.CopyFS(dir, os.DirFS("bench/realapp")))
	default:
		log.Fatalf("unknown app %q", app)
	}
	for _, ed := range []string{"main", "deep"} {
		if app == "hello" && ed == "deep" || app == "large" && ed == "main" {
			continue
		}
		file, content := versionFile(dir, app, ed, "v0")
		bench.Check(os.WriteFile(file, []byte(content), 0o644))
	}
	return dir
}

// generate writes a module of 30 packages, about 5,000 lines, whose main
// package imports them all and serves its version and p00.Version.
func generate(dir string) {
	bench.Write(dir, "go.mod", "module example.com/gen\n\ngo 1.22\n")
	var imports, uses strings.Builder
	for p := range 30 {
		name := fmt.Sprintf("p%02d", p)
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport \"strings\"\n\n", name)
		if p > 0 {
			b.Reset()
			fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"strings\"\n\n\t\"example.com/gen/p%02d\"\n)\n\nvar _ = p%02d.F0\n\n", name, p-1, p-1)
		}
		for f := range 20 {
			fmt.Fprintf(&b, "// F%d transforms s.\nfunc F%d(s string) string {\n\tif len(s) > %d {\n\t\ts = s[:%d]\n\t}\n\tparts := strings.Split(s, \",\")\n\tfor i, p := range parts {\n\t\tparts[i] = strings.TrimSpace(p)\n\t}\n\treturn strings.Join(parts, \";\")\n}\n\n", f, f, f+10, f+10)
		}
		bench.Write(filepath.Join(dir, name), name+".go", b.String())
		fmt.Fprintf(&imports, "\t\"example.com/gen/%s\"\n", name)
		fmt.Fprintf(&uses, "\t_ = %s.F1\n", name)
	}
	bench.Write(dir, "main.go", "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n\n"+imports.String()+
		")\n\nfunc main() {\n"+uses.String()+
		"\thttp.ListenAndServe(\"127.0.0.1:\"+os.Getenv(\"PORT\"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {\n\t\tfmt.Fprint(w, version, \" \", p00.Version)\n\t}))\n}\n")
}
