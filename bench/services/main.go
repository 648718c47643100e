//go:build linux

// Command services measures devrun with several services against its
// floor, in one run: the same services built and restarted by hand, one
// after the other, with no watcher in between.
//
// The app is a generated module (~5,000 lines in 30 packages) with up to
// four main packages, cmd/s1 … cmd/s4, each importing every package and a
// shared one, internal/shared. Cases:
//
//   - an edit of internal/shared with 2 and with 4 services running: the
//     time from the edit to the last service answering with the new
//     version; devrun with build.parallel 1 (one build at a time) and with
//     its default (one build for each CPU);
//
//   - an edit of cmd/s1's own package with 4 services running: the time to
//     s1 answering, against the floor of building and restarting s1 alone.
//
//     go run ./bench/services            # 10 iterations each
//     go run ./bench/services -n 20
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
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/devrun/devrun/internal/bench"
)

func main() {
	n := flag.Int("n", 10, "iterations per case")
	keep := flag.Bool("keep", false, "keep the work directory, with devrun's logs")
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "devrun-bench-services-")
	bench.Check(err)
	if *keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "devrun")
	bench.Run("", "go", "build", "-o", bin, "./cmd/devrun")
	fmt.Printf("devrun with several services against its floor (go build + restart of each service by hand, one after the other); %d iterations each, %d CPUs\n", *n, numCPU())
	fmt.Printf("%-44s %8s %8s %8s\n", "case", "min", "median", "p90")
	for _, services := range []int{2, 4} {
		var floor, serial, parallel []time.Duration
		floorApp := newApp(filepath.Join(work, fmt.Sprintf("floor-%d", services)), services)
		serialApp := newApp(filepath.Join(work, fmt.Sprintf("serial-%d", services)), services)
		parallelApp := newApp(filepath.Join(work, fmt.Sprintf("parallel-%d", services)), services)
		floorApp.startByHand()
		d1 := serialApp.startDevrun(bin, work, "1")
		d2 := parallelApp.startDevrun(bin, work, "0")
		for i := 1; i <= *n; i++ {
			v := fmt.Sprintf("r%d", i)
			floor = append(floor, floorApp.editSharedByHand(v))
			serial = append(serial, serialApp.editShared(v))
			parallel = append(parallel, parallelApp.editShared(v))
		}
		d1()
		d2()
		floorApp.stopByHand()
		name := fmt.Sprintf("shared package, %d services", services)
		row(name+": floor", floor)
		row(name+": devrun, parallel 1", serial)
		row(name+": devrun, default", parallel)
		fmt.Printf("%-44s %8.3f %8.3f\n", name+": ratio, parallel 1", ratio(serial, floor, bench.Min), ratio(serial, floor, bench.Median))
		fmt.Printf("%-44s %8.3f %8.3f\n", name+": ratio, default", ratio(parallel, floor, bench.Min), ratio(parallel, floor, bench.Median))
	}

	// One service's own package, with four running, against the floor
	// and against devrun running that service alone (no services map).
	var floor, dev, one []time.Duration
	floorApp := newApp(filepath.Join(work, "floor-one"), 4)
	devApp := newApp(filepath.Join(work, "devrun-four"), 4)
	oneApp := newApp(filepath.Join(work, "devrun-one"), 1)
	bench.Write(oneApp.dir, "devrun.yaml", "run:\n  stop_timeout: 2s\n  env: [PORT="+strconv.Itoa(oneApp.ports[0])+"]\nbuild:\n  package: ./cmd/s1\n")
	floorApp.startByHand()
	stop := devApp.startDevrun(bin, work, "0")
	stopOne := oneApp.startDevrun(bin, work, "0")
	for i := 1; i <= *n; i++ {
		v := fmt.Sprintf("o%d", i)
		floor = append(floor, floorApp.editOwnByHand(v))
		dev = append(dev, devApp.editOwn(v))
		one = append(one, oneApp.editOwn(v))
	}
	stop()
	stopOne()
	floorApp.stopByHand()
	row("one service's package: floor", floor)
	row("one service's package: devrun, 1 service", one)
	row("one service's package: devrun, 4 services", dev)
	fmt.Printf("%-44s %8.3f %8.3f\n", "one service's package: ratio, 1 service", ratio(one, floor, bench.Min), ratio(one, floor, bench.Median))
	fmt.Printf("%-44s %8.3f %8.3f\n", "one service's package: ratio, 4 services", ratio(dev, floor, bench.Min), ratio(dev, floor, bench.Median))
	fmt.Printf("%-44s %8.3f %8.3f\n", "one service's package: 4 services / 1", ratio(dev, one, bench.Min), ratio(dev, one, bench.Median))
}

