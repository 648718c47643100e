package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"
)

// A RestartPolicy says what the Supervisor does when the app exits by itself.
type RestartPolicy string

// The restart policies.
const (
	RestartNever     RestartPolicy = "never"      // wait for the next change
	RestartOnFailure RestartPolicy = "on-failure" // start it again if it exited with an error
	RestartAlways    RestartPolicy = "always"     // start it again
)

// RestartPolicies lists the valid policies.
var RestartPolicies = []RestartPolicy{RestartNever, RestartOnFailure, RestartAlways}

// Restarts after the app exited by itself wait from minBackoff, doubling up to
// maxBackoff; an app that ran for resetBackoff starts again from minBackoff.
// Starts while the app's environment is gone (ErrGone) double only up to
// maxGoneBackoff: a check that an engine is back costs next to nothing, and
// a long wait would keep the app down after it is.
const (
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 2 * time.Second
	resetBackoff   = 10 * time.Second
	maxGoneBackoff = 500 * time.Millisecond
)

// nextBackoff returns the wait after b.
func nextBackoff(b time.Duration, gone bool) time.Duration {
	limit := maxBackoff
	if gone {
		limit = maxGoneBackoff
	}
	return min(max(2*b, minBackoff), limit)
}

// A Supervisor runs the build → swap cycle. At most one build runs at a time:
// a change during a build cancels it and starts a new one, so the last change
// always wins. A failed build leaves the running app alone. A good build stops
// the running app, waits until it and its children have exited, and starts the
// new one. All state lives in Run's goroutine; a Supervisor runs once.
type Supervisor struct {
	Builder Builder
	Starter Starter
	Restart RestartPolicy // default RestartNever
	Log     *slog.Logger  // devrun's own messages; default discarded
	// BuildOutput receives a failed build's output, unchanged; default os.Stderr.
	BuildOutput io.Writer
	// Force, once closed, makes a stop kill the app at once instead of
	// waiting for the stop timeout (a second Ctrl-C).
	Force <-chan struct{}
	// Overlap starts each new version while the old one still runs, and
	// stops the old one once the new one has started: for a Starter that
	// gives each version a port of its own and returns once it serves
	// (see proxy.Switcher). A version that fails to start leaves the old
	// one running. Restarts after the app exited are as without it.
	Overlap bool
}

// Run builds and starts the app, then builds and swaps it for every Trigger
// received on changes. It returns nil once ctx is done, after the build has
// been cancelled and the app has been stopped, so it leaves nothing running.
func (s *Supervisor) Run(ctx context.Context, changes <-chan Trigger) error {
	force, cancel := s.forceContext(ctx)
	defer cancel()
	l := &loop{Supervisor: s, results: make(chan result, 1), force: force}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	if l.BuildOutput == nil {
		l.BuildOutput = os.Stderr
	}
	now := time.Now()
	l.build(ctx, Trigger{First: now, Sent: now})
	for {
		select {
		case <-ctx.Done():
			l.shutdown()
			return nil
		case t, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			l.change(ctx, t)
		case r := <-l.results:
			l.finished(ctx, r)
		case <-l.exited():
			l.appExited()
		case <-l.restartAt:
			l.restartAt = nil
			l.start(ctx, l.art, timings{})
		}
	}
}

// forceContext returns a context that is done once s.Force is closed, or
// cancel is called.
func (s *Supervisor) forceContext(ctx context.Context) (_ context.Context, cancel func()) {
	force, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if s.Force != nil {
		go func() {
			select {
			case <-s.Force:
				cancel()
			case <-force.Done():
			}
		}()
	}
	return force, cancel
}

type result struct {
	art  Artifact
	err  error
	took time.Duration
}

// timings of one cycle, for its log line.
type timings struct {
	debounce, build, stop, start time.Duration
}

// loop is the state of one Run.
type loop struct {
	*Supervisor
	force   context.Context // done on a second Ctrl-C
	results chan result

	cancelBuild context.CancelFunc // non-nil while a build runs
	trigger     Trigger            // what started the running build
	next        *Trigger           // a change seen during the running build

	art       Artifact // the newest good build
	proc      Process  // the running app, or nil
	started   time.Time
	reported  bool // proc's exit has been handled
	backoff   time.Duration
	restartAt <-chan time.Time
	cycles    int  // apps started from a build so far
	retrying  bool // starts fail with ErrGone; the first failure has been logged
	regone    bool // the app's environment went: a restart is under way
}

func (l *loop) build(ctx context.Context, t Trigger) {
	bctx, cancel := context.WithCancel(ctx)
	l.cancelBuild, l.trigger = cancel, t
	go func() {
		start := time.Now()
		a, err := l.Builder.Build(bctx, t)
		l.results <- result{a, err, time.Since(start)}
	}()
}

