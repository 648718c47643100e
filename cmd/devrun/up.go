package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devrun/devrun/config"
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

// up runs the watcher and the supervisor until ctx is done. What devrun
// writes itself, the builds and the log file, is never watched.
func up(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer, force <-chan struct{}, logFile string) error {
	if len(c.Build.Command) == 0 {
		if err := findModule(); err != nil {
			return err
		}
	}
	opts := watchOptions(c, log, c.Build.Output, logFile)
	if c.Run.Mode == "compose" {
		opts.Probe = 500 * time.Millisecond // bind mounts of Docker Desktop and WSL2 may deliver no events
	}
	w, err := watcher.New(opts)
	if err != nil {
		return err
	}
	sup, build, host, err := supervisor(c, log, out, force)
	if err != nil {
		return err
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
		r, closeContainer, err := containerStarter(ctx, c, build, log, os.Stdout, os.Stderr)
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
	werr := make(chan error, 1)
	go func() { werr <- w.Run(ctx, batches) }()
	go forward(ctx, batches, triggers)
	prod := productionBuilder(ctx, c, log, out)
	go commands(ctx, os.Stdin, triggers, prod)
	onBuildSignal(ctx, prod)
	defer writePID(c)()
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
	if err2 := <-werr; err == nil {
		err = err2
	}
	return err
}

// forward hands the watcher's batches to the supervisor until batches is
// closed or ctx is done. triggers is never closed: the keyboard sends on it too.
func forward(ctx context.Context, batches <-chan watcher.Batch, triggers chan<- runner.Trigger) {
	for b := range batches {
		select {
		case triggers <- runner.Trigger{Paths: b.Paths, First: b.First, Sent: b.Sent}:
		case <-ctx.Done():
			return
		}
	}
}

func watchOptions(c *config.Config, log *slog.Logger, own ...string) watcher.Options {
	exclude := slices.Clone(c.Watch.Exclude)
	for _, p := range own {
		if rel, ok := inside(".", p); ok && p != "" {
			exclude = append(exclude, rel)
		}
	}
	return watcher.Options{
		Root:  ".",
		Paths: c.Watch.Paths,
		Filter: watcher.FilterOptions{
			Include: c.Watch.Include,
			Exclude: exclude,
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
func supervisor(c *config.Config, log *slog.Logger, out io.Writer, force <-chan struct{}) (*runner.Supervisor, *runner.GoBuild, *runner.Host, error) {
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
		PIDFile: filepath.Join(filepath.Dir(c.Build.Output), "build.pid"),
	}
	host := &runner.Host{
		PIDFile:     filepath.Join(filepath.Dir(c.Build.Output), "app.pid"),
		Args:        c.Run.Args,
		Env:         c.Run.Env,
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

// inside returns target relative to root, if it lies inside it.
func inside(root, target string) (string, bool) {
	r, err := filepath.Rel(root, target)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", false
	}
	return filepath.ToSlash(r), true
}
