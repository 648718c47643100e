package runner

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Check tells whether a started app is ready to serve: nil once it is.
// Each call is bounded by ctx.
type Check func(ctx context.Context) error

// ParseReady returns the Check for a run.ready value: "" (none: started
// counts as ready), tcp:PORT or tcp:HOST:PORT (a connection is accepted),
// or an http:// URL (it answers with a status below 500).
func ParseReady(s string) (Check, error) {
	switch {
	case s == "":
		return nil, nil
	case strings.HasPrefix(s, "tcp:"):
		addr := strings.TrimPrefix(s, "tcp:")
		if !strings.Contains(addr, ":") {
			addr = "127.0.0.1:" + addr
		}
		_, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q is not tcp:PORT or tcp:HOST:PORT, with a port from 1 to 65535", s)
		}
		return func(ctx context.Context) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		}, nil
	case strings.HasPrefix(s, "http://"):
		req, err := http.NewRequest(http.MethodGet, s, nil)
		if err != nil {
			return nil, fmt.Errorf("%q is not a URL: %w", s, err)
		}
		return func(ctx context.Context) error {
			resp, err := http.DefaultClient.Do(req.WithContext(ctx))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				return fmt.Errorf("GET %s: %s", s, resp.Status)
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("%q is not tcp:PORT, tcp:HOST:PORT or an http:// URL", s)
}

// Ready is a Starter that, after each start of the Starter it wraps,
// runs Check in the background until it passes, the app exits, or
// Timeout passes. Done is closed the first time a start is ready, or
// found never to be (then Err says why): what depends on the app goes on
// either way. Make it with NewReady; it is safe for concurrent use.
type Ready struct {
	starter Starter
	check   Check
	timeout time.Duration
	log     *slog.Logger
	name    string

	once sync.Once
	done chan struct{}
	err  atomic.Pointer[error]
}

// NewReady wraps s. A nil check makes a started app ready at once; a
// timeout of 0 means 30 s. name names the app in log's messages.
func NewReady(s Starter, check Check, timeout time.Duration, name string, log *slog.Logger) *Ready {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ready{starter: s, check: check, timeout: timeout, log: log, name: name, done: make(chan struct{})}
}

// Done is closed once the app has first been ready, or found not to be.
func (r *Ready) Done() <-chan struct{} { return r.done }

// Err says why the app was not ready when Done was closed; nil when it was.
func (r *Ready) Err() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *Ready) finish(err error) {
	r.once.Do(func() {
		if err != nil {
			r.err.Store(&err)
		}
		close(r.done)
	})
}

// Start starts a and checks it in the background.
func (r *Ready) Start(ctx context.Context, a Artifact) (Process, error) {
	p, err := r.starter.Start(ctx, a)
	if err != nil {
		return nil, err
	}
	if r.check == nil {
		r.finish(nil)
		return p, nil
	}
	go r.watch(p)
	return p, nil
}

// watch checks p every 50 ms, each check bounded by a second, until it
// passes, p exits or the timeout passes.
func (r *Ready) watch(p Process) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		last = r.check(cctx)
		ccancel()
		if last == nil {
			r.once.Do(func() {
				r.log.Info(fmt.Sprintf("ready after %s", ms(time.Since(start))))
				close(r.done)
			})
			return
		}
		select {
		case <-tick.C:
		case <-p.Done():
			return // the next start checks again
		case <-ctx.Done():
			err := fmt.Errorf("%s was not ready within run.ready_timeout %s (last check: %w)", r.name, r.timeout, last)
			r.log.Error(err.Error())
			r.finish(err)
			return
		}
	}
}

// A Dependency is what a start waits for: another app's readiness.
type Dependency struct {
	Name  string
	Ready *Ready
}

// After is a Starter whose first start waits until every one of Deps is
// ready (or found never to be, which it says), as depends_on asks: the
// later starts (swaps, restarts) do not wait. It is safe for concurrent
// use.
type After struct {
	Starter Starter
	Deps    []Dependency
	Log     *slog.Logger
	waited  atomic.Bool
}

// Start waits for the dependencies the first time, then starts a. It
// waits for each at most its run.ready_timeout from when it began to: a
// dependency that never starts (its build fails) or crash-loops holds
// nothing up for ever.
func (s *After) Start(ctx context.Context, a Artifact) (Process, error) {
	if !s.waited.Load() {
		log := s.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		begin := time.Now()
		for _, d := range s.Deps {
			select {
			case <-d.Ready.Done():
				if err := d.Ready.Err(); err != nil {
					log.Warn("starting anyway: " + err.Error())
				}
				continue
			default:
			}
			log.Info("waiting for " + d.Name + " to be ready")
			t := time.NewTimer(max(0, d.Ready.timeout-time.Since(begin)))
			select {
			case <-d.Ready.Done():
				if err := d.Ready.Err(); err != nil {
					log.Warn("starting anyway: " + err.Error())
				}
			case <-t.C:
				log.Warn(fmt.Sprintf("starting anyway: %s was not ready within run.ready_timeout %s", d.Name, d.Ready.timeout))
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
			t.Stop()
		}
		s.waited.Store(true)
	}
	return s.Starter.Start(ctx, a)
}

// Limit is a Builder wrapper that lets at most n builds run at once,
// across every Builder it wraps: several services built for one change
// share the machine's cores. Make it with NewLimit.
type Limit struct{ slots chan struct{} }

// NewLimit returns a Limit of n builds at once (at least one).
func NewLimit(n int) *Limit { return &Limit{slots: make(chan struct{}, max(n, 1))} }

// Wrap returns b, its builds waiting for a free slot.
func (l *Limit) Wrap(b Builder) Builder { return limited{b, l} }

type limited struct {
	b Builder
	l *Limit
}

func (lb limited) Build(ctx context.Context, t Trigger) (Artifact, error) {
	select {
	case lb.l.slots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-lb.l.slots }()
	return lb.b.Build(ctx, t)
}