func (l *loop) change(ctx context.Context, t Trigger) {
	if t.Restart {
		l.restartNow(ctx, t)
		return
	}
	if l.cancelBuild == nil {
		l.Log.Info(describe(t.Paths) + ": building")
		l.build(ctx, t)
		return
	}
	if l.next == nil {
		l.next = &Trigger{First: t.First}
	}
	l.next.Paths = append(l.next.Paths, t.Paths...)
	l.next.Steps = appendNew(l.next.Steps, t.Steps...)
	l.next.Sent = t.Sent
	l.cancelBuild() // finished() starts the next build once this one has exited
}

// restartNow starts the app again from the build it runs, for a change
// that the app reads at run time. A build under way swaps it in anyway.
func (l *loop) restartNow(ctx context.Context, t Trigger) {
	switch {
	case l.cancelBuild != nil:
		l.Log.Info(describe(t.Paths) + ": the build under way restarts the app")
	case l.art == "":
		l.Log.Info(describe(t.Paths) + ": no good build to restart yet; waiting for a change")
	default:
		l.Log.Info(describe(t.Paths) + ": restarting")
		l.backoff, l.restartAt = 0, nil
		if l.Overlap && l.proc != nil && !l.reported {
			l.replace(ctx, l.art, timings{debounce: t.Sent.Sub(t.First)})
			return
		}
		l.start(ctx, l.art, timings{debounce: t.Sent.Sub(t.First)})
	}
}

// appendNew appends the items of add that list lacks.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func (l *loop) finished(ctx context.Context, r result) {
	l.cancelBuild()
	l.cancelBuild = nil
	if l.next != nil {
		t := *l.next
		l.next = nil
		l.Log.Info(describe(t.Paths) + " during the build: building again")
		l.build(ctx, t)
		return
	}
	var be *BuildError
	switch {
	case ctx.Err() != nil:
	case errors.As(r.err, &be):
		l.BuildOutput.Write(be.Output)
		what := "build"
		if be.Step != "" {
			what = "the step " + be.Step
		}
		l.Log.Error(fmt.Sprintf("%s failed (%v) after %s; %s", what, be.Err, ms(r.took), l.stillServing()))
	case r.err != nil:
		l.Log.Error(fmt.Sprintf("%v; %s", r.err, l.stillServing()))
	default:
		t := timings{debounce: l.trigger.Sent.Sub(l.trigger.First), build: r.took}
		l.swap(ctx, r.art, t)
	}
}

func (l *loop) stillServing() string {
	if l.proc != nil && !l.reported {
		return "the previous build is still running"
	}
	return "waiting for a change"
}

// swap stops the running app, if any, and starts a; with Overlap, it
// starts a first.
func (l *loop) swap(ctx context.Context, a Artifact, t timings) {
	l.art = a
	l.backoff = 0
	l.restartAt = nil
	if l.Overlap && l.proc != nil && !l.reported {
		l.replace(ctx, a, t)
		return
	}
	if l.proc != nil {
		start := time.Now()
		l.stopApp()
		t.stop = time.Since(start)
	}
	if ctx.Err() == nil {
		l.start(ctx, a, t)
	}
}

// start starts a, once whatever the previous start made has exited: on
// every path (a swap, a restart by the policy or by hand, a start again
// after the environment came back) nothing of the old app is left when the
// new one starts.
func (l *loop) start(ctx context.Context, a Artifact, t timings) {
	if l.proc != nil {
		l.stopApp()
	}
	begin := time.Now()
	p, err := l.Starter.Start(ctx, a)
	t.start = time.Since(begin)
	if err != nil && ctx.Err() != nil {
		return // devrun stops: the start was cut short (waiting for what the app depends on)
	}
	if err != nil {
		l.startFailed(err, t.build != 0)
		return
	}
	l.proc, l.started, l.reported = p, time.Now(), false
	total := ms(t.debounce + t.build + t.stop + t.start)
	again := l.retrying || l.regone
	l.retrying, l.regone = false, false
	if again {
		l.backoff = 0 // the waits were the environment's, not the app's crashes
	}
	switch {
	case t.build == 0 && again && l.cycles == 0:
		l.Log.Info("started")
	case t.build == 0 && again:
		l.Log.Info("started again")
	case t.build == 0: // a restart after the app exited
	case l.cycles == 0:
		l.Log.Info(fmt.Sprintf("started in %s (build %s, start %s)", total, ms(t.build), ms(t.start)))
	default:
		l.Log.Info(fmt.Sprintf("started in %s (debounce %s, build %s, stop %s, start %s)",
			total, ms(t.debounce), ms(t.build), ms(t.stop), ms(t.start)))
	}
	l.cycles++
}

