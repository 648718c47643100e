package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/devrun/devrun/graph"
	"github.com/devrun/devrun/watcher"
	"github.com/spf13/cobra"
)

func newWhy(g *globals, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "why PATH...",
		Short: "Say what a change to each PATH would do (rebuild, restart, run a step, nothing) and why",
		Long: `devrun why asks the build graph (what the go command says the build of
build.package reads, with the build's tags, flags and environment), then
build.steps and watch.rules, what a change to each PATH would do, as
devrun up decides it.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%w: devrun why needs at least one PATH", errUsage)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(cmd)
			if err != nil {
				return err
			}
			pipe, err := pipeline(c, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			filter, err := watcher.NewFilter(watcher.FilterOptions{Include: c.Watch.Include, Exclude: c.Watch.Exclude, Tests: c.Watch.Tests})
			if err != nil {
				return err
			}
			root, _ := filepath.Abs(".")
			pipe.SetIgnored(func(rel string) bool { return filter.Skips(root, rel, c.Watch.GitIgnore) })
			if c.Watch.Graph {
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
				defer cancel()
				opts := graph.Options{Dir: ".", Package: c.Build.Package, Tags: c.Build.Tags, Flags: c.Build.Flags, Env: c.Build.Env}
				if err := pipe.Load(ctx, opts); err != nil {
					return err
				}
			}
			for _, p := range args {
				d := pipe.Decide(p)
				action := string(d.Action)
				if len(d.Steps) > 0 {
					action = "run " + joinSteps(d.Steps) + ", then rebuild"
				}
				if _, err := fmt.Fprintf(stdout, "%s: %s: %s\n", p, action, d.Why); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func joinSteps(steps []string) string {
	s := steps[0]
	for _, x := range steps[1:] {
		s += ", then " + x
	}
	return s
}
