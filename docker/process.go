package docker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/devrun/devrun/runner"
)

// devContainer is one attached dev container and what its pid1 reports.
type devContainer struct {
	engine  Engine
	id      string
	conn    client.HijackedResponse
	records chan record   // every record, for whoever awaits one
	done    chan struct{} // closed when the attach stream ends: the container stopped
	goneErr error         // what the app's instances end with then
	log     *slog.Logger  // for Delve's lines

	mu      sync.Mutex
	pending *instance // started, not yet reported running
	current *instance // the app that runs
	closing bool      // devrun is removing the container
	ending  bool      // pid1 reported that the container is being stopped
	// unresponsive is set when pid1 did not answer a stop.
	unresponsive bool
}

func (c *devContainer) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *devContainer) gone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// goneOrGoing reports whether the container is gone, waiting (within ctx)
// for it to go when pid1 has said that it is being stopped.
func (c *devContainer) goneOrGoing(ctx context.Context) bool {
	c.mu.Lock()
	ending := c.ending
	c.mu.Unlock()
	if !ending {
		return c.gone()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return true
}

// runsApp reports whether an app has been started in the container and has
// not exited: its loss is the supervisor's to handle.
func (c *devContainer) runsApp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current != nil || c.pending != nil
}

// close marks the container as being removed by devrun, and detaches.
func (c *devContainer) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.conn.Close()
}

// handle is called, in order, for each record of pid1 and once with "gone".
func (c *devContainer) handle(r record) {
	if r.kind == "delve" {
		// Delve listens on every interface of the container, and warns;
		// devrun publishes its port on one address of the host's.
		if runner.DelveLineShown(r.value) && !strings.Contains(r.value, "Listening for remote connections") {
			c.log.Info("delve: " + r.value)
		}
		return
	}
	c.mu.Lock()
	switch r.kind {
	case "started":
		c.current, c.pending = c.pending, nil
	case "failed":
		if c.pending != nil {
			c.pending.finish(fmt.Errorf("starting the app in the container: %s", r.value))
			c.pending = nil
		}
	case "stopped", "exited":
		if c.current != nil {
			c.current.finish(exitErr(r.code()))
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

// await waits for a record of kind.
func (c *devContainer) await(ctx context.Context, kind string) error {
	for {
		select {
		case r := <-c.records:
			switch r.kind {
			case kind:
				return nil
			case "gone":
				return c.goneErr
			case "failed":
				if kind == "started" {
					return fmt.Errorf("starting the app in the container: %s", r.value)
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// start has pid1 stop the running app, if any, and start /devrun/app.
func (c *devContainer) start(ctx context.Context, stopTimeout time.Duration) (runner.Process, error) {
	in := &instance{ctr: c, done: make(chan struct{}), timeout: stopTimeout}
	c.mu.Lock()
	c.pending = in
	unresponsive := c.unresponsive
	c.mu.Unlock()
	if unresponsive {
		return nil, errNoAnswer
	}
	drain(c.records)
	if err := c.signal(ctx, "SIGHUP"); err != nil {
		if c.gone() || engineUnreachable(err) || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return nil, c.goneErr // gone, or going: the supervisor tries again
		}
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, stopTimeout+5*time.Second)
	defer cancel()
	if err := c.await(wait, "started"); err != nil {
		if wait.Err() != nil && ctx.Err() == nil {
			return nil, errNoAnswer
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

func drain(ch chan record) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func (c *devContainer) signal(ctx context.Context, sig string) error {
	if _, err := c.engine.ContainerKill(ctx, c.id, client.ContainerKillOptions{Signal: sig}); err != nil {
		return fmt.Errorf("signalling the dev container: %w", err)
	}
	return nil
}

// instance is one run of the app inside the container: a runner.Process.
type instance struct {
	ctr     *devContainer
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
	if c.gone() || ending {
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
		return errNoAnswer
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
func (c *devContainer) recordOf(ctx context.Context, kind string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			select {
			case r := <-c.records:
				if r.kind == kind || r.kind == "gone" {
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
