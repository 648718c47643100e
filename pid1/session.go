package pid1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/devrun/devrun/runner"
)

// ErrNoAnswer says that pid1 did not answer a swap or a stop in time: the
// place it runs in should be replaced (or restarted).
var ErrNoAnswer = errors.New("pid1 did not answer")

// ErrUnreachable, in the error of a Session's signal function (errors.Is),
// says that pid1 cannot be reached because the place it runs in is gone or
// going: a swap then fails with the Session's gone error, which the
// supervisor handles.
var ErrUnreachable = errors.New("pid1 cannot be reached")

// A Session is one running pid1, seen from devrun: the records it reports,
// which whoever reads its stderr hands to Handle in order (through a
// Filter), then End once the stream is over; and the signals devrun sends
// it, through the signal function it was made with (the engine's kill, an
// exec in a pod). Start swaps the app and returns it as a runner.Process.
// Its methods are safe for concurrent use.
type Session struct {
	signalFn func(ctx context.Context, sig string) error
	records  chan Record   // every record, for whoever awaits one
	done     chan struct{} // closed by End: the stream ended, pid1 is gone
	endOnce  sync.Once
	goneErr  error        // what the app's instances end with then
	log      *slog.Logger // for Delve's lines

	mu      sync.Mutex
	pending *instance // started, not yet reported running
	current *instance // the app that runs
	closing bool      // devrun is removing the place pid1 runs in
	ending  bool      // pid1 reported that it is being stopped
	// unresponsive is set when pid1 did not answer a stop.
	unresponsive bool
}

// NewSession returns the Session of a pid1 that signal reaches; gone is
// what the app's instances end with when the session ends (for a place
// devrun recreates, an error that is runner.ErrGone). log takes Delve's
// lines.
func NewSession(signal func(ctx context.Context, sig string) error, gone error, log *slog.Logger) *Session {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{signalFn: signal, records: make(chan Record, 64), done: make(chan struct{}), goneErr: gone, log: log}
}

// GoneErr returns the error the app's instances end with when the session ends.
func (c *Session) GoneErr() error { return c.goneErr }

// End is called once the record stream is over: pid1 is gone.
func (c *Session) End() {
	c.endOnce.Do(func() {
		c.Handle(Record{Kind: "gone"})
		close(c.done)
	})
}

// Done is closed once End has been called.
func (c *Session) Done() <-chan struct{} { return c.done }

// Closing reports whether Close was called.
func (c *Session) Closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// Gone reports whether the session has ended.
func (c *Session) Gone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// GoneOrGoing reports whether the session has ended, waiting (within ctx)
// for it to end when pid1 has said that it is being stopped.
func (c *Session) GoneOrGoing(ctx context.Context) bool {
	c.mu.Lock()
	ending := c.ending
	c.mu.Unlock()
	if !ending {
		return c.Gone()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return true
}

// RunsApp reports whether an app has been started and has not exited: its
// loss is the supervisor's to handle.
func (c *Session) RunsApp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current != nil || c.pending != nil
}

// Close marks the place pid1 runs in as being removed by devrun: its end
// is devrun's doing.
func (c *Session) Close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
}

// Handle is called, in order, for each record of pid1.
func (c *Session) Handle(r Record) {
	if r.Kind == "delve" {
		// Delve listens on every interface of the container, and warns;
		// devrun publishes its port on one address of the host's.
		if runner.DelveLineShown(r.Value) && !strings.Contains(r.Value, "Listening for remote connections") {
			c.log.Info("delve: " + r.Value)
		}
		return
	}
	c.mu.Lock()
	switch r.Kind {
	case "started":
		c.current, c.pending = c.pending, nil
	case "failed":
		if c.pending != nil {
			c.pending.finish(fmt.Errorf("starting the app: %s", r.Value))
			c.pending = nil
		}
	case "stopped", "exited":
		if c.current != nil {
			c.current.finish(exitErr(r.Code()))
			c.current = nil
		}
	case "shutdown": // the container is being stopped: not the app's doing
		c.ending = true
		if c.current != nil {
			c.current.finish(c.goneErr)
			c.current = nil
		}
	case "gone":
		for _, in := range []*instance{c.current, c.pending} {
			if in != nil {
				in.finish(c.goneErr)
			}
		}
		c.current, c.pending = nil, nil
	}
	c.mu.Unlock()
	select {
	case c.records <- r:
	default: // nobody awaits it
	}
}

