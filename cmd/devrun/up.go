package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devrun/devrun/changes"
	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/graph"
	"github.com/devrun/devrun/internal/term"
	"github.com/devrun/devrun/proxy"
	"github.com/devrun/devrun/rules"
	"github.com/devrun/devrun/runner"
	"github.com/devrun/devrun/watcher"
	"github.com/spf13/cobra"
)

func newUp(g *globals, stderr io.Writer, force <-chan struct{}) *cobra.Command {
	return &cobra.Command{
		Use:   "up [service...] [-- app arguments]",
		Short: "Build and run the app (or the services named, all by default), and rebuild and swap it on every change",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(cmd)
			if err != nil {
				return err
			}
			// On a terminal, long builds show their progress on a line of
			// their own, which every other write there clears first.
			var progress *term.Progress
			color := term.IsColorTerminal(stderr)
			if g.logFile == "" && term.IsTerminal(stderr) {
				progress = term.NewProgress(stderr, nil)
				stderr = progress.Wrap(stderr)
			}
			log, out, closeLog, err := g.logger(stderr, color)
			if err != nil {
				return err
			}
			defer closeLog()
			if progress == nil {
				progress = term.NewProgress(nil, log)
			}
			// Before --, service names; after it, the app's arguments.
			// Without services, every argument is the app's, as before.
			names, appArgs := args, []string(nil)
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				names, appArgs = args[:dash], args[dash:]
			}
			if len(c.Services) == 0 {
				if len(args) > 0 {
					c.Run.Args = args
				}
				names = nil
			}
			return up(cmd.Context(), c, log, out, progress, force, g.logFile, names, appArgs)
		},
	}
}

// findModule checks that go build has a module to build, so that devrun
// says so instead of a failing build.
func findModule() error {
	dir, err := filepath.Abs(".")
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			wd, _ := os.Getwd()
			return fmt.Errorf("no go.mod in %s or above: run devrun in a Go module (or 'go mod init'), or set build.command", wd)
		}
		dir = parent
	}
}

// projectState is where devrun keeps what it writes for itself in a
// project: the PID files of the build, the app and devrun up, and the
// directory mounted in the dev container; by default the builds too
// (build.output). It is in one place whatever build.output says, and
// never watched.
const projectState = ".devrun"

// stateDir makes and returns the directory for devrun's own files:
// projectState, or, where the project cannot be written to (a source
// tree mounted read-only, or owned by another user, as in the compose
// sidecar), a directory of the project's in the user's cache.
func stateDir() (string, error) {
	err := os.MkdirAll(projectState, 0o755)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(projectState, ".probe-*"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return projectState, nil
		}
	}
	abs, aerr := filepath.Abs(".")
	if aerr != nil {
		return "", fmt.Errorf("making %s: %w", projectState, err)
	}
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(cacheDir(), "state", hex.EncodeToString(sum[:6]))
	if merr := os.MkdirAll(dir, 0o755); merr != nil {
		return "", fmt.Errorf("making %s (%v), or %s instead: %w", projectState, err, dir, merr)
	}
	return dir, nil
}

