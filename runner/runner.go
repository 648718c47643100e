// Package runner builds the app, runs it, and swaps in a new build whenever
// its sources change.
//
// The Supervisor owns the cycle: it asks a Builder for a new build, and when
// the build succeeds it stops the running Process and asks a Starter for a new
// one. It knows nothing of how changes are detected (see package watcher) nor
// where the app runs: Host runs it as a child process group of devrun; other
// packages run it elsewhere, for instance in a container.
package runner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// An Artifact names a build output: for a host build, the path of a binary.
type Artifact string

// A Builder builds the app.
type Builder interface {
	// Build builds the app into a new Artifact without disturbing a running
	// Process; t is what asked for it. When ctx is cancelled, it stops the
	// build, waits until the build's processes have exited, and returns
	// ctx's error. A build that fails returns a *BuildError.
	Build(ctx context.Context, t Trigger) (Artifact, error)
}

// A Starter starts the app.
type Starter interface {
	// Start starts the app from a. The Process runs until it exits by itself or
	// is stopped: ctx bounds only the start itself.
	Start(ctx context.Context, a Artifact) (Process, error)
}

// A Process is one running instance of the app. Its methods are safe for
// concurrent use.
type Process interface {
	// Stop asks the process to exit (the stop signal to its whole group),
	// kills it after the stop timeout or as soon as ctx is done, and returns
	// once it and every process it started have exited. It returns how the
	// process exited. Stop may be called more than once, also after Done.
	Stop(ctx context.Context) error
	// Done is closed once the process has exited, for whatever reason.
	Done() <-chan struct{}
	// Err returns how the process exited; it is valid once Done is closed.
	// A nil error means exit code 0.
	Err() error
}

// ErrGone, in the error of a Process or a Starter (errors.Is), says that the
// place the app runs in is gone or cannot be reached for now (its container
// removed, its engine restarting), through no doing of the app's. The
// Supervisor then starts the newest build again, with a backoff, whatever its
// restart policy, until the Starter succeeds or a change comes.
var ErrGone = errors.New("the app's environment is gone")

// A BuildError is a build that ran and failed.
type BuildError struct {
	Output []byte // what the build printed, the compiler's errors among it
	Err    error  // how the build process exited
	Step   string // the step that failed, when one did, not the build
}

// Error says that the build (or its step) failed, and how it exited.
func (e *BuildError) Error() string {
	if e.Step != "" {
		return fmt.Sprintf("%s failed: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("build failed: %v", e.Err)
}

// Unwrap returns how the build process exited.
func (e *BuildError) Unwrap() error { return e.Err }

// A Trigger asks the Supervisor for a new build, or, with Restart, for the
// app to be started again from the build it runs.
type Trigger struct {
	Paths []string  // what changed, for the log; none for the first build and r + Enter
	First time.Time // when the first change was seen
	Sent  time.Time // when the change was handed to the Supervisor
	// Restart asks for a restart without a build: what changed is read by
	// the app at run time (a template, its .env file), not by the build.
	Restart bool
	// Steps names the steps (see Steps) the change needs before the build.
	Steps []string
}
