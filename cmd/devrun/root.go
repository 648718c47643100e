package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/internal/term"
	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	dir        string
	configFile string
	logFile    string
}

func newRoot(stdout, stderr io.Writer, force <-chan struct{}) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "devrun",
		Short: "Live reload for Go: rebuild and swap the app on every saved change",
		Long: `devrun builds your Go program, runs it, watches the source tree, and on
every saved change rebuilds it and swaps the running process.

Configuration comes from devrun.yaml, DEVRUN_* environment variables and
flags, in that order of precedence; 'devrun config' shows the result.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.dir, "dir", "C", "", "run in this directory, as if devrun was started there")
	pf.StringVarP(&g.configFile, "config", "c", "", "the config file (default: ./devrun.yaml if present)")
	pf.StringVar(&g.logFile, "log", "", "write devrun's own messages to this file instead of stderr")
	config.AddFlags(pf)
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.dir == "" {
			return nil
		}
		if err := os.Chdir(g.dir); err != nil {
			return fmt.Errorf("%w: -C: %v", errUsage, err)
		}
		return nil
	}
	root.AddCommand(newUp(g, stderr, force), newConfig(g, stdout), newWhy(g, stdout), newVersion(stdout), newInit(g, stdout), newBuild(g, stdout, stderr))
	return root
}

// load reads the configuration for the current directory.
func (g *globals) load(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(config.Options{Dir: ".", File: g.configFile, Flags: cmd.Flags()})
}

// logger returns where devrun's messages go, and a function closing it;
// color says whether stderr (which may wrap the terminal) takes colours.
func (g *globals) logger(stderr io.Writer, color bool) (*slog.Logger, io.Writer, func(), error) {
	if g.logFile == "" {
		return term.NewLogger(stderr, color), stderr, func() {}, nil
	}
	f, err := os.OpenFile(g.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the log file: %w", err)
	}
	return term.NewLogger(f, false), f, func() { f.Close() }, nil
}

func newConfig(g *globals, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration and where each value came from",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load(cmd)
			if err != nil {
				return err
			}
			return c.Print(stdout)
		},
	}
}

func newVersion(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print devrun's version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			_, err := fmt.Fprintln(stdout, "devrun", v)
			return err
		},
	}
}

// noArgs rejects arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, cmd.CommandPath(), args)
	}
	return nil
}