// up runs the watcher and one supervisor for each service (the one
// program of a devrun.yaml without services) until ctx is done. names
// selects services (and those they depend on); none selects all. What
// devrun writes itself (its state directory, the builds, the log file,
// the pid1 cache) is never watched, wherever it is.
func up(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer, progress *term.Progress, force <-chan struct{}, logFile string, names, appArgs []string) error {
	services := c.Services
	if len(services) == 0 {
		services = []config.Service{{Config: c}}
	} else {
		var err error
		if services, err = config.Select(services, names); err != nil {
			return err
		}
		// The app's arguments go to the services named (all when none are),
		// not to those they only depend on.
		for _, s := range services {
			if len(appArgs) > 0 && (len(names) == 0 || slices.Contains(names, s.Name)) {
				s.Config.Run.Args = appArgs
			}
		}
	}
	for _, s := range services {
		if len(s.Config.Build.Command) == 0 {
			if err := findModule(); err != nil {
				return err
			}
			break
		}
	}
	if len(c.Services) == 0 && len(c.Build.Command) == 0 && c.Source("build.package") == "default" && !config.IsMain(".") {
		if mains := config.MainPackages("."); len(mains) > 1 {
			return fmt.Errorf("this module has %d main packages, %s, and none in its directory: name one with --build.package %s, or run them side by side as services in devrun.yaml ('devrun init' writes them)",
				len(mains), strings.Join(mains, ", "), mains[0])
		}
	}
	// Made before the watcher starts, so that a symbolic link among them
	// resolves, and what is below its target is known as devrun's own.
	state, err := stateDir()
	if err != nil {
		return err
	}
	budget := stopTotal(services)
	p := parts{
		log: log, out: out, state: state,
		force:    stopBudget(ctx, force, budget),
		deadline: stopDeadline(ctx, budget),
		limit:    runner.NewLimit(parallelBuilds(c.Build.Parallel)),
		several:  len(services) > 1,
		steps:    &sync.Mutex{},
		// The app writes to the terminal itself, unbuffered and still a
		// TTY: a line it writes during a long build may follow the
		// progress line (which shows mostly before the first start).
		stdout: []io.Writer{os.Stdout}, stderr: []io.Writer{os.Stderr},
		progress: progress,
	}
	if len(c.Services) > 0 {
		var ns []string
		for _, s := range services {
			ns = append(ns, s.Name)
			p.width = max(p.width, len(s.Name))
		}
		p.stdout = writers(term.NewPrefixers(progress.Wrap(os.Stdout), term.IsColorTerminal(os.Stdout), ns...))
		p.stderr = writers(term.NewPrefixers(progress.Wrap(os.Stderr), term.IsColorTerminal(os.Stderr), ns...))
	}
	var units []*unit
	defer func() {
		for i := len(units) - 1; i >= 0; i-- {
			units[i].close()
		}
	}()
	if len(c.Services) > 0 {
		// What a devrun of this project without services left.
		for _, f := range []string{filepath.Join(state, "build.pid"), filepath.Join(state, "app.pid")} {
			if msg, err := runner.KillLeftover(f); err != nil {
				log.Warn(err.Error())
			} else if msg != "" {
				log.Info(msg)
			}
		}
	}
	if err := placeComposePID1(ctx, services); err != nil {
		return err
	}
	ready := map[string]*runner.Ready{}
	for i, s := range services {
		u, err := p.unit(ctx, s, i, ready)
		if err != nil {
			return err
		}
		units = append(units, u)
		ready[s.Name] = u.ready
	}

	own := []string{state, logFile, cacheDir()}
	for _, u := range units {
		own = append(own, u.own...)
	}
	opts := watchOptions(c, log, own...)
	opts.Filter.Keep = func(rel string) bool {
		return slices.ContainsFunc(units, func(u *unit) bool { return u.pipe.Keep(rel) })
	}
	if slices.ContainsFunc(units, func(u *unit) bool { return u.svc.Config.Run.Mode == "compose" }) {
		opts.Probe = 500 * time.Millisecond // bind mounts of Docker Desktop and WSL2 may deliver no events
	}
	w, err := watcher.New(opts)
	if err != nil {
		return err
	}
	mode := "file events"
	if w.Polling() {
		mode = "polling"
	}
	var building []string
	for _, u := range units {
		what := u.svc.Config.Build.Package
		if u.svc.Name != "" {
			what = u.svc.Name + " (" + what + ")"
		}
		building = append(building, what)
	}
	log.Info(fmt.Sprintf("watching %s (%s); building %s", strings.Join(c.Watch.Paths, ", "), mode, strings.Join(building, ", ")))

	batches := make(chan watcher.Batch)
	watched := make(chan struct{})
	go func() { w.Run(ctx, batches); close(watched) }()
	go fanOut(ctx, log, batches, units)
	for _, u := range units {
		u.pipe.Start(ctx, u.graph, w.Refresh)
		go u.pipe.Run(ctx, u.batches, u.triggers)
	}
	for _, u := range units {
		if u.proxy != nil {
			px, ul := u.proxy, u.log
			ul.Info("proxy: http://" + px.Addr() + "/ → the app")
			go func() {
				if err := px.Serve(ctx); err != nil {
					ul.Error(err.Error())
				}
			}()
		}
	}
	prod := productionBuilder(ctx, c, log, out)
	go commands(ctx, os.Stdin, log, units, prod)
	onBuildSignal(ctx, prod)
	defer writePID(state)()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			what := "the app"
			if len(c.Services) > 0 {
				what = "the services"
			}
			log.Info("stopping " + what + " (press Ctrl-C again to kill it now)")
		case <-finished:
		}
	}()
	runUnits(ctx, units)
	<-watched
	return nil
}

