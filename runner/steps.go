package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"
)

// A Step is a command that makes files the build reads (templ generate,
// sqlc generate, npm run build), run before the build.
type Step struct {
	Name string   // for the log and errors
	Argv []string // run without a shell unless it names one
}

// Steps is a Builder that runs steps before the build of the Builder it
// wraps: those a Trigger names, in their order here, or all of them for a
// Trigger that names no path (the first build, r + Enter). A step that
// fails fails the build, with the step's output; a newer change cancels
// the steps as it cancels a build. Its fields must not be changed once
// Build has been called; Build is safe for concurrent use.
type Steps struct {
	Builder Builder
	Steps   []Step
	Dir     string   // where the steps run; default devrun's working directory
	Env     []string // KEY=value entries added to devrun's environment
	Log     *slog.Logger
	// Hold, when set, is called before the steps run, and Release once
	// they have ended (run, failed or cancelled), with when they started:
	// the caller holds back the changes seen meanwhile (what the steps
	// wrote among them) so that they join this cycle instead of starting
	// another.
	Hold    func()
	Release func(since time.Time)
	// Lock, when set, is held while the steps run: several services that
	// share steps (templ generate in one tree) never run them at once.
	Lock sync.Locker
}

// Build runs the steps t needs, then the wrapped build.
func (s *Steps) Build(ctx context.Context, t Trigger) (Artifact, error) {
	run := s.pick(t)
	if len(run) > 0 {
		if err := s.run(ctx, run); err != nil {
			return "", err
		}
	}
	return s.Builder.Build(ctx, t)
}

func (s *Steps) pick(t Trigger) []Step {
	if len(t.Paths) == 0 && !t.Restart {
		return s.Steps
	}
	var run []Step
	for _, st := range s.Steps {
		if slices.Contains(t.Steps, st.Name) {
			run = append(run, st)
		}
	}
	return run
}

func (s *Steps) run(ctx context.Context, steps []Step) error {
	if s.Hold != nil {
		s.Hold()
	}
	start := time.Now()
	if s.Release != nil {
		defer s.Release(start)
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.Lock != nil {
		s.Lock.Lock()
		defer s.Lock.Unlock()
	}
	for _, st := range steps {
		begin := time.Now()
		out, err := s.runOne(ctx, st)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return &BuildError{Output: out, Err: err, Step: st.Name}
		}
		log.Info(fmt.Sprintf("%s ran in %s", st.Name, ms(time.Since(begin))))
	}
	return nil
}

// runOne runs one step in a tree of its own, killed at once when ctx is done.
func (s *Steps) runOne(ctx context.Context, st Step) ([]byte, error) {
	if len(st.Argv) == 0 {
		return nil, errors.New("the step has no command")
	}
	cmd := exec.CommandContext(ctx, st.Argv[0], st.Argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t := newTree(cmd)
	cmd.Cancel = func() error { t.kill(); return nil }
	cmd.WaitDelay = time.Second
	err := t.start()
	if err == nil {
		err = cmd.Wait()
		t.waited()
		if t.kill() {
			for i := 0; i < 100 && t.alive(); i++ {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	t.release()
	if errors.Is(err, exec.ErrNotFound) {
		return out.Bytes(), fmt.Errorf("%w (is %s installed, and on PATH?)", err, st.Argv[0])
	}
	return out.Bytes(), err
}
