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
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/devrun/devrun/changes"
	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/graph"
	"github.com/devrun/devrun/rules"
	"github.com/devrun/devrun/runner"
	"github.com/devrun/devrun/watcher"
	"github.com/spf13/cobra"
)

func newUp(g *globals, stderr io.Writer, force <-chan struct{}) *cobra.Command {
	return &cobra.Command{
		Use:   "up [-- app arguments]",
		Short: "Build and run the app, and rebuild and swap it on every change",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(cmd)
			if err != nil {
				return err
			}
			if len(args) > 0 {
				c.Run.Args = args
			}
			log, out, closeLog, err := g.logger(stderr)
			if err != nil {
				return err
			}
			defer closeLog()
			return up(cmd.Context(), c, log, out, force, g.logFile)
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

// up runs the watcher and the supervisor until ctx is done. What devrun
// writes itself (its state directory, the builds, the log file, the pid1 cache) is
// never watched, wherever it is.
func up(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer, force <-chan struct{}, logFile string) error {
	if len(c.Build.Command) == 0 {
		if err := findModule(); err != nil {
			return err
		}
	}
	// Made before the watcher starts, so that a symbolic link among them
	// resolves, and what is below its target is known as devrun's own.
	state, err := stateDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Build.Output, 0o755); err != nil {
		return fmt.Errorf("making build.output: %w", err)
	}
	pipe, err := pipeline(c, log)
	if err != nil {
		return err
	}
	opts := watchOptions(c, log, state, c.Build.Output, logFile, cacheDir())
	opts.Filter.Keep = pipe.Keep
	if c.Run.Mode == "compose" {
		opts.Probe = 500 * time.Millisecond // bind mounts of Docker Desktop and WSL2 may deliver no events
		opts.Own = append(opts.Own, c.Compose.MountDir)
	}
	w, err := watcher.New(opts)
	if err != nil {
		return err
	}
	sup, build, host, err := supervisor(c, log, out, stopBudget(ctx, force, c.Run.StopTimeout), state)
	if err != nil {
		return err
	}
	if len(c.Build.Steps) > 0 {
		steps := &runner.Steps{Builder: build, Dir: ".", Log: log, Hold: pipe.Hold, Release: pipe.Release}
		for _, st := range c.Build.Steps {
			steps.Steps = append(steps.Steps, runner.Step{Name: st.Name, Argv: st.Run})
		}
		sup.Builder = steps
	}
	if c.Run.Mode == "host" {
		if err := runner.BecomeSubreaper(); err != nil {
			log.Warn(err.Error())
		}
	}
	for _, f := range []string{build.PIDFile, host.PIDFile} {
		if msg, err := runner.KillLeftover(f); err != nil {
			log.Warn(err.Error())
		} else if msg != "" {
			log.Info(msg)
		}
	}
	if c.Run.Mode == "container" || c.Run.Mode == "compose" {
		r, closeContainer, err := containerStarter(ctx, c, build, log, os.Stdout, os.Stderr, state, stopDeadline(ctx, c.Run.StopTimeout))
		if err != nil {
			return err
		}
		defer closeContainer()
		sup.Starter = r
	}
	mode := "file events"
	if w.Polling() {
		mode = "polling"
	}
	log.Info(fmt.Sprintf("watching %s (%s); building %s", strings.Join(c.Watch.Paths, ", "), mode, c.Build.Package))

	batches := make(chan watcher.Batch)
	triggers := make(chan runner.Trigger)
	watched := make(chan struct{})
	go func() { w.Run(ctx, batches); close(watched) }()
	pipe.Start(ctx, graphOptions(build), w.Refresh)
	go pipe.Run(ctx, batches, triggers)
	prod := productionBuilder(ctx, c, log, out)
	go commands(ctx, os.Stdin, triggers, prod)
	onBuildSignal(ctx, prod)
	defer writePID(state)()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			log.Info("stopping the app (press Ctrl-C again to kill it now)")
		case <-finished:
		}
	}()
	err = sup.Run(ctx, triggers)
	<-watched
	return err
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
func pipeline(c *config.Config, log *slog.Logger) (*changes.Pipeline, error) {
	var rs []rules.Rule
	for _, r := range c.Watch.Rules {
		rs = append(rs, rules.Rule{Paths: r.Paths, Action: rules.Action(r.Action)})
	}
	var steps []rules.Step
	for _, s := range c.Build.Steps {
		steps = append(steps, rules.Step{Name: s.Name, Run: s.Run, On: s.On})
	}
	p, err := changes.New(changes.Options{Dir: ".", Settle: c.Watch.MaxWait + 100*time.Millisecond, NoGraph: !c.Watch.Graph, Rules: rs, Steps: steps, EnvFile: c.Run.EnvFile, Log: log})
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
		Quiet:        c.Watch.Debounce,
		MaxWait:      c.Watch.MaxWait,
		Poll:         c.Watch.Poll,
		PollInterval: c.Watch.PollInterval,
		Log:          log,
	}
}

// supervisor makes the build → swap cycle for the host; container modes
// change its build and replace its starter.
func supervisor(c *config.Config, log *slog.Logger, out io.Writer, force <-chan struct{}, state string) (*runner.Supervisor, *runner.GoBuild, *runner.Host, error) {
	sig, err := runner.ParseSignal(c.Run.StopSignal)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("run.stop_signal: %w", err)
	}
	build := &runner.GoBuild{
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
	host := &runner.Host{
		PIDFile:     filepath.Join(state, "app.pid"),
		Args:        c.Run.Args,
		Env:         c.Run.Env,
		EnvFile:     c.Run.EnvFile,
		StopSignal:  sig,
		StopTimeout: c.Run.StopTimeout,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	}
	sup := &runner.Supervisor{
		Builder:     build,
		Starter:     host,
		Restart:     runner.RestartPolicy(c.Run.Restart),
		Log:         log,
		BuildOutput: out,
		Force:       force,
	}
	return sup, build, host, nil
}
