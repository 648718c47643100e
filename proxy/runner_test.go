package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devrun/devrun/runner"
)

// inProcess is a small fake runner.Starter for the Switcher's tests: its
// "app" is an HTTP server in the test's process on the port it is given,
// answering name; it listens after listenAfter, or never when exit is set
// (it exits at once with exit).
type inProcess struct {
	name        string
	port        int
	listenAfter time.Duration
	exit        error
	never       bool
}

type inProcessApp struct {
	once sync.Once
	done chan struct{}
	err  error
	srv  *http.Server
}

func (a *inProcessApp) Stop(context.Context) error {
	a.once.Do(func() {
		if a.srv != nil {
			a.srv.Close()
		}
		close(a.done)
	})
	return a.err
}
func (a *inProcessApp) Done() <-chan struct{} { return a.done }
func (a *inProcessApp) Err() error            { return a.err }

func (s inProcess) Start(context.Context, runner.Artifact) (runner.Process, error) {
	a := &inProcessApp{done: make(chan struct{})}
	if s.exit != nil {
		a.err = s.exit
		a.once.Do(func() { close(a.done) })
		return a, nil
	}
	if s.never {
		return a, nil
	}
	a.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s.name) })}
	go func() {
		time.Sleep(s.listenAfter)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.port))
		if err != nil {
			return
		}
		a.srv.Serve(l)
	}()
	return a, nil
}

// With start-first, a new version that exits at start, or never answers,
// is stopped and Start fails, saying which port it was given: the old
// version serves on. A good one is switched to only once it answers.
func TestSwitcherKeepsTheOldVersionWhenTheNewOneFails(t *testing.T) {
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: "127.0.0.1:0", Wait: 10 * time.Second})
	next := inProcess{name: "v1"}
	var started []*inProcessApp
	sw := &Switcher{Proxy: p, Timeout: 300 * time.Millisecond, New: func(port int) runner.Starter {
		s := next
		s.port = port
		return starterFunc(func(ctx context.Context, a runner.Artifact) (runner.Process, error) {
			proc, err := s.Start(ctx, a)
			if err == nil {
				started = append(started, proc.(*inProcessApp))
			}
			return proc, err
		})
	}}
	ctx := context.Background()
	if _, err := sw.Start(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	body := func() string {
		t.Helper()
		resp, err := http.Get("http://" + p.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := body(); got != "v1" {
		t.Fatalf("served %q, want v1", got)
	}

	next = inProcess{name: "v2", exit: errors.New("exit status 2")}
	_, err := sw.Start(ctx, "v2")
	if err == nil || !strings.Contains(err.Error(), "exited before it answered on PORT=") || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("a version that exits: %v", err)
	}
	next = inProcess{name: "v3", never: true}
	_, err = sw.Start(ctx, "v3")
	if err == nil || !strings.Contains(err.Error(), "did not answer on PORT=") || !strings.Contains(err.Error(), "within run.ready_timeout 300ms") {
		t.Errorf("a version that never listens: %v", err)
	}
	if s := started[len(started)-1]; !isDone(s) {
		t.Error("the version that never answered was not stopped")
	}
	if got := body(); got != "v1" {
		t.Errorf("after two failed starts, served %q, want v1", got)
	}

	next = inProcess{name: "v4", listenAfter: 100 * time.Millisecond}
	before := time.Now()
	if _, err := sw.Start(ctx, "v4"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(before); d < 100*time.Millisecond {
		t.Errorf("switched after %s, before the new version listened", d)
	}
	if got := body(); got != "v4" {
		t.Errorf("served %q, want v4", got)
	}
	for _, s := range started {
		s.Stop(ctx)
	}
}

type starterFunc func(context.Context, runner.Artifact) (runner.Process, error)

func (f starterFunc) Start(ctx context.Context, a runner.Artifact) (runner.Process, error) {
	return f(ctx, a)
}

func isDone(p runner.Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// devrun stopping while a start-first version is waited for: Start stops
// it and returns at once, not after run.ready_timeout.
func TestSwitcherStopsWaitingWhenDevrunStops(t *testing.T) {
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: "127.0.0.1:0", Wait: 10 * time.Second})
	next := inProcess{name: "v1"}
	var last *inProcessApp
	sw := &Switcher{Proxy: p, Timeout: time.Hour, New: func(port int) runner.Starter {
		s := next
		s.port = port
		return starterFunc(func(ctx context.Context, a runner.Artifact) (runner.Process, error) {
			proc, err := s.Start(ctx, a)
			if err == nil {
				last = proc.(*inProcessApp)
			}
			return proc, err
		})
	}}
	if _, err := sw.Start(context.Background(), "v1"); err != nil {
		t.Fatal(err)
	}
	defer last.Stop(context.Background())
	next = inProcess{name: "v2", never: true}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	began := time.Now()
	_, err := sw.Start(ctx, "v2")
	if !errors.Is(err, context.Canceled) || time.Since(began) > 10*time.Second {
		t.Errorf("Start returned %v after %s", err, time.Since(began))
	}
	if !isDone(last) {
		t.Error("the version waited for was left running")
	}
}
