package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/runner"
)

// commands reads devrun up's keyboard commands from in, one per line, until
// ctx is done or in ends:
//
//	r           rebuild and restart every service (the app) now
//	r NAME...   rebuild and restart the services named
//	b           build the production image (devrun build), beside the dev loop
func commands(ctx context.Context, in io.Reader, log *slog.Logger, units []*unit, prod func()) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		words := strings.Fields(sc.Text())
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "r":
			// Each send on its own: a service waiting for what it depends on
			// takes it later, and holds up no other command.
			for _, u := range pick(log, units, words[1:]) {
				go func() {
					select {
					case u.triggers <- manualTrigger():
					case <-ctx.Done():
					}
				}()
			}
		case "b":
			prod()
		}
	}
}

// pick returns the units named, or all when names is empty; it says which
// names are no service.
func pick(log *slog.Logger, units []*unit, names []string) []*unit {
	if len(names) == 0 {
		return units
	}
	var out []*unit
	for _, n := range names {
		i := slices.IndexFunc(units, func(u *unit) bool { return u.svc.Name == n })
		if i < 0 {
			var all []string
			for _, u := range units {
				all = append(all, u.svc.Name)
			}
			log.Warn(fmt.Sprintf("r %s: no service %s here; these run: %s", n, n, strings.Join(all, ", ")))
			continue
		}
		out = append(out, units[i])
	}
	return out
}

// productionBuilder returns a function that runs devrun build in the
// background, one at a time, and reports how it went on log. The dev loop
// goes on undisturbed: the build runs in the engine.
func productionBuilder(ctx context.Context, c *config.Config, log *slog.Logger, out io.Writer) func() {
	var running atomic.Bool
	return func() {
		if !running.CompareAndSwap(false, true) {
			log.Info("a production build is already running")
			return
		}
		log.Info("building the production image (devrun build)")
		go func() {
			defer running.Store(false)
			if _, err := buildImage(ctx, c, out, log); err != nil {
				log.Error("production build: " + err.Error())
			}
		}()
	}
}

// writePID records devrun up's PID in up.pid in the state directory
// (.devrun/up.pid), for scripts that signal it (SIGUSR1: build the
// production image). It returns a function removing the file.
func writePID(state string) func() {
	p := filepath.Join(state, "up.pid")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return func() {}
	}
	if os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644) != nil {
		return func() {}
	}
	return func() { os.Remove(p) }
}

func manualTrigger() runner.Trigger {
	now := time.Now()
	return runner.Trigger{First: now, Sent: now}
}
