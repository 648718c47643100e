package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devrun/devrun/runner"
)

// inspectOnly is an Engine whose ContainerInspect answers with state or err;
// its other methods are not used here (the embedded nil Engine panics).
type inspectOnly struct {
	Engine
	state   *container.State
	err     error
	noImage bool // ImageInspect says not found
}

func (e inspectOnly) ImageInspect(context.Context, string, ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if e.noImage {
		return client.ImageInspectResult{}, cerrdefs.ErrNotFound
	}
	return client.ImageInspectResult{}, nil
}

func (e inspectOnly) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return client.ContainerInspectResult{Container: container.InspectResponse{State: e.state}}, e.err
}

func (e inspectOnly) DaemonHost() string { return "unix:///nowhere.sock" }

// unreachableErr returns the error a real client gives when no engine answers.
func unreachableErr(t *testing.T) error {
	t.Helper()
	c, err := client.New(client.WithHost("unix://" + t.TempDir() + "/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.ContainerInspect(context.Background(), "x", client.ContainerInspectOptions{})
	if !client.IsErrConnectionFailed(err) {
		t.Fatalf("no engine: got %v, want a connection failure", err)
	}
	return err
}

func TestWhyGoneSaysWhatHappened(t *testing.T) {
	id := "0123456789abcdef"
	for _, tc := range []struct {
		engine inspectOnly
		want   string
	}{
		{inspectOnly{err: cerrdefs.ErrNotFound}, "the dev container 0123456789ab was removed from outside"},
		{inspectOnly{state: &container.State{Status: "removing"}}, "was removed from outside"},
		{inspectOnly{state: &container.State{Status: "exited", ExitCode: 143}}, "the dev container 0123456789ab stopped (exit code 143), from outside or with the engine"},
		{inspectOnly{err: unreachableErr(t)}, "lost the Docker engine, and the dev container 0123456789ab with it"},
	} {
		r := &Runner{opts: Options{Engine: tc.engine, Log: slog.New(slog.DiscardHandler)}}
		if got := r.whyGone(id); !strings.Contains(got, tc.want) {
			t.Errorf("state %+v, error %v: got %q, want %q in it", tc.engine.state, tc.engine.err, got, tc.want)
		}
	}
}

func TestEngineErrorNamesTheCause(t *testing.T) {
	r := &Runner{opts: Options{Engine: inspectOnly{}, Image: "app:dev"}}
	down := unreachableErr(t)
	err := r.engineError("creating the dev container", down)
	if want := "creating the dev container: the Docker engine at unix:///nowhere.sock does not answer (stopped or restarting?)"; err.Error() != want {
		t.Errorf("engine down: got %q, want %q", err, want)
	}
	if !errors.Is(err, down) {
		t.Error("the engine-down error does not wrap the client's")
	}
	if !errors.Is(err, runner.ErrGone) {
		t.Error("an engine that does not answer is not runner.ErrGone: the supervisor would not try again")
	}
	notFound := fmt.Errorf("no such image: %w", cerrdefs.ErrNotFound)
	r.opts.Engine = inspectOnly{noImage: true}
	err = r.createError(context.Background(), notFound)
	if want := "the image app:dev is no longer on the engine (deleted?), and devrun does not pull images"; !strings.Contains(err.Error(), want) {
		t.Errorf("image gone: got %q, want %q in it", err, want)
	}
	r.opts.Engine = inspectOnly{} // the image is there: something else is missing, a network say
	if err := r.createError(context.Background(), notFound); strings.Contains(err.Error(), "the image") {
		t.Errorf("image there: got %q, which blames the image", err)
	}
	if err := r.engineError("starting", errors.New("boom")); err.Error() != "starting: boom" {
		t.Errorf("other errors: got %q", err)
	}
}
