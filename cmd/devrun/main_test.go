package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/gotooltest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary serve as the devrun command, for the
// scripts and for the end-to-end tests, which run it as a real process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"devrun": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

var update = flag.Bool("u", false, "update the scripts' golden files")

// waitTimeout bounds every wait of the scripts and tests: no fixed sleeps,
// only polls for a condition until this deadline. It is generous: a cold
// build in the compose sidecar on a loaded 2-core machine took over a minute.
const waitTimeout = 3 * time.Minute

func TestScript(t *testing.T) {
	p := testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"waithttp":  cmdWaitHTTP,
			"waitmatch": cmdWaitMatch,
			"count":     cmdCount,
			"freeport":  cmdFreePort,
			"portfree":  cmdPortFree,
			"replace":   cmdReplace,
		},
	}
	if err := gotooltest.Setup(&p); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, p)
}

// poll calls cond until it returns true or waitTimeout passes.
func poll(cond func() bool) bool {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
	return true
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get returns the body served at url, or "" if nothing answers.
func get(url string) string {
	resp, err := httpClient.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waithttp URL REGEXP: polls URL until its body matches REGEXP.
func cmdWaitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waithttp URL REGEXP")
	}
	re := regexp.MustCompile(args[1])
	var last string
	if !poll(func() bool { last = get(args[0]); return re.MatchString(last) }) {
		ts.Fatalf("%s never matched %q; last body %q", args[0], args[1], last)
	}
}

// waitmatch FILE REGEXP [N]: polls FILE until REGEXP matches at least N times (default 1).
func cmdWaitMatch(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: waitmatch FILE REGEXP [N]")
	}
	re := regexp.MustCompile(args[1])
	n := 1
	if len(args) == 3 {
		n, _ = strconv.Atoi(args[2])
	}
	path := ts.MkAbs(args[0])
	var got int
	if !poll(func() bool {
		b, _ := os.ReadFile(path)
		got = len(re.FindAllIndex(b, -1))
		return got >= n
	}) {
		b, _ := os.ReadFile(path)
		ts.Fatalf("%s matched %q %d times, want %d; it holds:\n%s", args[0], args[1], got, n, b)
	}
}

// count FILE REGEXP N: REGEXP matches exactly N times in FILE.
func cmdCount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: count FILE REGEXP N")
	}
	n, _ := strconv.Atoi(args[2])
	b := ts.ReadFile(args[0])
	if got := len(regexp.MustCompile(args[1]).FindAllStringIndex(b, -1)); got != n {
		ts.Fatalf("%s matched %q %d times, want %d; it holds:\n%s", args[0], args[1], got, n, b)
	}
}

// freeport VAR: sets VAR to a TCP port free on 127.0.0.1.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ts.Setenv(args[0], strconv.Itoa(freePort(ts.Fatalf)))
}

func freePort(fatalf func(string, ...any)) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// portfree PORT: nothing listens on 127.0.0.1:PORT.
func cmdPortFree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: portfree PORT")
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+args[0])
	if err == nil {
		l.Close()
	}
	if free := err == nil; free == neg {
		ts.Fatalf("port %s free: %v", args[0], free)
	}
}

// replace FILE OLD NEW: rewrites FILE in place with OLD replaced by NEW, as
// an editor that writes in place does.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if !strings.Contains(string(b), args[1]) {
		ts.Fatalf("%s does not contain %q", args[0], args[1])
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	ts.Check(err)
	_, err = fmt.Fprint(f, strings.Replace(string(b), args[1], args[2], 1))
	ts.Check(err)
	ts.Check(f.Close())
}
