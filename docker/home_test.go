package docker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// attachOnly is an Engine for a compose service's Runner: a container that does not
// run, starts, and whose pid1 never says it is ready.
type attachOnly struct {
	Engine
	server net.Conn // the engine's end of the attach stream
}

func (e *attachOnly) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return client.ContainerInspectResult{Container: container.InspectResponse{State: &container.State{Running: false}}}, nil
}

func (e *attachOnly) ContainerAttach(context.Context, string, client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	cl, srv := net.Pipe()
	e.server = srv
	return client.ContainerAttachResult{HijackedResponse: client.HijackedResponse{Conn: cl, Reader: bufio.NewReader(cl)}}, nil
}

func (e *attachOnly) ContainerStart(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
	return client.ContainerStartResult{}, nil
}

func (e *attachOnly) DaemonHost() string { return "unix:///fake.sock" }

// A compose service's container whose pid1 never gets ready: the wait
// fails, and the attach stream is closed, not left open with its reader.
func TestEnsureExistingClosesTheAttachWhenTheWaitFails(t *testing.T) {
	e := &attachOnly{}
	r := NewCompose(Options{Engine: e}, "0123456789abcdef")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.ensure(ctx); err == nil {
		t.Fatal("ensure succeeded with a pid1 that is never ready")
	}
	e.server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := e.server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("the attach stream is still open after the failed wait: %v", err)
	}
}

// leftovers is an Engine with the image and one leftover container of
// another configuration, which Prepare removes, saying so.
type leftovers struct{ Engine }

func (leftovers) ImageInspect(context.Context, string, ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, nil
}

func (leftovers) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{{ID: "0123456789abcdef", State: "running", Labels: map[string]string{LabelConfig: "other"}}}}, nil
}

func (leftovers) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	return client.ContainerRemoveResult{}, nil
}

// A Runner made without a Log or output writers discards them, as the
// watcher and the runner do: it logged through a nil Log, and panicked.
func TestRunnerWithoutALog(t *testing.T) {
	r, err := New(Options{Engine: leftovers{}, Project: t.TempDir(), Image: "x", Copy: true, StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
}