// app is a generated module with services main packages.
type app struct {
	dir   string
	ports []int
	procs []*exec.Cmd // the services started by hand
}

func newApp(dir string, services int) *app {
	a := &app{dir: dir}
	bench.Write(dir, "go.mod", "module example.com/gen\n\ngo 1.22\n")
	var imports, uses strings.Builder
	for p := range 30 {
		name := fmt.Sprintf("p%02d", p)
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport \"strings\"\n\n", name)
		for f := range 20 {
			fmt.Fprintf(&b, "// F%d transforms s.\nfunc F%d(s string) string {\n\tif len(s) > %d {\n\t\ts = s[:%d]\n\t}\n\tparts := strings.Split(s, \",\")\n\tfor i, p := range parts {\n\t\tparts[i] = strings.TrimSpace(p)\n\t}\n\treturn strings.Join(parts, \";\")\n}\n\n", f, f, f+10, f+10)
		}
		bench.Write(filepath.Join(dir, "internal", name), name+".go", b.String())
		fmt.Fprintf(&imports, "\t\"example.com/gen/internal/%s\"\n", name)
		fmt.Fprintf(&uses, "\t_ = %s.F1\n", name)
	}
	bench.Write(filepath.Join(dir, "internal", "shared"), "shared.go", "package shared\n\nconst V = \"v0\"\n")
	var yaml strings.Builder
	yaml.WriteString("run:\n  stop_timeout: 2s\nservices:\n")
	for s := 1; s <= services; s++ {
		name := fmt.Sprintf("s%d", s)
		port := bench.FreePort()
		a.ports = append(a.ports, port)
		bench.Write(filepath.Join(dir, "cmd", name), "version.go", "package main\n\nconst own = \"v0\"\n")
		bench.Write(filepath.Join(dir, "cmd", name), "main.go", "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n\n\t\"example.com/gen/internal/shared\"\n"+imports.String()+
			")\n\nfunc main() {\n"+uses.String()+
			"\thttp.ListenAndServe(\"127.0.0.1:\"+os.Getenv(\"PORT\"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {\n\t\tfmt.Fprint(w, shared.V, \" \", own, \" \", os.Getpid())\n\t}))\n}\n")
		fmt.Fprintf(&yaml, "  %s:\n    run: {env: [PORT=%d]}\n", name, port)
	}
	bench.Write(dir, "devrun.yaml", yaml.String())
	bench.Run(dir, "go", "build", "-o", filepath.Join(dir, "warm"), "./cmd/s1") // warm the build cache
	return a
}

// startDevrun runs devrun up on the app with build.parallel set, and
// returns a function that stops it.
func (a *app) startDevrun(bin, work, parallel string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	logFile := filepath.Join(work, filepath.Base(a.dir)+".log")
	cmd := exec.CommandContext(ctx, bin, "up", "--log", logFile, "--build.parallel", parallel)
	cmd.Dir = a.dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	bench.Check(cmd.Start())
	for _, port := range a.ports {
		waitBody(port, "v0 v0 ")
	}
	return func() {
		cancel()
		cmd.Wait()
	}
}

