//go:build linux

// Command proxy measures how long the app is unavailable at each swap, in
// one run: devrun with its proxy in front of the app, devrun without it,
// and the floor (go build, then the old app stopped and the new one started
// by hand). A client asks every millisecond, on 127.0.0.1; "unavailable"
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
)

func main() {
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, version)
	}))
}
`

func version(v string) string { return "package main\n\nconst version = \"" + v + "\"\n" }

func main() {
	n := flag.Int("n", 10, "edits per case")
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "devrun-bench-proxy-")
	bench.Check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "devrun")
	bench.Run("", "go", "build", "-o", bin, "./cmd/devrun")
	fmt.Printf("unavailable time at each swap (first failed request to the new version's first answer; a client asking every ms), %d edits each\n", *n)
	fmt.Printf("%-28s %10s %10s %10s %12s %10s\n", "case", "failed", "unavail p50", "unavail max", "edit→served", "requests")
	for _, c := range []string{"floor", "devrun", "devrun+proxy"} {
		r := measure(work, bin, c, *n)
		fmt.Printf("%-28s %10d %10s %10s %12s %10d\n", c, r.failed, ms(bench.Median(r.unavailable)), ms(slices.Max(r.unavailable)), ms(bench.Median(r.served)), r.requests)
	}
}

type result struct {
	failed, requests int
	unavailable      []time.Duration
	served           []time.Duration
}

// sample is one request's outcome.
type sample struct {
	at   time.Time
	ok   bool
	body string
}

func measure(work, bin, kind string, n int) result {
	dir := filepath.Join(work, "case-"+strings.ReplaceAll(kind, "+", "-"))
	bench.Write(dir, "go.mod", "module example.com/app\n\ngo 1.22\n")
	bench.Write(dir, "main.go", app)
	bench.Write(dir, "version.go", version("v0"))
	port, proxyPort := bench.FreePort(), bench.FreePort()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var stop func()
	var swap func(v string) // for the floor: build and restart by hand
	switch kind {
	case "floor":
		out := filepath.Join(dir, "app")
		bench.Run(dir, "go", "build", "-o", out, ".")
		cmd := startApp(out, port)
		swap = func(string) {
			bench.Run(dir, "go", "build", "-o", out, ".")
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			cmd = startApp(out, port)
		}
		stop = func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }
	case "devrun", "devrun+proxy":
		args := []string{"up", "--log", filepath.Join(work, kind+".log"), "--run.env", "PORT=" + strconv.Itoa(port)}
		if kind == "devrun+proxy" {
			args = append(args, "--proxy.listen", strconv.Itoa(proxyPort), "--proxy.app", strconv.Itoa(port))
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
	defer stop()
	waitFor(url, "v0")

	var r result
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 1; i <= n; i++ {
		v := fmt.Sprintf("v%d", i)
		samples := make(chan sample, 1<<16)
		done := make(chan struct{})
		go func() {
			defer close(samples)
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				s := sample{at: time.Now()}
				if resp, err := client.Get(url); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					s.ok, s.body = resp.StatusCode == http.StatusOK, string(b)
				}
				samples <- s
				if s.ok && s.body == v {
					return
				}
			}
		}()
		start := time.Now()
		bench.Write(dir, "version.go", version(v))
		if swap != nil {
			swap(v)
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
	return r
}

func startApp(bin string, port int) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
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
