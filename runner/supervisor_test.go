package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/syncbuf"
)

// fakeBuilder's builds block until the test answers them.
type fakeBuilder struct {
	calls chan buildCall
}

type buildCall struct {
	ctx    context.Context
	answer chan result
}

func (b *fakeBuilder) Build(ctx context.Context, _ Trigger) (Artifact, error) {
	c := buildCall{ctx, make(chan result)}
	b.calls <- c
	select {
	case r := <-c.answer:
		return r.art, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// next waits for the next build call.
func (b *fakeBuilder) next(t *testing.T) buildCall {
	t.Helper()
	select {
	case c := <-b.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no build started")
	}
	return buildCall{}
}

type fakeStarter struct {
	mu      sync.Mutex
	started []*fakeProcess
	starts  chan *fakeProcess
	fail    []error // what the next starts fail with, in order
}

func (s *fakeStarter) Start(_ context.Context, a Artifact) (Process, error) {
	p := &fakeProcess{art: a, done: make(chan struct{})}
	s.mu.Lock()
	if len(s.fail) > 0 {
		err := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		return nil, err
	}
	s.started = append(s.started, p)
	s.mu.Unlock()
	s.starts <- p
	return p, nil
}

type fakeProcess struct {
	art   Artifact
	once  sync.Once
	stops int
	done  chan struct{}
	err   error
}

func (p *fakeProcess) Stop(context.Context) error {
	p.stops++
	p.once.Do(func() { close(p.done) })
	return p.err
}
func (p *fakeProcess) Done() <-chan struct{} { return p.done }
func (p *fakeProcess) Err() error            { return p.err }

// exit ends the process by itself, with err.
func (p *fakeProcess) exit(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

type supervised struct {
	b       *fakeBuilder
	s       *fakeStarter
	changes chan Trigger
	log     *syncbuf.Buffer
	out     *syncbuf.Buffer
	stop    func()
}

func supervise(t *testing.T, configure ...func(*Supervisor)) *supervised {
	v := &supervised{
		b:       &fakeBuilder{calls: make(chan buildCall)},
		s:       &fakeStarter{starts: make(chan *fakeProcess, 10)},
		changes: make(chan Trigger),
		log:     &syncbuf.Buffer{},
		out:     &syncbuf.Buffer{},
	}
	sup := &Supervisor{Builder: v.b, Starter: v.s, Log: slog.New(slog.NewTextHandler(v.log, nil)), BuildOutput: v.out}
	for _, c := range configure {
		c(sup)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sup.Run(ctx, v.changes) }()
	v.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
	return v
}

func (v *supervised) change(paths ...string) {
	v.changes <- Trigger{Paths: paths, First: time.Now(), Sent: time.Now()}
}

func TestFailedBuildKeepsTheAppRunning(t *testing.T) {
	v := supervise(t)
	v.b.next(t).answer <- result{art: "v1"}
	p1 := <-v.s.starts
	v.change("main.go")
	v.b.next(t).answer <- result{err: &BuildError{Output: []byte("main.go:1: syntax error\n"), Err: errors.New("exit status 1")}}
	v.waitLog(t, "build failed")
	v.change("main.go")
	v.b.next(t).answer <- result{art: "v2"}
	p2 := <-v.s.starts
	v.stop()
	if p1.stops != 1 || p2.art != "v2" || p2.stops != 1 {
		t.Errorf("p1 stopped %d times, p2 = %s stopped %d times; want 1, v2, 1", p1.stops, p2.art, p2.stops)
	}
	if !strings.Contains(v.out.String(), "main.go:1: syntax error") {
		t.Errorf("the compiler's output is not shown: %q", v.out.String())
	}
	if !strings.Contains(v.log.String(), "the previous build is still running") {
		t.Errorf("no banner for the failed build in %q", v.log.String())
	}
}

// With Overlap, a new version starts while the old one runs, which is
// stopped only once the new one has started; a new version that fails to
// start leaves the old one running, and the next good one replaces it.
func TestOverlapStopsTheOldVersionAfterTheNewOneStarts(t *testing.T) {
	v := supervise(t, func(s *Supervisor) { s.Overlap = true })
	v.b.next(t).answer <- result{art: "v1"}
	p1 := <-v.s.starts
	v.change("main.go")
	v.b.next(t).answer <- result{art: "v2"}
	p2 := <-v.s.starts
	v.waitLog(t, "the previous version then stopped in")
	if p1.stops != 1 || p2.stops != 0 {
		t.Fatalf("after the swap: v1 stopped %d times, v2 %d; want 1, 0", p1.stops, p2.stops)
	}
	v.s.mu.Lock()
	v.s.fail = []error{errors.New("the new version exited before it answered on PORT=1234")}
	v.s.mu.Unlock()
	v.change("main.go")
	v.b.next(t).answer <- result{art: "v3"}
	v.waitLog(t, "the previous version still serves")
	if p2.stops != 0 {
		t.Fatalf("a failed start stopped the version that serves")
	}
	v.change("main.go")
	v.b.next(t).answer <- result{art: "v4"}
	p4 := <-v.s.starts
	v.stop()
	if p2.stops != 1 || p4.art != "v4" || p4.stops != 1 {
		t.Errorf("v2 stopped %d times, %s stopped %d times; want 1, v4 1", p2.stops, p4.art, p4.stops)
	}
}

func TestChangeDuringBuildCancelsIt(t *testing.T) {
	v := supervise(t)
	v.b.next(t).answer <- result{art: "v1"}
	p1 := <-v.s.starts
	v.change("a.go")
	first := v.b.next(t)
	v.change("b.go")
	<-first.ctx.Done()                      // the stale build is cancelled...
	v.b.next(t).answer <- result{art: "v3"} // ...and a new one started
	p2 := <-v.s.starts
	v.stop()
	if len(v.s.started) != 2 || p2.art != "v3" || p1.stops != 1 {
		t.Errorf("started %d apps, the last from %s; want 2, the last from v3", len(v.s.started), p2.art)
	}
}

func TestShutdownCancelsTheBuildAndStopsTheApp(t *testing.T) {
	v := supervise(t)
	v.b.next(t).answer <- result{art: "v1"}
	p1 := <-v.s.starts
	v.change("a.go")
	build := v.b.next(t)
	v.stop()
	if build.ctx.Err() == nil || p1.stops != 1 {
		t.Errorf("build ctx err %v, app stopped %d times; want cancelled and 1", build.ctx.Err(), p1.stops)
	}
}

// waitLog polls the log for text, with a deadline.
func (v *supervised) waitLog(t *testing.T, text string) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(v.log.String(), text) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the log never said %q: %s", text, v.log.String())
		}
	}
}