// replace starts a while the running app runs on, and stops the running
// app once a has started; if a fails to start, the running app serves on.
func (l *loop) replace(ctx context.Context, a Artifact, t timings) {
	begin := time.Now()
	p, err := l.Starter.Start(ctx, a)
	t.start = time.Since(begin)
	if err != nil {
		if ctx.Err() == nil {
			l.Log.Error(err.Error() + "; the previous version still serves")
		}
		return
	}
	total := ms(t.debounce + t.build + t.start)
	begin = time.Now()
	l.stopApp()
	stopped := time.Since(begin)
	l.proc, l.started, l.reported = p, time.Now(), false
	what := fmt.Sprintf("build %s", ms(t.build))
	if t.build == 0 {
		what = "no build"
	}
	l.Log.Info(fmt.Sprintf("started in %s (debounce %s, %s, start %s; the previous version then stopped in %s)",
		total, ms(t.debounce), what, ms(t.start), ms(stopped)))
	l.cycles++
}

// startFailed waits for a change, or, when the app's environment is gone
// for now, tries again with a backoff. Of the failures in a row, only the
// first is logged, and a new build that has to wait.
func (l *loop) startFailed(err error, built bool) {
	if !errors.Is(err, ErrGone) {
		l.retrying = false
		l.Log.Error(err.Error() + "; waiting for a change")
		return
	}
	l.backoff = nextBackoff(l.backoff, true)
	l.restartAt = time.After(l.backoff)
	switch {
	case !l.retrying:
		l.Log.Error(err.Error() + "; trying again until it works")
		l.retrying = true
	case built:
		l.Log.Info("the new build is ready; it starts as soon as it can")
	}
}

func (l *loop) stopApp() {
	if err := l.proc.Stop(l.force); err != nil && !l.reported && !stoppedBySignal(err) {
		l.Log.Warn("app exited on stop: " + err.Error())
	}
	l.proc = nil
}

// exited returns a channel that is closed when the app exits, or nil when
// there is no running app whose exit has not been handled yet.
func (l *loop) exited() <-chan struct{} {
	if l.proc == nil || l.reported {
		return nil
	}
	return l.proc.Done()
}

// appExited handles an exit that devrun did not ask for.
func (l *loop) appExited() {
	l.reported = true
	err := l.proc.Err()
	ran := time.Since(l.started)
	status := "exited with code 0"
	if err != nil {
		status = exitStatus(err)
	}
	gone := errors.Is(err, ErrGone)
	restart := gone || l.Restart == RestartAlways || (l.Restart == RestartOnFailure && err != nil)
	if !restart {
		l.Log.Warn(fmt.Sprintf("app %s after %s; waiting for a change", status, ms(ran)))
		return
	}
	if ran >= resetBackoff || gone { // a gone environment is no crash of the app's
		l.backoff = 0
	}
	l.backoff = nextBackoff(l.backoff, gone)
	why := fmt.Sprintf("restart: %s", l.Restart)
	if gone {
		why, l.regone = "not the app's doing", true
	}
	l.Log.Warn(fmt.Sprintf("app %s after %s; restarting in %s (%s)", status, ms(ran), ms(l.backoff), why))
	l.restartAt = time.After(l.backoff)
}

func (l *loop) shutdown() {
	if l.cancelBuild != nil {
		l.cancelBuild()
		<-l.results // the build's processes have exited
	}
	if l.proc != nil {
		l.stopApp()
	}
}

// describe names the changed paths for the log.
func describe(paths []string) string {
	uniq := map[string]bool{}
	var first string
	for _, p := range paths {
		if len(uniq) == 0 {
			first = p
		}
		uniq[p] = true
	}
	switch len(uniq) {
	case 0:
		return "restart requested"
	case 1:
		return first + " changed"
	}
	return fmt.Sprintf("%s and %d more changed", first, len(uniq)-1)
}

// exitCoder is an error that carries an exit code, as *exec.ExitError does
// (-1 for a process ended by a signal).
type exitCoder interface {
	error
	ExitCode() int
}

func exitStatus(err error) string {
	var ee exitCoder
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return fmt.Sprintf("exited with code %d", ee.ExitCode())
	}
	return "ended: " + err.Error()
}

// stoppedBySignal reports whether err says the process ended on a signal, as
// a stopped process does: -1 from os/exec, 128+N from a container's pid1.
func stoppedBySignal(err error) bool {
	var ee exitCoder
	return errors.As(err, &ee) && (ee.ExitCode() == -1 || ee.ExitCode() > 128)
}

// ms formats d for people: 12ms, 1.25s.
func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	}
	return d.Round(10 * time.Millisecond).String()
}
