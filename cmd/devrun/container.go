package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/docker"
	"github.com/devrun/devrun/pid1"
	"github.com/devrun/devrun/runner"
)

// A platform is the engine's: what the app's binary is built for.
type platform struct{ goos, goarch string }

// containerStarter connects to the engine and prepares the dev container
// runner. It returns the engine's platform, which the app must be built
// for, and a function that removes the dev container. service names the
// service of devrun.yaml's services it is for ("" for the one app).
func containerStarter(ctx context.Context, c *config.Config, log *slog.Logger, stdout, stderr io.Writer, state string, deadline func() time.Time, service string) (_ *docker.Runner, pf platform, _ func(), _ error) {
	engine, err := docker.Connect(ctx)
	if err != nil {
		return nil, pf, nil, err
	}
	goos, goarch, err := docker.Platform(ctx, engine)
	if err != nil {
		return nil, pf, nil, err
	}
	pf = platform{goos, goarch}
	pid1Bin, err := pid1.Build(ctx, cacheDir(), goos, goarch)
	if err != nil {
		return nil, pf, nil, err
	}
	project, err := filepath.Abs(".")
	if err != nil {
		return nil, pf, nil, err
	}
	sig, err := runner.ParseSignal(c.Run.StopSignal)
	if err != nil {
		return nil, pf, nil, err
	}
	mount, err := filepath.Abs(filepath.Join(state, "mount"))
	if err != nil {
		return nil, pf, nil, err
	}
	copyMode := c.Container.Sync == "copy" || (c.Container.Sync == "auto" && docker.IsRemote(engine.DaemonHost()))
	existing := ""
	if c.Run.Mode == "compose" {
		if err := docker.PlacePID1(pid1Bin, c.Compose.MountDir); err != nil {
			return nil, pf, nil, err
		}
		var project string
		existing, project, err = docker.ComposeService(ctx, engine, c.Compose.Service, func(s string) { log.Info(s) })
		if err != nil {
			return nil, pf, nil, err
		}
		// The app's output is in its own service's logs; devrun shows its own.
		mount, copyMode, stdout, stderr = c.Compose.MountDir, false, io.Discard, io.Discard
		log.Info(fmt.Sprintf("compose sidecar: swapping the app of service %s (container %s) in project %s", c.Compose.Service, existing[:12], project))
	}
	opts := docker.Options{
		Engine:      engine,
		Project:     project,
		Service:     service,
		Image:       c.Container.Image,
		Args:        c.Run.Args,
		Env:         append(append([]string{}, c.Run.Env...), c.Container.Env...),
		Ports:       c.Container.Ports,
		Volumes:     resolveVolumes(c.Container.Volumes, project),
		Network:     c.Container.Network,
		User:        c.Container.User,
		Copy:        copyMode,
		MountDir:    mount,
		PID1:        pid1Bin,
		StopSignal:  int(sig.(syscall.Signal)),
		StopTimeout: c.Run.StopTimeout,
		Stdout:      stdout,
		Stderr:      stderr,
		Log:         log,
	}
	if c.Run.Debug && c.Run.Mode == "container" {
		if opts.Debug, err = containerDebug(ctx, c, log, goos, goarch); err != nil {
			return nil, pf, nil, err
		}
	}
	var r *docker.Runner
	if existing != "" {
		r = docker.NewCompose(opts, existing)
	} else if r, err = docker.New(opts); err != nil {
		return nil, pf, nil, err
	}
	if err := r.Prepare(ctx); err != nil {
		return nil, pf, nil, err
	}
	closeFn := func() {
		// At least a moment to try, also when the app's stop took all its time.
		ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), later(deadline(), time.Now().Add(300*time.Millisecond)))
		defer cancel()
		if err := r.Close(ctx); err != nil {
			log.Error(err.Error())
		}
		engine.Close()
	}
	how := "a bind mount"
	if copyMode {
		how = "copies through the API"
	}
	if existing == "" {
		log.Info(fmt.Sprintf("container mode: %s on %s, binaries by %s", c.Container.Image, engine.DaemonHost(), how))
	}
	return r, pf, closeFn, nil
}

// placeComposePID1 puts pid1 in the shared volume for every service run
// in the compose sidecar, before any of them waits for compose to create
// its container: compose starts the app services only once the sidecar is
// healthy, that is once every pid1 is in place.
func placeComposePID1(ctx context.Context, services []config.Service) error {
	var dirs []string
	for _, s := range services {
		if s.Config.Run.Mode == "compose" {
			dirs = append(dirs, s.Config.Compose.MountDir)
		}
	}
	if len(dirs) < 2 {
		return nil // one service places its own
	}
	engine, err := docker.Connect(ctx)
	if err != nil {
		return err
	}
	defer engine.Close()
	goos, goarch, err := docker.Platform(ctx, engine)
	if err != nil {
		return err
	}
	pid1Bin, err := pid1.Build(ctx, cacheDir(), goos, goarch)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := docker.PlacePID1(pid1Bin, d); err != nil {
			return err
		}
	}
	return nil
}

// cacheDir is where devrun keeps what outlives a project's builds: the pid1
// binaries.
func cacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "devrun")
	}
	return filepath.Join(projectState, "cache")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// resolveVolumes makes the SRC of each bind mount that is relative to the
// project directory absolute, as the engine needs it.
func resolveVolumes(vols []string, project string) []string {
	out := make([]string, len(vols))
	for i, v := range vols {
		out[i] = config.ResolveVolume(v, project)
	}
	return out
}