// A unit is one service's parts, each made up front and never changed
// after: what decides what its changes do (its own build graph), what
// builds it, what runs it, and the supervisor that swaps it.
type unit struct {
	svc      config.Service
	log      *slog.Logger
	pipe     *changes.Pipeline
	sup      *runner.Supervisor
	graph    graph.Options
	ready    *runner.Ready
	proxy    *proxy.Proxy // in front of it, if any
	own      []string     // what devrun writes for it
	batches  chan watcher.Batch
	triggers chan runner.Trigger
	close    func() // removes its container, if any
}

// parts holds what every unit is made with.
type parts struct {
	log            *slog.Logger
	out            io.Writer
	state          string
	force          <-chan struct{}
	deadline       func() time.Time
	limit          *runner.Limit
	width          int
	several        bool        // more than one service runs: devrun says once what no service reads
	steps          sync.Locker // held while a service's steps run: services that share steps never run them at once
	stdout, stderr []io.Writer // one for each service, or one for the only one
	progress       *term.Progress
}

// unit makes the i-th service's parts; ready holds the readiness of the
// services made before it, which it may depend on.
func (p parts) unit(ctx context.Context, s config.Service, i int, ready map[string]*runner.Ready) (*unit, error) {
	c := s.Config
	log, state := p.log, p.state
	stdout, stderr := p.stdout[min(i, len(p.stdout)-1)], p.stderr[min(i, len(p.stderr)-1)]
	if s.Name != "" {
		log = term.Named(p.log, s.Name, p.width)
		state = filepath.Join(p.state, s.Name)
		if err := os.MkdirAll(state, 0o755); err != nil {
			return nil, fmt.Errorf("services.%s: %w", s.Name, err)
		}
	}
	if err := os.MkdirAll(c.Build.Output, 0o755); err != nil {
		return nil, fmt.Errorf("making build.output: %w", err)
	}
	check, err := runner.ParseReady(c.Run.Ready)
	if err != nil {
		return nil, fmt.Errorf("run.ready: %w", err)
	}
	u := &unit{svc: s, log: log, own: []string{c.Build.Output}, close: func() {},
		batches: make(chan watcher.Batch, 16), triggers: make(chan runner.Trigger)}
	// The proxy in front of the app, if any: the app gets a port of
	// devrun's choosing in PORT unless proxy.app names its address; with
	// start-first, a port of its own for each version.
	var extraEnv []string
	startFirst := false
	if c.Proxy.Listen != "" {
		target := config.Addr(c.Proxy.App)
		hint := ""
		if target == "" {
			startFirst = c.Proxy.StartFirst() && !c.Run.Debug // one Delve address
			port := 0                                         // start-first: the first version's port, once it starts
			if !startFirst {
				if port, err = proxy.FreePort(); err != nil {
					return nil, fmt.Errorf("proxy: choosing the app's port: %w", err)
				}
				extraEnv = []string{"PORT=" + strconv.Itoa(port)}
			}
			target = "127.0.0.1:" + strconv.Itoa(port)
			hint = "devrun gives the app its port in PORT: does it listen on $PORT? (or set proxy.app to where it listens)"
		}
		px, err := proxy.Listen(proxy.Options{Listen: config.Addr(c.Proxy.Listen), Target: target, Wait: c.Proxy.Wait, Hint: hint, Log: log, Ready: c.Proxy.Ready, NoScript: !c.Proxy.Reload, H2C: c.Proxy.H2C,
			Answer: c.Run.Mode != "host"}) // a published port accepts before the app listens
		if err != nil {
			return nil, err
		}
		u.proxy = px
		u.close = func() { px.Close() }
	}
	var reload func([]string)
	if u.proxy != nil && c.Proxy.Reload {
		reload = u.proxy.Changed
	}
	pipe, err := pipeline(c, log, p.several, reload)
	if err != nil {
		u.close()
		return nil, err
	}
	u.pipe = pipe
	var starter runner.Starter
	host, err := hostStarter(c, state, stdout, stderr, extraEnv)
	if err != nil {
		u.close()
		return nil, err
	}
	starter = host
	if c.Run.Debug && c.Run.Mode == "host" {
		d, err := delveStarter(c, host, log)
		if err != nil {
			u.close()
			return nil, err
		}
		starter = d
	}
	if c.Run.Mode == "host" {
		if err := runner.BecomeSubreaper(); err != nil {
			log.Warn(err.Error())
		}
	}
	for _, f := range []string{filepath.Join(state, "build.pid"), host.PIDFile} {
		if msg, err := runner.KillLeftover(f); err != nil {
			log.Warn(err.Error())
		} else if msg != "" {
			log.Info(msg)
		}
	}
	var target platform // the host's
	if c.Run.Mode == "container" || c.Run.Mode == "compose" {
		r, pf, closeContainer, err := containerStarter(ctx, c, log, stdout, stderr, state, p.deadline, s.Name)
		if err != nil {
			u.close()
			return nil, err
		}
		closeProxy := u.close
		starter, target = r, pf
		u.close = func() { closeContainer(); closeProxy() }
		if c.Run.Mode == "compose" {
			u.own = append(u.own, c.Compose.MountDir)
		}
	}
	if c.Run.Mode == "kubernetes" {
		r, pf, closeKube, err := kubeStarter(ctx, c, log, stdout, stderr, p.deadline, s.Name)
		if err != nil {
			u.close()
			return nil, err
		}
		closeProxy := u.close
		starter, target = r, pf
		u.close = func() { closeKube(); closeProxy() }
	}
	build := goBuild(c, state, target)
	build.Progress = p.progress.Build(s.Name)
	u.graph = graphOptions(build)
	var builder runner.Builder = build
	if len(c.Build.Steps) > 0 {
		steps := &runner.Steps{Builder: build, Dir: ".", Log: log, Hold: pipe.Hold, Release: pipe.Release, Lock: p.steps}
		for _, st := range c.Build.Steps {
			steps.Steps = append(steps.Steps, runner.Step{Name: st.Name, Argv: st.Run})
		}
		builder = steps
	}
	name := s.Name
	if name == "" {
		name = "the app"
	}
	switch {
	case startFirst:
		base := starter.(*runner.Host)
		starter = &proxy.Switcher{Proxy: u.proxy, Timeout: c.Run.ReadyTimeout, Log: log, New: func(port int) runner.Starter {
			h := *base
			h.Env = append([]string{"PORT=" + strconv.Itoa(port)}, base.Env...)
			return &h
		}}
	case u.proxy != nil:
		starter = &proxy.Starter{Starter: starter, Proxy: u.proxy, Timeout: c.Run.ReadyTimeout, Log: log}
	}
	if u.proxy != nil && c.Proxy.Reload {
		builder = proxy.Builder{Builder: builder, Proxy: u.proxy}
	}
	u.ready = runner.NewReady(starter, check, c.Run.ReadyTimeout, name, log)
	starter = u.ready
	if len(s.DependsOn) > 0 {
		after := &runner.After{Starter: starter, Log: log}
		for _, d := range s.DependsOn {
			if r, ok := ready[d]; ok {
				after.Deps = append(after.Deps, runner.Dependency{Name: d, Ready: r})
			}
		}
		starter = after
	}
	u.sup = &runner.Supervisor{
		Builder:     p.limit.Wrap(builder),
		Starter:     starter,
		Restart:     runner.RestartPolicy(c.Run.Restart),
		Log:         log,
		BuildOutput: p.out,
		Force:       p.force,
		Overlap:     startFirst,
	}
	return u, nil
}