// editShared edits the shared package and waits for every service to
// answer with it. The apps are not asked for their version while devrun
// builds (a thousand requests a second would slow the build down on a
// small machine, and the floor's builds run unasked too): each old app
// is first waited out, blocked on a pidfd.
func (a *app) editShared(v string) time.Duration {
	var old []int
	for _, port := range a.ports {
		old = append(old, pidOf(port))
	}
	start := time.Now()
	bench.Write(filepath.Join(a.dir, "internal", "shared"), "shared.go", "package shared\n\nconst V = \""+v+"\"\n")
	for _, pid := range old {
		waitGone(pid)
	}
	for _, port := range a.ports {
		waitBody(port, v+" ")
	}
	return time.Since(start)
}

// editOwn edits s1's own package and waits for it to answer with it.
func (a *app) editOwn(v string) time.Duration {
	old := pidOf(a.ports[0])
	start := time.Now()
	bench.Write(filepath.Join(a.dir, "cmd", "s1"), "version.go", "package main\n\nconst own = \""+v+"\"\n")
	waitGone(old)
	waitBody(a.ports[0], " "+v+" ")
	return time.Since(start)
}

// pidOf asks the service on port for its PID.
func pidOf(port int) int {
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	bench.Check(err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := strings.Fields(string(b))
	pid, err := strconv.Atoi(f[len(f)-1])
	bench.Check(err)
	return pid
}

// waitGone waits until the process pid has exited, blocked on a pidfd: no
// CPU is spent meanwhile.
func waitGone(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

// The floor: every service built with go build and restarted by hand.

func (a *app) binary(i int) string { return filepath.Join(a.dir, fmt.Sprintf("bin-s%d", i+1)) }

func (a *app) startByHand() {
	for i := range a.ports {
		bench.Run(a.dir, "go", "build", "-o", a.binary(i), fmt.Sprintf("./cmd/s%d", i+1))
		a.procs = append(a.procs, a.startOne(i))
	}
	for _, port := range a.ports {
		waitBody(port, "v0 v0 ")
	}
}

func (a *app) startOne(i int) *exec.Cmd {
	cmd := exec.Command(a.binary(i))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(a.ports[i]))
	bench.Check(cmd.Start())
	return cmd
}

func (a *app) restartByHand(i int, want string) {
	bench.Run(a.dir, "go", "build", "-o", a.binary(i), fmt.Sprintf("./cmd/s%d", i+1))
	a.procs[i].Process.Signal(syscall.SIGTERM)
	a.procs[i].Wait()
	a.procs[i] = a.startOne(i)
	waitBody(a.ports[i], want)
}

func (a *app) editSharedByHand(v string) time.Duration {
	start := time.Now()
	bench.Write(filepath.Join(a.dir, "internal", "shared"), "shared.go", "package shared\n\nconst V = \""+v+"\"\n")
	for i := range a.ports {
		a.restartByHand(i, v+" ")
	}
	return time.Since(start)
}

func (a *app) editOwnByHand(v string) time.Duration {
	start := time.Now()
	bench.Write(filepath.Join(a.dir, "cmd", "s1"), "version.go", "package main\n\nconst own = \""+v+"\"\n")
	a.restartByHand(0, " "+v+" ")
	return time.Since(start)
}

func (a *app) stopByHand() {
	for _, p := range a.procs {
		p.Process.Signal(syscall.SIGTERM)
		p.Wait()
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// waitBody polls 127.0.0.1:port every millisecond until its answer holds v.
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
		time.Sleep(time.Millisecond)
	}
	log.Fatalf("%s never answered %q", url, v)
}

func row(name string, d []time.Duration) {
	fmt.Printf("%-44s %8s %8s %8s\n", name, bench.MS(bench.Min(d)), bench.MS(bench.Median(d)), bench.MS(bench.P90(d)))
}

func ratio(a, b []time.Duration, stat func([]time.Duration) time.Duration) float64 {
	return float64(stat(a)) / float64(stat(b))
}

func numCPU() int { return runtime.NumCPU() }
