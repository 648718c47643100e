package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/docker"
	"github.com/devrun/devrun/pid1"
	"github.com/devrun/devrun/runner"
)

// delveStarter makes what starts the service under Delve on the host, as
// host would start it, and says how to attach.
func delveStarter(c *config.Config, host *runner.Host, log *slog.Logger) (*runner.Delve, error) {
	dlv := c.Run.DebugDlv
	if dlv == "" {
		dlv = "dlv"
	}
	if rest, ok := strings.CutPrefix(dlv, "~/"); ok { // as a shell would, for a path typed in devrun.yaml
		if home, err := os.UserHomeDir(); err == nil {
			dlv = filepath.Join(home, rest)
		}
	}
	path, err := exec.LookPath(dlv)
	if err != nil {
		key := "run.debug_dlv (from " + c.Source("run.debug_dlv") + ")"
		if c.Run.DebugDlv == "" {
			key = "run.debug"
		}
		return nil, fmt.Errorf("%s: Delve, the Go debugger, is needed and %s is not found (%v): install it with\n  %s\nor set run.debug_dlv to its path", key, dlv, errors.Unwrap(err), runner.DelveInstall)
	}
	listen := config.Addr(c.Run.DebugListen)
	for _, w := range debugWarnings(c) {
		log.Warn(w)
	}
	for _, l := range attachHelp(listen, c.Run.DebugWait) {
		log.Info(l)
	}
	return &runner.Delve{Host: host, Dlv: path, Listen: listen, Wait: c.Run.DebugWait, Log: log}, nil
}

// debugWarnings says what in c's build keeps Delve from doing its work.
func debugWarnings(c *config.Config) []string {
	var ws []string
	if len(c.Build.Command) > 0 {
		ws = append(ws, "run.debug: build.command builds the app, so devrun cannot add "+runner.DebugGCFlags+": build with it for variables and lines that match the source")
	}
	for _, f := range strings.Fields(c.Build.LDFlags) {
		if f == "-w" || f == "-s" {
			ws = append(ws, "run.debug: build.ldflags (from "+c.Source("build.ldflags")+") has "+f+", which drops the DWARF Delve needs: breakpoints will not bind")
		}
	}
	for _, f := range c.Build.Flags {
		if f == "-trimpath" {
			ws = append(ws, "run.debug: build.flags (from "+c.Source("build.flags")+") has -trimpath: the binary's source paths are not the files' paths, so the editor needs a substitutePath")
		}
	}
	return ws
}

// attachHelp is how to attach an editor to Delve on listen.
func attachHelp(listen string, wait bool) []string {
	host, port, _ := net.SplitHostPort(listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	then := "it runs until a breakpoint"
	if wait {
		then = "each version waits before its first instruction until the editor attaches (run.debug_wait)"
	}
	return []string{
		fmt.Sprintf("debug: every version runs under a new Delve on %s (JSON-RPC and DAP); %s; attach again after each swap:", listen, then),
		fmt.Sprintf(`  VS Code, .vscode/launch.json: {"name": "devrun", "type": "go", "request": "attach", "mode": "remote", "host": "%s", "port": %s}`, host, port),
		fmt.Sprintf("  GoLand: Run | Edit Configurations | + | Go Remote: host %s, port %s", host, port),
		fmt.Sprintf("  dlv connect %s", net.JoinHostPort(host, port)),
	}
}

// containerDebug makes the dev container's Delve: dlv built for the
// engine's platform (the first time, from the Go module proxy), published
// on run.debug_listen; and says how to attach.
func containerDebug(ctx context.Context, c *config.Config, log *slog.Logger, goos, goarch string) (*docker.Debug, error) {
	listen := config.Addr(c.Run.DebugListen)
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, fmt.Errorf("run.debug_listen (from %s): %w", c.Source("run.debug_listen"), err)
	}
	if c.Run.DebugDlv != "" {
		log.Warn("run.debug_dlv (from " + c.Source("run.debug_dlv") + ") is for the host: in the dev container devrun runs a dlv it builds for " + goos + "/" + goarch)
	}
	start := time.Now()
	dlv, err := pid1.BuildDelve(ctx, cacheDir(), goos, goarch)
	if err != nil {
		return nil, fmt.Errorf("run.debug: %w", err)
	}
	if took := time.Since(start); took > time.Second {
		log.Info(fmt.Sprintf("debug: built Delve %s for %s/%s in %s, for the dev container (kept in %s)", pid1.DelveVersion, goos, goarch, took.Round(time.Second), filepath.Dir(dlv)))
	}
	for _, w := range debugWarnings(c) {
		log.Warn(w)
	}
	for _, l := range attachHelp(listen, c.Run.DebugWait) {
		log.Info(l)
	}
	return &docker.Debug{Dlv: dlv, Listen: listen, Wait: c.Run.DebugWait}, nil
}
