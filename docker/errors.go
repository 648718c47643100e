package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/devrun/devrun/runner"
)

// The errors of a dev container's life: why it went, and what failed when
// the engine does not answer or the image is gone.

// whyGone asks the engine why the container's output stream ended, and
// says it in a sentence.
func (r *Runner) whyGone(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := r.opts.Engine.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err), err == nil && info.Container.State != nil && info.Container.State.Status == "removing":
		return "the dev container " + id[:12] + " was removed from outside"
	case err != nil:
		return fmt.Sprintf("lost the Docker engine, and the dev container %s with it (%v)", id[:12], err)
	case info.Container.State == nil || info.Container.State.Running:
		return "the engine closed the dev container " + id[:12] + "'s output"
	default:
		return fmt.Sprintf("the dev container %s stopped (exit code %d), from outside or with the engine", id[:12], info.Container.State.ExitCode)
	}
}

// engineError explains why the operation op failed when the engine does
// not answer.
func (r *Runner) engineError(op string, err error) error {
	if engineUnreachable(err) {
		return &engineDownError{op: op, host: r.opts.Engine.DaemonHost(), err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// createError explains why the dev container could not be created: the
// image is gone, or the engine does not answer.
func (r *Runner) createError(ctx context.Context, err error) error {
	if cerrdefs.IsNotFound(err) && r.imageGone(ctx) {
		return fmt.Errorf("creating the dev container: the image %s is no longer on the engine (deleted?), and devrun does not pull images: "+
			"run 'docker pull %s' or build it again: %w", r.opts.Image, r.opts.Image, err)
	}
	return r.engineError("creating the dev container", err)
}

// imageGone reports whether the engine says it has no such image: a create
// fails with "not found" for a missing network too.
func (r *Runner) imageGone(ctx context.Context) bool {
	_, err := r.opts.Engine.ImageInspect(ctx, r.opts.Image)
	return cerrdefs.IsNotFound(err)
}

// An engineDownError is an operation that failed because the engine does not
// answer. Its message names the engine and what to do; the client's own
// words, which say the same at length, are left to Unwrap.
type engineDownError struct {
	op, host string
	then     string // what happens next, if the caller does not say it
	err      error
}

func (e *engineDownError) Error() string {
	msg := e.op + ": the Docker engine at " + e.host + " does not answer (stopped or restarting?)"
	if e.then != "" {
		msg += "; " + e.then
	}
	return msg
}

func (e *engineDownError) Unwrap() error { return e.err }

// Is makes an engine that does not answer runner.ErrGone: the supervisor
// tries again until it does.
func (e *engineDownError) Is(target error) bool { return target == runner.ErrGone }

func shortIDs(ids []string) string {
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:12]
	}
	return strings.Join(short, ", ")
}

// engineUnreachable reports whether err says that the engine does not
// answer: the client's connection error, a failed dial of an attach, or no
// answer in time.
func engineUnreachable(err error) bool {
	var op *net.OpError
	return client.IsErrConnectionFailed(err) || (errors.As(err, &op) && op.Op == "dial") ||
		errors.Is(err, context.DeadlineExceeded)
}

// goneError is the error an app's Process ends with when its container goes.
// For a container of devrun's own it is runner.ErrGone: the supervisor makes
// a new one at once. A compose service's container, which may have been
// stopped on purpose, is started again at the next change.
type goneError struct{ own bool }

func (e goneError) Error() string { return "the dev container is gone" }

func (e goneError) Is(target error) bool { return e.own && target == runner.ErrGone }
