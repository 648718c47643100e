package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakePID1 is an Engine whose ContainerKill plays pid1: each signal is
// answered with the records pid1 would send, through the container's
// handle, as the attach stream would deliver them. Signals are recorded.
type fakePID1 struct {
	Engine
	mu      sync.Mutex
	ctr     *devContainer
	signals []string
	appRuns bool
	code    int           // the code a stop reports
	hang    chan struct{} // when set, ContainerKill blocks until ctx is done
	mute    bool          // when set, pid1 answers nothing
}

func (f *fakePID1) ContainerKill(ctx context.Context, _ string, o client.ContainerKillOptions) (client.ContainerKillResult, error) {
	f.mu.Lock()
	f.signals = append(f.signals, o.Signal)
	hang, mute := f.hang, f.mute
	f.mu.Unlock()
	if hang != nil {
		<-ctx.Done()
		return client.ContainerKillResult{}, ctx.Err()
	}
	if mute {
		return client.ContainerKillResult{}, nil
	}
	go func() {
		switch o.Signal {
		case "SIGHUP":
			f.ctr.handle(record{kind: "stopped", value: fmt.Sprint(f.stopCode())})
			f.setRuns(true)
			f.ctr.handle(record{kind: "started", value: "7"})
		case "SIGUSR1", "SIGUSR2":
			f.ctr.handle(record{kind: "stopped", value: fmt.Sprint(f.stopCode())})
			f.setRuns(false)
		}
	}()
	return client.ContainerKillResult{}, nil
}

func (f *fakePID1) stopCode() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.appRuns {
		return -1
	}
	return f.code
}

func (f *fakePID1) setRuns(b bool) {
	f.mu.Lock()
	f.appRuns = b
	f.mu.Unlock()
}

func (f *fakePID1) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.signals...)
}

func newFakeContainer(t *testing.T) (*devContainer, *fakePID1) {
	f := &fakePID1{code: 143}
	c := &devContainer{engine: f, id: "0123456789abcdef", records: make(chan record, 64), done: make(chan struct{}), goneErr: goneError{own: true}}
	c.conn = client.HijackedResponse{Conn: nopConn{}}
	f.ctr = c
	return c, f
}

// nopConn is a connection that does nothing: the fake has no stream.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never happened", what)
	}
}

// The life of an app in the container, as pid1's records tell it: a start,
// an exit of its own, a stop after that exit (pid1 ends what it left), a
// stop while it runs, and the container's loss.
func TestInstanceLife(t *testing.T) {
	ctx := context.Background()
	c, f := newFakeContainer(t)

	p, err := c.start(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.handle(record{kind: "exited", value: "3"})
	waitDone(t, p.Done(), "the exit")
	var ee exitError
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Err after exit 3 = %v", p.Err())
	}
	f.setRuns(false)
	if err := p.Stop(ctx); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("Stop after the exit = %v, want the exit's error", err)
	}
	if s := f.sent(); len(s) != 2 || s[1] != "SIGUSR1" {
		t.Errorf("signals %v: a stop after the app exited must still have pid1 end what it left", s)
	}

	p, err = c.start(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("Stop of a running app = %v, want exit 143", err)
	}

	p, err = c.start(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.handle(record{kind: "gone"})
	close(c.done)
	waitDone(t, p.Done(), "the loss")
	if !errors.Is(p.Err(), goneError{own: true}) && p.Err() == nil {
		t.Errorf("Err after the container went = %v", p.Err())
	}
	n := len(f.sent())
	if err := p.Stop(ctx); err == nil {
		t.Error("Stop after the container went reports no error")
	}
	if len(f.sent()) != n {
		t.Error("Stop signalled a container that is gone")
	}
}

// An engine that hangs on the stop path does not hang Stop: it returns
// within the bound of its calls, also when forced.
func TestStopWithAHungEngineIsBounded(t *testing.T) {
	for _, forced := range []bool{false, true} {
		t.Run(fmt.Sprint("forced=", forced), func(t *testing.T) {
			c, f := newFakeContainer(t)
			p, err := c.start(context.Background(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.hang = make(chan struct{})
			f.mu.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			if forced {
				cancel()
			}
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- p.Stop(ctx) }()
			select {
			case err := <-done:
				if err == nil {
					t.Error("Stop through a hung engine reports no error")
				}
			case <-time.After(callTimeout + 10*time.Second):
				t.Fatal("Stop hangs with the engine")
			}
		})
	}
}

// pid1 that answers no stop: Stop gives up after the stop timeout and a
// few seconds, and the next start says the container must be replaced.
func TestUnansweredStopMarksTheContainer(t *testing.T) {
	c, f := newFakeContainer(t)
	p, err := c.start(context.Background(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.mute = true
	f.mu.Unlock()
	if err := p.Stop(context.Background()); !errors.Is(err, errNoAnswer) {
		t.Fatalf("Stop unanswered = %v, want errNoAnswer", err)
	}
	if _, err := c.start(context.Background(), time.Second); !errors.Is(err, errNoAnswer) {
		t.Errorf("the next start = %v, want errNoAnswer (replace the container)", err)
	}
}

// attachOnly is an Engine for a compose service's Runner: a container that does not
// run, starts, and whose pid1 never says it is ready.
type attachOnly struct {
	Engine
	server net.Conn // the engine's end of the attach stream
}

func (e *attachOnly) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return client.ContainerInspectResult{Container: container.InspectResponse{State: &container.State{Running: false}}}, nil
}

func (e *attachOnly) ContainerAttach(context.Context, string, client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	cl, srv := net.Pipe()
	e.server = srv
	return client.ContainerAttachResult{HijackedResponse: client.HijackedResponse{Conn: cl, Reader: bufio.NewReader(cl)}}, nil
}

func (e *attachOnly) ContainerStart(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
	return client.ContainerStartResult{}, nil
}

func (e *attachOnly) DaemonHost() string { return "unix:///fake.sock" }

// A compose service's container whose pid1 never gets ready: the wait
// fails, and the attach stream is closed, not left open with its reader.
func TestEnsureExistingClosesTheAttachWhenTheWaitFails(t *testing.T) {
	e := &attachOnly{}
	r := NewCompose(Options{Engine: e}, "0123456789abcdef")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.ensure(ctx); err == nil {
		t.Fatal("ensure succeeded with a pid1 that is never ready")
	}
	e.server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := e.server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("the attach stream is still open after the failed wait: %v", err)
	}
}

// leftovers is an Engine with the image and one leftover container of
// another configuration, which Prepare removes, saying so.
type leftovers struct{ Engine }

func (leftovers) ImageInspect(context.Context, string, ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, nil
}

func (leftovers) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{{ID: "0123456789abcdef", State: "running", Labels: map[string]string{LabelConfig: "other"}}}}, nil
}

func (leftovers) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	return client.ContainerRemoveResult{}, nil
}

// A Runner made without a Log or output writers discards them, as the
// watcher and the runner do: it logged through a nil Log, and panicked.
func TestRunnerWithoutALog(t *testing.T) {
	r, err := New(Options{Engine: leftovers{}, Project: t.TempDir(), Image: "x", Copy: true, StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
}