// Await waits for a record of kind.
func (c *Session) Await(ctx context.Context, kind string) error {
	for {
		select {
		case r := <-c.records:
			switch r.Kind {
			case kind:
				return nil
			case "gone":
				return c.goneErr
			case "failed":
				if kind == "started" {
					return fmt.Errorf("starting the app: %s", r.Value)
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Start has pid1 stop the running app, if any, and start the app's binary,
// which must be in place.
func (c *Session) Start(ctx context.Context, stopTimeout time.Duration) (runner.Process, error) {
	return c.StartWith(ctx, stopTimeout, func(ctx context.Context) error { return c.signal(ctx, "SIGHUP") })
}

// StartWith is Start with trigger in place of the SIGHUP to pid1 that asks
// for the swap: a trigger may put the binary in place and send SIGHUP in
// one call (Kubernetes' exec of pid1's receive mode). Its error is taken
// as the signal's.
func (c *Session) StartWith(ctx context.Context, stopTimeout time.Duration, trigger func(context.Context) error) (runner.Process, error) {
	in := &instance{ctr: c, done: make(chan struct{}), timeout: stopTimeout}
	c.mu.Lock()
	c.pending = in
	unresponsive := c.unresponsive
	c.mu.Unlock()
	if unresponsive {
		return nil, ErrNoAnswer
	}
	drain(c.records)
	if err := trigger(ctx); err != nil {
		if c.Gone() || errors.Is(err, ErrUnreachable) {
			return nil, c.goneErr // gone, or going: the supervisor tries again
		}
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, stopTimeout+5*time.Second)
	defer cancel()
	if err := c.Await(wait, "started"); err != nil {
		if wait.Err() != nil && ctx.Err() == nil {
			return nil, ErrNoAnswer
		}
		if ctx.Err() != nil {
			// devrun is stopping, and pid1 has the swap under way: have
			// it stop the app, whether it started yet or not, for no
			// instance is returned that the supervisor could stop (a
			// compose service's container is not removed).
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			c.signal(sctx, "SIGUSR1")
			scancel()
		}
		return nil, err
	}
	return in, nil
}

func drain(ch chan Record) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func (c *Session) signal(ctx context.Context, sig string) error { return c.signalFn(ctx, sig) }

// instance is one run of the app inside the container: a runner.Process.
type instance struct {
	ctr     *Session
	timeout time.Duration
	once    sync.Once
	done    chan struct{}
	err     error
}

func (in *instance) finish(err error) {
	in.once.Do(func() {
		in.err = err
		close(in.done)
	})
}

// Done is closed when the app has exited or the container is gone.
func (in *instance) Done() <-chan struct{} { return in.done }

// Err returns how the app exited, once Done is closed.
func (in *instance) Err() error {
	<-in.done
	return in.err
}

// callTimeout bounds each call to the engine on the stop path: a hung
// engine (a Docker Desktop VM that froze accepts connections and never
// answers) must not hang a swap or Ctrl-C.
const callTimeout = 2 * time.Second

// Stop has pid1 stop the app: the stop signal to its tree, then SIGKILL
// after the stop timeout, or at once when ctx is done. Called after the app
// exited by itself, it has pid1 end what the app left running. Every call
// to the engine is bounded: Stop returns within the stop timeout and a few
// seconds, whatever the engine does.
func (in *instance) Stop(ctx context.Context) error {
	c := in.ctr
	c.mu.Lock()
	ending := c.ending
	c.mu.Unlock()
	if c.Gone() || ending {
		return in.wait(nil) // nothing runs there any more
	}
	exited := false
	select {
	case <-in.done:
		exited = true
		drain(c.records)
	default:
	}
	if err := in.signal(ctx, "SIGUSR1"); err != nil {
		return in.wait(err)
	}
	limit := time.NewTimer(in.timeout + 5*time.Second)
	defer limit.Stop()
	var stopped <-chan struct{} = in.done
	if exited {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		stopped = c.recordOf(rctx, "stopped")
	}
	last := 2 * time.Second
	select {
	case <-stopped:
		return in.wait(nil)
	case <-ctx.Done():
		in.signal(ctx, "SIGUSR2")
		last = 500 * time.Millisecond // past Ctrl-C's budget: the container's removal ends it anyway
	case <-limit.C:
	}
	select {
	case <-stopped:
		return in.wait(nil)
	case <-time.After(last):
		c.mu.Lock()
		c.unresponsive = true // the next Start replaces the container
		c.mu.Unlock()
		return ErrNoAnswer
	}
}

// signal sends sig to pid1 in a call bounded by callTimeout, by half the
// stop timeout and half a second when that is shorter (Ctrl-C's budget is
// the stop timeout and 2 s, and the container's removal needs some of it),
// and by a second at most once ctx is done.
func (in *instance) signal(ctx context.Context, sig string) error {
	limit := min(callTimeout, in.timeout/2+500*time.Millisecond)
	if ctx.Err() != nil {
		limit = min(limit, time.Second)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	return in.ctr.signal(cctx, sig)
}

// wait returns how the app exited once it has, or err when not done.
func (in *instance) wait(err error) error {
	select {
	case <-in.done:
		return in.err
	default:
		return err
	}
}

// recordOf returns a channel closed when pid1 reports a record of kind, or
// the container goes. It stops reading records once ctx is done.
func (c *Session) recordOf(ctx context.Context, kind string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			select {
			case r := <-c.records:
				if r.Kind == kind || r.Kind == "gone" {
					return
				}
			case <-c.done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// exitErr returns nil for code 0, and an exitError otherwise.
func exitErr(code int) error {
	if code == 0 {
		return nil
	}
	return exitError(code)
}

// exitError describes an exit code the way os/exec does, for the supervisor.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitCode returns the code.
func (e exitError) ExitCode() int { return int(e) }