// writers converts prefixers to writers.
func writers(ps []*term.Prefixer) []io.Writer {
	out := make([]io.Writer, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// parallelBuilds reads build.parallel: 0 is one build for each CPU.
func parallelBuilds(s string) int {
	n, _ := strconv.Atoi(s)
	if n <= 0 {
		return runtime.NumCPU()
	}
	return n
}

// fanOut hands every batch of the one watcher to every unit, each of
// which decides from its own build graph what it does to its service. It
// never waits for a unit: a unit busy for a while (its graph loading
// again, its supervisor waiting for what it depends on to be ready)
// holds up no other; its batches queue, in order, until it takes them.
func fanOut(ctx context.Context, log *slog.Logger, batches <-chan watcher.Batch, units []*unit) {
	queues := make([]chan watcher.Batch, len(units))
	for i, u := range units {
		queues[i] = make(chan watcher.Batch)
		go forward(ctx, queues[i], u.batches)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-batches:
			if !ok {
				return
			}
			if len(units) > 1 {
				sayIgnored(log, b, units)
			}
			for _, q := range queues {
				select {
				case q <- b:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// forward passes what arrives on in to out in order, keeping what out
// does not take yet, so that a send on in never waits long, until ctx is
// done.
func forward(ctx context.Context, in <-chan watcher.Batch, out chan<- watcher.Batch) {
	var queue []watcher.Batch
	for {
		var send chan<- watcher.Batch
		var next watcher.Batch
		if len(queue) > 0 {
			send, next = out, queue[0]
		}
		select {
		case <-ctx.Done():
			return
		case b := <-in:
			queue = append(queue, b)
		case send <- next:
			queue = queue[1:]
		}
	}
}

// sayIgnored says, once for every service, that a batch none of them
// reads nor has a rule for does nothing (each unit says it at debug
// level only).
func sayIgnored(log *slog.Logger, b watcher.Batch, units []*unit) {
	for _, path := range b.Paths {
		if path == "." {
			return // the kernel dropped events: every service rebuilds
		}
		for _, u := range units {
			if env := u.svc.Config.Run.EnvFile; env != "" && filepath.Clean(env) == filepath.FromSlash(path) {
				return // its service restarts
			}
			if d := u.pipe.Decide(path); d.Action != rules.Ignore || d.Refresh {
				return
			}
		}
	}
	if len(b.Paths) > 0 {
		log.Info(describeBatch(b.Paths) + ": not read by the build of any service, no rule: nothing to do (devrun why " + b.Paths[0] + ")")
	}
}

// describeBatch names the changed paths for the log.
func describeBatch(paths []string) string {
	if len(paths) == 1 {
		return paths[0] + " changed"
	}
	return fmt.Sprintf("%s and %d more changed", paths[0], len(paths)-1)
}

// runUnits runs every unit's supervisor until ctx is done, then stops
// them in reverse dependency order: first the services nothing depends
// on, together, then those they depended on, and so on.
func runUnits(ctx context.Context, units []*unit) {
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	runs := map[string]running{}
	for _, u := range units {
		uctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := running{cancel, make(chan struct{})}
		runs[u.svc.Name] = r
		go func() {
			defer close(r.done)
			if err := u.sup.Run(uctx, u.triggers); err != nil {
				u.log.Error(err.Error())
			}
		}()
	}
	<-ctx.Done()
	for _, level := range stopLevels(units) {
		for _, u := range level {
			runs[u.svc.Name].cancel()
		}
		for _, u := range level {
			<-runs[u.svc.Name].done
		}
	}
}

// stopLevels groups units for a stop: first those no other unit depends
// on, then those only the first depended on, and so on.
func stopLevels(units []*unit) [][]*unit {
	left := slices.Clone(units)
	var levels [][]*unit
	for len(left) > 0 {
		var level, rest []*unit
		for _, u := range left {
			needed := slices.ContainsFunc(left, func(o *unit) bool { return slices.Contains(o.svc.DependsOn, u.svc.Name) })
			if needed {
				rest = append(rest, u)
			} else {
				level = append(level, u)
			}
		}
		if len(level) == 0 { // a cycle, which config refuses
			level, rest = rest, nil
		}
		levels = append(levels, level)
		left = rest
	}
	return levels
}

// stopTotal is how long a stop of services may take: for each level of
// stopLevels, the longest run.stop_timeout in it.
func stopTotal(services []config.Service) time.Duration {
	var units []*unit
	for _, s := range services {
		units = append(units, &unit{svc: s})
	}
	var total time.Duration
	for _, level := range stopLevels(units) {
		var longest time.Duration
		for _, u := range level {
			longest = max(longest, u.svc.Config.Run.StopTimeout)
		}
		total += longest
	}
	return total
}

// stopBudget returns a channel that is closed at a second Ctrl-C (force),
// or once the first has waited stopTimeout and half a second: then the
// app is killed at once, and devrun goes on to remove what it made, so
// that it exits within stopTimeout and 2 s whatever the app or the engine
// does.
func stopBudget(ctx context.Context, force <-chan struct{}, stopTimeout time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		select {
		case <-force:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(stopTimeout + 500*time.Millisecond)
		defer t.Stop()
		select {
		case <-force:
		case <-t.C:
		}
	}()
	return ch
}

// stopDeadline returns a function that gives the time by which what
// devrun made must be removed: stopTimeout and 1.7 s after the first
// Ctrl-C, or 30 s from the call when devrun stops for another reason.
func stopDeadline(ctx context.Context, stopTimeout time.Duration) func() time.Time {
	var at atomic.Pointer[time.Time]
	context.AfterFunc(ctx, func() {
		t := time.Now().Add(stopTimeout + 1700*time.Millisecond)
		at.Store(&t)
	})
	return func() time.Time {
		if t := at.Load(); t != nil {
			return *t
		}
		return time.Now().Add(30 * time.Second)
	}
}

// pipeline makes what decides what each change does: the build graph
// (unless watch.graph is false), watch.rules, build.steps, run.env_file.
// reload, when set, reloads the pages through the proxy: then a
// stylesheet the build does not read restyles them unless a rule says
// otherwise.
func pipeline(c *config.Config, log *slog.Logger, quiet bool, reload func([]string)) (*changes.Pipeline, error) {
	var rs []rules.Rule
	for _, r := range c.Watch.Rules {
		rs = append(rs, rules.Rule{Paths: r.Paths, Action: rules.Action(r.Action)})
	}
	if reload != nil {
		rs = append(rs, rules.Rule{Paths: []string{"**/*.css"}, Action: rules.Reload})
	}
	var steps []rules.Step
	for _, s := range c.Build.Steps {
		steps = append(steps, rules.Step{Name: s.Name, Run: s.Run, On: s.On})
	}
	p, err := changes.New(changes.Options{Dir: ".", Settle: c.Watch.MaxWait + 100*time.Millisecond, NoGraph: !c.Watch.Graph, Rules: rs, Steps: steps, EnvFile: c.Run.EnvFile, QuietIgnored: quiet, Reload: reload, Log: log})
	if err != nil {
		return nil, fmt.Errorf("watch.rules or build.steps: %w", err)
	}
	return p, nil
}

// graphOptions says which build the graph is of: the one build makes.
func graphOptions(build *runner.GoBuild) graph.Options {
	return graph.Options{Dir: build.Dir, Package: build.Package, Tags: build.Tags, Flags: build.Flags, Env: build.Env}
}

func watchOptions(c *config.Config, log *slog.Logger, own ...string) watcher.Options {
	own = slices.DeleteFunc(slices.Clone(own), func(p string) bool { return p == "" })
	return watcher.Options{
		Own:   own,
		Root:  ".",
		Paths: c.Watch.Paths,
		Filter: watcher.FilterOptions{
			Include: c.Watch.Include,
			Exclude: c.Watch.Exclude,
			Tests:   c.Watch.Tests,
		},
		GitIgnore:    c.Watch.GitIgnore,
		Quiet:        quiet(c.Watch.Debounce),
		MaxWait:      c.Watch.MaxWait,
		Poll:         c.Watch.Poll,
		PollInterval: c.Watch.PollInterval,
		Log:          log,
	}
}

// goBuild makes the service's go build, for target (the host's when it
// is zero), recording its process group in state.
func goBuild(c *config.Config, state string, target platform) *runner.GoBuild {
	b := &runner.GoBuild{
		Dir:     ".",
		Package: c.Build.Package,
		OutDir:  c.Build.Output,
		Name:    c.BinaryName("."),
		Flags:   c.Build.Flags,
		LDFlags: c.Build.LDFlags,
		Tags:    c.Build.Tags,
		Env:     c.Build.Env,
		Command: c.Build.Command,
		PIDFile: filepath.Join(state, "build.pid"),
	}
	if target != (platform{}) {
		b.Env = append(slices.Clone(c.Build.Env), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
		b.OutDir = filepath.Join(c.Build.Output, target.goos+"-"+target.goarch)
	}
	switch {
	case len(c.Build.Command) > 0:
	case c.Run.Debug:
		// Delve's build: no optimisations, no inlining, DWARF kept. Before
		// the user's flags, which win.
		b.Flags = append([]string{runner.DebugGCFlags}, b.Flags...)
	case c.Build.Fast:
		b.Flags, b.LDFlags = runner.FastFlags(b.Flags, b.LDFlags, goflags(b.Env))
	}
	return b
}

// quiet returns the watcher's Quiet for watch.debounce, whose 0 is none.
func quiet(debounce time.Duration) time.Duration {
	if debounce == 0 {
		return -1
	}
	return debounce
}

// goflags returns the GOFLAGS a build with env (added to devrun's own
// environment) runs with.
func goflags(env []string) string {
	v := os.Getenv("GOFLAGS")
	for _, e := range env {
		if k, val, _ := strings.Cut(e, "="); k == "GOFLAGS" {
			v = val
		}
	}
	return v
}

// hostStarter makes what starts the service on the host, with env (KEY=value)
// added to its run.env.
func hostStarter(c *config.Config, state string, stdout, stderr io.Writer, env []string) (*runner.Host, error) {
	sig, err := runner.ParseSignal(c.Run.StopSignal)
	if err != nil {
		return nil, fmt.Errorf("run.stop_signal: %w", err)
	}
	return &runner.Host{
		PIDFile:     filepath.Join(state, "app.pid"),
		Args:        c.Run.Args,
		Env:         append(slices.Clone(env), c.Run.Env...),
		EnvFile:     c.Run.EnvFile,
		StopSignal:  sig,
		StopTimeout: c.Run.StopTimeout,
		Stdout:      stdout,
		Stderr:      stderr,
	}, nil
}