// An app whose environment went (its container removed, its engine
// restarting) is started again whatever the restart policy, and the starts
// that fail meanwhile are tried again with a backoff, logged once.
func TestGoneEnvironmentIsStartedAgain(t *testing.T) {
	v := supervise(t)
	v.b.next(t).answer <- result{art: "v1"}
	p1 := <-v.s.starts
	gone := fmt.Errorf("the dev container is gone: %w", ErrGone)
	v.s.mu.Lock()
	v.s.fail = []error{gone, gone}
	v.s.mu.Unlock()
	p1.exit(gone)
	p2 := <-v.s.starts
	v.waitLog(t, "started again")
	v.stop()
	if p2.art != "v1" {
		t.Errorf("started %s again, want v1", p2.art)
	}
	if n := strings.Count(v.log.String(), "trying again until it works"); n != 1 {
		t.Errorf("the failed starts were logged %d times, want once:\n%s", n, v.log.String())
	}
	if !strings.Contains(v.log.String(), "not the app's doing") {
		t.Errorf("the restart does not say why:\n%s", v.log.String())
	}
}

// A path saved twice in one batch is one change: "main.go changed", not
// "main.go and 0 more changed".
func TestDescribeCountsARepeatedPathOnce(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{nil, "restart requested"},
		{[]string{"a.go"}, "a.go changed"},
		{[]string{"a.go", "a.go"}, "a.go changed"},
		{[]string{"a.go", "b.go", "a.go"}, "a.go and 1 more changed"},
	} {
		if got := describe(tc.paths); got != tc.want {
			t.Errorf("describe(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}
