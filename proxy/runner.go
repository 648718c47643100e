package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/devrun/devrun/runner"
)

// Starter is a runner.Starter for an app behind the proxy at a fixed
// address (stop-then-start): after each start of the Starter it wraps, it
// waits in the background until the app answers (WaitReady), then tells
// the pages (Served), so that they reload once the new version serves and
// never before. Its fields must not change once Start is called.
type Starter struct {
	Starter runner.Starter
	Proxy   *Proxy
	Timeout time.Duration // how long a start may take to answer; default 30 s
	Log     *slog.Logger  // default discarded

	starts atomic.Int64 // a check of an older start says nothing
}

// Start starts a, and checks it in the background.
func (s *Starter) Start(ctx context.Context, a runner.Artifact) (runner.Process, error) {
	proc, err := s.Starter.Start(ctx, a)
	if err != nil {
		return nil, err
	}
	n := s.starts.Add(1)
	go func() {
		addr := s.Proxy.Target()
		err := waitReady(context.Background(), s.Proxy, proc, addr, s.Timeout)
		if s.starts.Load() != n {
			return
		}
		switch {
		case err == nil:
			s.Proxy.Served(addr)
		case !exited(proc):
			logOf(s.Log).Warn(fmt.Sprintf("proxy: the app does not answer at %s after %s (%v): pages reload when a version does", addr, ms(timeout(s.Timeout)), err))
		}
	}()
	return proc, nil
}

// Switcher is a runner.Starter that starts each version of the app on a
// port of its own while the previous one still serves (start-then-
// switch): it picks a free port, starts the app with New(port), waits
// until it answers, then switches the proxy to it and tells the pages.
// The Supervisor stops the previous version after Start returns (its
// Overlap), off the edit-to-serve path. A version that exits or does not
// answer within Timeout is stopped, and Start fails: the previous version
// serves on, and the pages show why. Start blocks its caller (the
// Supervisor's loop) until the new version answers, fails, or ctx is done
// (devrun stops): then it stops the new version and returns ctx's error.
// Its fields must not change once Start is called; Start is called by one
// goroutine at a time.
type Switcher struct {
	New     func(port int) runner.Starter // a Starter whose app listens on port
	Proxy   *Proxy
	Timeout time.Duration // how long a start may take to answer; default 30 s
	Log     *slog.Logger  // default discarded

	served bool // a version has served: the next must answer before it does
}

// Start starts a on a new port, and switches to it once it answers.
func (s *Switcher) Start(ctx context.Context, a runner.Artifact) (runner.Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("choosing the app's port: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	proc, err := s.New(port).Start(ctx, a)
	if err != nil {
		return nil, err
	}
	if !s.served {
		// Nothing serves yet: requests wait for this one wherever they are.
		s.served = true
		s.Proxy.Switch(addr)
		go func() {
			if err := waitReady(context.Background(), s.Proxy, proc, addr, s.Timeout); err == nil {
				s.Proxy.Served(addr)
			} else if !exited(proc) {
				logOf(s.Log).Warn(fmt.Sprintf("proxy: the app does not answer on PORT=%d after %s (%v): does it listen on $PORT?", port, ms(timeout(s.Timeout)), err))
			}
		}()
		return proc, nil
	}
	if err := waitReady(ctx, s.Proxy, proc, addr, s.Timeout); err != nil {
		gone := exited(proc)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		stopErr := proc.Stop(sctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if gone {
			err = fmt.Errorf("the new version exited before it answered on PORT=%d (%v)", port, describeExit(stopErr))
		} else {
			hint := "does it listen on $PORT?"
			if s.Proxy.opts.Ready != "" {
				hint = "does it listen on $PORT, and does proxy.ready " + s.Proxy.opts.Ready + " answer 2xx or 3xx?"
			}
			err = fmt.Errorf("the new version did not answer on PORT=%d within run.ready_timeout %s (%v): %s It was stopped", port, ms(timeout(s.Timeout)), err, hint)
		}
		s.Proxy.Failed(err.Error() + "\n\nThe previous version still serves.")
		return nil, err
	}
	s.Proxy.Switch(addr)
	s.Proxy.Served(addr)
	return proc, nil
}

// waitReady waits until the app at addr answers, it exits, timeout
// (30 s if 0) passes, or ctx is done.
func waitReady(ctx context.Context, p *Proxy, proc runner.Process, addr string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout(d))
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-proc.Done():
			cancel()
		case <-stop:
		}
	}()
	return p.WaitReady(ctx, addr)
}

func timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 30 * time.Second
	}
	return d
}

func exited(proc runner.Process) bool {
	select {
	case <-proc.Done():
		return true
	default:
		return false
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit code 0"
	}
	return err.Error()
}

func logOf(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return d.Round(10 * time.Millisecond).String()
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Builder is a runner.Builder that shows a failed build's output over the
// pages open through the proxy; the next version that serves removes it.
type Builder struct {
	Builder runner.Builder
	Proxy   *Proxy
}

// Build builds, and tells the pages when the build fails.
func (b Builder) Build(ctx context.Context, t runner.Trigger) (runner.Artifact, error) {
	a, err := b.Builder.Build(ctx, t)
	var be *runner.BuildError
	switch {
	case err == nil, ctx.Err() != nil:
	case errors.As(err, &be):
		b.Proxy.Failed(be.Error() + "\n\n" + string(be.Output))
	default:
		b.Proxy.Failed(err.Error())
	}
	return a, err
}
