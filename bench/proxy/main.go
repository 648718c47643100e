//go:build linux

// Command proxy measures how long the app is unavailable at each swap, in
// one run: devrun with its proxy in front of the app (stop-first: the old
// version stops, then the new one starts; start-first: the new one starts
// on a port of its own, the proxy switches once it answers, then the old
// one stops), devrun without it, and the floor (go build, then the old
// app stopped and the new one started by hand). It does so for an app
// that listens at once, and for one that takes -init to start (reading
// its configuration, connecting to a database). Edit to first answer of
// the new version ("edit→served") is measured in a second pass, with a
// client asking every 10 ms: at a thousand requests a second through the
// proxy, devrun's process competes with the build for the CPU, which is
// the load's cost, not the loop's. A client asks every millisecond, on 127.0.0.1; "unavailable"
// is, for one edit, the time from the first request that failed to the
// first answer of the new version (0 when none failed). It also reports
// edit to first answer of the new version; the client's thousand requests
// a second load the machine while devrun builds, and through the proxy
// each costs devrun's process too: that figure is the loaded machine's,
// bench/latency has the quiet one's.
//
//	go run ./bench/proxy          # 10 edits each
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/devrun/devrun/internal/bench"
)

const app = `package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if d, err := time.ParseDuration(os.Getenv("INIT")); err == nil {
		time.Sleep(d)
	}
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, version)
	}))
}
`

func version(v string) string { return "package main\n\nconst version = \"" + v + "\"\n" }

func main() {
	n := flag.Int("n", 10, "edits per case")
	initDelay := flag.Duration("init", 300*time.Millisecond, "how long the slow app takes to start")
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "devrun-bench-proxy-")
	bench.Check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "devrun")
	bench.Run("", "go", "build", "-o", bin, "./cmd/devrun")
	fmt.Printf("unavailable time at each swap (first failed request to the new version's first answer; a client asking every ms), %d edits each\n", *n)
	kinds := []string{"floor", "devrun", "devrun+proxy stop-first", "devrun+proxy start-first"}
	for _, init := range []time.Duration{0, *initDelay} {
		fmt.Printf("\nan app that takes %s to start listening\n", init)
		fmt.Printf("%-26s %8s %12s %12s %10s %12s %9s\n", "case", "failed", "unavail p50", "unavail max", "requests", "edit→served", "vs floor")
		// The cases take turns, edit by edit, so that the machine's drift
		// (its other load, its clock) falls on all of them alike.
		loaded, quiet := make([]*result, len(kinds)), make([]*result, len(kinds))
		var cases []*project
		for i, k := range kinds {
			loaded[i], quiet[i] = &result{}, &result{}
			cases = append(cases, setUp(work, bin, k, init, "1ms"), setUp(work, bin, k, init, "10ms"))
		}
		for e := 1; e <= *n; e++ {
			for i := range kinds {
				cases[2*i].edit(e, time.Millisecond, loaded[i])
				cases[2*i+1].edit(e, 10*time.Millisecond, quiet[i])
			}
		}
		for _, c := range cases {
			c.stop()
		}
		floor := bench.Median(quiet[0].served)
		for i, k := range kinds {
			r, served := loaded[i], bench.Median(quiet[i].served)
			fmt.Printf("%-26s %8d %12s %12s %10d %12s %9.3f\n", k, r.failed, ms(bench.Median(r.unavailable)), ms(slices.Max(r.unavailable)), r.requests, ms(served), float64(served)/float64(floor))
		}
	}
}

type result struct {
	failed, requests int
	unavailable      []time.Duration
	served           []time.Duration
}

// sample is one request's outcome, and when it came.
type sample struct {
	at   time.Time
	ok   bool
	body string
}

// A project is one case's app, running and ready for edits.
type project struct {
	kind, dir, url string
	swap           func() // for the floor: build and restart by hand
	stop           func()
}

// setUp makes a project of kind and starts it; name tells it from others.
func setUp(work, bin, kind string, init time.Duration, name string) *project {
	dir := filepath.Join(work, "case-"+strings.NewReplacer("+", "-", " ", "-").Replace(kind)+"-"+init.String()+"-"+name)
	bench.Write(dir, "go.mod", "module example.com/app\n\ngo 1.22\n")
	bench.Write(dir, "main.go", app)
	bench.Write(dir, "version.go", version("v0"))
	port, proxyPort := bench.FreePort(), bench.FreePort()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var stop func()
	var swap func()
	switch kind {
	case "floor":
		out := filepath.Join(dir, "app")
		bench.Run(dir, "go", "build", "-o", out, ".")
		cmd := startApp(out, port, init)
		swap = func() {
			bench.Run(dir, "go", "build", "-o", out, ".")
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			cmd = startApp(out, port, init)
		}
		stop = func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }
	default:
		args := []string{"up", "--log", filepath.Join(dir, "devrun.log"), "--run.env", "INIT=" + init.String()}
		switch kind {
		case "devrun":
			args = append(args, "--run.env", "PORT="+strconv.Itoa(port))
		case "devrun+proxy stop-first":
			args = append(args, "--run.env", "PORT="+strconv.Itoa(port), "--proxy.listen", strconv.Itoa(proxyPort), "--proxy.app", strconv.Itoa(port))
			url = fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)
		case "devrun+proxy start-first":
			// devrun gives each version its port in PORT.
			args = append(args, "--proxy.listen", strconv.Itoa(proxyPort))
			url = fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 10 * time.Second
		bench.Check(cmd.Start())
		stop = func() { cancel(); cmd.Wait() }
	}
	waitFor(url, "v0")
	return &project{kind: kind, dir: dir, url: url, swap: swap, stop: stop}
}

// edit makes edit number i, with a client asking every interval, and adds
// what it saw to r.
func (p *project) edit(i int, every time.Duration, r *result) {
	client := &http.Client{Timeout: 10 * time.Second}
	url, dir, kind := p.url, p.dir, p.kind
	v := fmt.Sprintf("v%d", i)
	samples := make(chan sample, 1<<16)
	done := make(chan struct{})
	go func() {
		defer close(samples)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var s sample
			if resp, err := client.Get(url); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				s.ok, s.body = resp.StatusCode == http.StatusOK, string(b)
			}
			// When the client learns: a request the proxy held counts
			// when it is answered, not when it was sent.
			s.at = time.Now()
			samples <- s
			if s.ok && s.body == v {
				return
			}
		}
	}()
	start := time.Now()
	bench.Write(dir, "version.go", version(v))
	if p.swap != nil {
		p.swap()
	}
	var firstFail, servedAt time.Time
	for s := range samples {
		r.requests++
		if !s.ok {
			r.failed++
			if firstFail.IsZero() {
				firstFail = s.at
			}
		}
		if s.ok && s.body == v && servedAt.IsZero() {
			servedAt = s.at
		}
	}
	close(done)
	if servedAt.IsZero() {
		log.Fatalf("%s: %s never served", kind, v)
	}
	var unavailable time.Duration
	if !firstFail.IsZero() {
		unavailable = servedAt.Sub(firstFail)
	}
	r.unavailable = append(r.unavailable, unavailable)
	r.served = append(r.served, servedAt.Sub(start))
}

func startApp(bin string, port int, init time.Duration) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "INIT="+init.String())
	bench.Check(cmd.Start())
	return cmd
}

func waitFor(url, want string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(b)) == want {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	log.Fatalf("%s never answered %s", url, want)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
