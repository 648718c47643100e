package pid1

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/devrun/devrun/runner"
)

// fakePID1 plays pid1 for a Session: each signal is answered with the
// records pid1 would send, through the session's Handle, as the stream
// would deliver them. Signals are recorded.
type fakePID1 struct {
	mu      sync.Mutex
	ctr     *Session
	signals []string
	appRuns bool
	code    int           // the code a stop reports
	hang    chan struct{} // when set, a signal blocks until ctx is done
	mute    bool          // when set, pid1 answers nothing
}

func (f *fakePID1) signal(ctx context.Context, sig string) error {
	f.mu.Lock()
	f.signals = append(f.signals, sig)
	hang, mute := f.hang, f.mute
	f.mu.Unlock()
	if hang != nil {
		<-ctx.Done()
		return ctx.Err()
	}
	if mute {
		return nil
	}
	go func() {
		switch sig {
		case "SIGHUP":
			f.ctr.Handle(Record{Kind: "stopped", Value: fmt.Sprint(f.stopCode())})
			f.setRuns(true)
			f.ctr.Handle(Record{Kind: "started", Value: "7"})
		case "SIGUSR1", "SIGUSR2":
			f.ctr.Handle(Record{Kind: "stopped", Value: fmt.Sprint(f.stopCode())})
			f.setRuns(false)
		}
	}()
	return nil
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

// errGone stands for the gone error of a place devrun recreates.
var errGone = fmt.Errorf("the place is gone: %w", runner.ErrGone)

func newFakeContainer(t *testing.T) (*Session, *fakePID1) {
	f := &fakePID1{code: 143}
	c := NewSession(f.signal, errGone, nil)
	f.ctr = c
	return c, f
}

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

	p, err := c.Start(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Handle(Record{Kind: "exited", Value: "3"})
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

	p, err = c.Start(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("Stop of a running app = %v, want exit 143", err)
	}

	p, err = c.Start(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.End()
	waitDone(t, p.Done(), "the loss")
	if !errors.Is(p.Err(), runner.ErrGone) {
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

// A pid1 that cannot be reached (an engine or API server that hangs) on the stop path does not hang Stop: it returns
// within the bound of its calls, also when forced.
func TestStopWithAHungEngineIsBounded(t *testing.T) {
	for _, forced := range []bool{false, true} {
		t.Run(fmt.Sprint("forced=", forced), func(t *testing.T) {
			c, f := newFakeContainer(t)
			p, err := c.Start(context.Background(), time.Second)
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
					t.Error("Stop through a hung signal reports no error")
				}
			case <-time.After(callTimeout + 10*time.Second):
				t.Fatal("Stop hangs with the signal")
			}
		})
	}
}

// pid1 that answers no stop: Stop gives up after the stop timeout and a
// few seconds, and the next start says the container must be replaced.
func TestUnansweredStopMarksTheContainer(t *testing.T) {
	c, f := newFakeContainer(t)
	p, err := c.Start(context.Background(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.mute = true
	f.mu.Unlock()
	if err := p.Stop(context.Background()); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Stop unanswered = %v, want ErrNoAnswer", err)
	}
	if _, err := c.Start(context.Background(), time.Second); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("the next start = %v, want ErrNoAnswer (replace the container)", err)
	}
}
