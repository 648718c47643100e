package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/devrun/devrun/config"
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
			services := c.Services
			if len(services) == 0 {
				services = []config.Service{{Config: c}}
			}
			filter, err := watcher.NewFilter(watcher.FilterOptions{Include: c.Watch.Include, Exclude: c.Watch.Exclude, Tests: c.Watch.Tests})
			if err != nil {
				return err
			}
			root, _ := filepath.Abs(".")
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			answers := make([][]string, len(args))
			for _, s := range services {
				sc := s.Config
				var reload func([]string)
				if sc.Proxy.Listen != "" && sc.Proxy.Reload {
					reload = func([]string) {}
				}
				pipe, err := pipeline(sc, slog.New(slog.DiscardHandler), false, reload)
				if err != nil {
					return err
				}
				pipe.SetIgnored(func(rel string) bool { return filter.Skips(root, rel, c.Watch.GitIgnore) })
				if sc.Watch.Graph {
					opts := graph.Options{Dir: ".", Package: sc.Build.Package, Tags: sc.Build.Tags, Flags: sc.Build.Flags, Env: sc.Build.Env}
					if err := pipe.Load(ctx, opts); err != nil {
						return err
					}
				}
				for i, p := range args {
					d := pipe.Decide(p)
					action := string(d.Action)
					if len(d.Steps) > 0 {
						action = "run " + joinSteps(d.Steps) + ", then rebuild"
					}
					who := ""
					if s.Name != "" {
						who = s.Name + ": "
					}
					answers[i] = append(answers[i], fmt.Sprintf("%s: %s%s: %s\n", p, who, action, d.Why))
				}
			}
			for _, lines := range answers {
				for _, l := range lines {
					if _, err := io.WriteString(stdout, l); err != nil {
						return err
					}
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
