package runner

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/syncbuf"
)

// A check that never passes: Done is closed at the timeout, Err names the
// key and the last check's error, and a start that depends on it goes on,
// saying so.
func TestReadyThatNeverPassesTimesOut(t *testing.T) {
	var log syncbuf.Buffer
	s := &fakeStarter{starts: make(chan *fakeProcess, 2)}
	never := func(context.Context) error { return errors.New("connection refused") }
	r := NewReady(s, never, 100*time.Millisecond, "api", slog.New(slog.NewTextHandler(&log, nil)))
	if _, err := r.Start(context.Background(), "bin"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done never closed")
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "api was not ready within run.ready_timeout 100ms (last check: connection refused)") {
		t.Errorf("Err = %v", err)
	}
	dep := &fakeStarter{starts: make(chan *fakeProcess, 2)}
	var depLog syncbuf.Buffer
	a := &After{Starter: dep, Deps: []Dependency{{Name: "api", Ready: r}}, Log: slog.New(slog.NewTextHandler(&depLog, nil))}
	if _, err := a.Start(context.Background(), "bin"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(depLog.String(), "starting anyway: api was not ready") {
		t.Errorf("the dependent's log: %s", depLog.String())
	}
}

// A start waits for what it depends on to be ready, the first time only;
// Ctrl-C meanwhile cuts the wait short.
func TestAfterWaitsForReadinessTheFirstTime(t *testing.T) {
	var passing atomic.Bool
	check := func(context.Context) error {
		if passing.Load() {
			return nil
		}
		return errors.New("503")
	}
	r := NewReady(&fakeStarter{starts: make(chan *fakeProcess, 2)}, check, time.Minute, "api", nil)
	dep := &fakeStarter{starts: make(chan *fakeProcess, 2)}
	a := &After{Starter: dep, Deps: []Dependency{{Name: "api", Ready: r}}}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Start(ctx, "bin"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a start with nothing ready = %v, want the context's error", err)
	}
	r.Start(context.Background(), "bin")
	started := make(chan error, 1)
	go func() { _, err := a.Start(context.Background(), "bin"); started <- err }()
	select {
	case err := <-started:
		t.Fatalf("started (%v) before the API was ready", err)
	case <-time.After(100 * time.Millisecond):
	}
	passing.Store(true)
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never started once the API was ready")
	}
	if r.Err() != nil {
		t.Errorf("Err = %v after the check passed", r.Err())
	}
	passing.Store(false) // a later start does not wait
	if _, err := a.Start(ctx, "bin"); err != nil {
		t.Errorf("a later start waited: %v", err)
	}
}

// ParseReady's checks, against a real listener and a real HTTP server.
func TestParseReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{srv.URL + "/healthz", true},
		{srv.URL + "/down", false},
		{"tcp:" + srv.Listener.Addr().String(), true},
		{"tcp:" + strings.TrimPrefix(srv.Listener.Addr().String(), "127.0.0.1:"), true},
		{"tcp:1", false},
	} {
		check, err := ParseReady(tc.spec)
		if err != nil {
			t.Fatalf("ParseReady(%q): %v", tc.spec, err)
		}
		if err := check(ctx); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.spec, err, tc.ok)
		}
	}
	for _, bad := range []string{"8080", "tcp:", "ftp://x", "tcp:a:b:c"} {
		if _, err := ParseReady(bad); err == nil {
			t.Errorf("ParseReady(%q) accepted it", bad)
		}
	}
	if c, err := ParseReady(""); c != nil || err != nil {
		t.Errorf(`ParseReady("") = %v, %v; want no check`, c, err)
	}
}

// Limit lets n builds run at once, and a cancelled wait returns.
func TestLimit(t *testing.T) {
	l := NewLimit(1)
	release := make(chan struct{})
	running := make(chan struct{}, 2)
	b := l.Wrap(builderFunc(func(ctx context.Context, _ Trigger) (Artifact, error) {
		running <- struct{}{}
		<-release
		return "a", nil
	}))
	go b.Build(context.Background(), Trigger{})
	<-running
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Build(ctx, Trigger{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second build with one slot = %v, want it to wait and give up", err)
	}
	close(release)
}

type builderFunc func(context.Context, Trigger) (Artifact, error)

func (f builderFunc) Build(ctx context.Context, t Trigger) (Artifact, error) { return f(ctx, t) }
