package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/devrun/devrun/runner"
)

// A Runner runs the app in a dev container: it implements runner.Starter.
// Call Prepare once before the first Start, and Close when done. Its
// methods are safe for concurrent use.
type Runner struct {
	opts   Options
	create client.ContainerCreateOptions

	mu    sync.Mutex
	ctr   *devContainer // nil until the first Start
	stale []string      // containers of devrun's that could not be removed yet
}

// New checks opts and returns a Runner.
func New(opts Options) (*Runner, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	create, err := createOptions(&opts)
	if err != nil {
		return nil, err
	}
	return &Runner{opts: opts, create: create}, nil
}

// Prepare checks the image, puts pid1 in place, and deals with containers an
// earlier devrun of this project left: one with the same configuration is
// reused, the others are removed.
func (r *Runner) Prepare(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if r.opts.Existing != "" {
		return PlacePID1(r.opts.PID1, r.opts.MountDir)
	}
	if _, err := r.opts.Engine.ImageInspect(ctx, r.opts.Image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("the image %s is not on the engine, and devrun does not pull images: run 'docker pull %s', or set container.image", r.opts.Image, r.opts.Image)
		}
		return fmt.Errorf("inspecting the image %s: %w", r.opts.Image, err)
	}
	if !r.opts.Copy {
		if err := os.MkdirAll(r.opts.MountDir, 0o755); err != nil {
			return fmt.Errorf("making the directory mounted in the container: %w", err)
		}
		if err := place(r.opts.PID1, filepath.Join(r.opts.MountDir, "pid1")); err != nil {
			return err
		}
	}
	return r.adoptLeftovers(ctx)
}

func (r *Runner) adoptLeftovers(ctx context.Context) error {
	filters := make(client.Filters).Add("label", LabelProject+"="+r.create.Config.Labels[LabelProject])
	if s := r.opts.Service; s != "" {
		// A service leaves the other services' containers alone; the one
		// app of a project without services removes them all.
		filters = filters.Add("label", LabelService+"="+s)
	}
	list, err := r.opts.Engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return fmt.Errorf("listing earlier dev containers: %w", err)
	}
	for _, c := range list.Items {
		if c.Labels[LabelConfig] == r.create.Config.Labels[LabelConfig] && c.State == "running" && r.ctr == nil {
			ctr, err := r.attach(ctx, c.ID)
			if err == nil {
				r.opts.Log.Info("reusing the dev container " + c.ID[:12] + " that an earlier devrun left running")
				r.ctr = ctr
				continue
			}
		}
		r.opts.Log.Info("removing the dev container " + c.ID[:12] + " that an earlier devrun left behind")
		if _, err := r.opts.Engine.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing the leftover dev container %s: %w", c.ID[:12], err)
		}
	}
	return nil
}

// Start puts the binary a where the container sees it and has pid1 start it,
// after stopping the app that runs there, if any. It creates the container
// first if there is none or it is gone.
func (r *Runner) Start(ctx context.Context, a runner.Artifact) (runner.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A swap under way is given a moment to finish when devrun is asked to
	// stop: a signal the engine delivered must not be reported as failed,
	// and the app it started must be known, to be stopped. An engine that
	// hangs does not hold Ctrl-C: the swap is cancelled a second later.
	parent := ctx
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StopTimeout+time.Minute)
	defer cancel()
	defer context.AfterFunc(parent, func() { time.AfterFunc(swapGrace, cancel) })()
	ctr, err := r.ensure(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.stage(ctx, ctr, string(a)); err != nil {
		return nil, err
	}
	p, err := ctr.start(ctx, r.opts.StopTimeout)
	if !errors.Is(err, errNoAnswer) || ctx.Err() != nil {
		return p, err
	}
	// The fallback: a container whose pid1 does not answer is replaced, or
	// restarted when it is not devrun's.
	r.opts.Log.Warn("the dev container " + ctr.id[:12] + " did not answer the swap; " + map[bool]string{true: "restarting", false: "replacing"}[r.opts.Existing != ""] + " it")
	ctr.close()
	if r.opts.Existing != "" {
		timeout := 1
		r.opts.Engine.ContainerRestart(ctx, ctr.id, client.ContainerRestartOptions{Timeout: &timeout})
	} else {
		r.remove(ctx, ctr.id)
	}
	r.ctr = nil
	if ctr, err = r.ensure(ctx); err != nil {
		return nil, err
	}
	if err := r.stage(ctx, ctr, string(a)); err != nil {
		return nil, err
	}
	return ctr.start(ctx, r.opts.StopTimeout)
}

// swapGrace is how long a swap under way may go on once devrun is asked to stop.
const swapGrace = time.Second

// ensure returns a running, attached container, creating one if needed.
func (r *Runner) ensure(ctx context.Context) (*devContainer, error) {
	if r.ctr != nil && !r.ctr.goneOrGoing(ctx) {
		return r.ctr, nil
	}
	if r.opts.Existing != "" {
		return r.ensureExisting(ctx)
	}
	r.removeStale(ctx)
	if r.ctr != nil {
		r.opts.Log.Info("creating a new dev container in place of " + r.ctr.id[:12])
		r.ctr.close()
		r.remove(ctx, r.ctr.id)
		r.ctr = nil
	}
	created, err := r.opts.Engine.ContainerCreate(ctx, r.create)
	if err != nil {
		return nil, r.createError(ctx, err)
	}
	if r.opts.Copy {
		if err := r.copyIn(ctx, created.ID, "pid1", r.opts.PID1); err != nil {
			r.remove(ctx, created.ID)
			return nil, err
		}
	}
	ctr, err := r.attach(ctx, created.ID)
	if err != nil {
		r.remove(ctx, created.ID)
		return nil, err
	}
	if _, err := r.opts.Engine.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		ctr.close()
		r.remove(ctx, created.ID)
		return nil, r.engineError("starting the dev container", err)
	}
	if err := ctr.await(ctx, "ready"); err != nil {
		ctr.close()
		r.remove(ctx, created.ID)
		return nil, fmt.Errorf("starting the dev container: %w", err)
	}
	r.opts.Log.Info(fmt.Sprintf("dev container %s runs %s", created.ID[:12], r.opts.Image))
	r.ctr = ctr
	return ctr, nil
}

// ensureExisting attaches to the existing container, starting it when it
// does not run.
func (r *Runner) ensureExisting(ctx context.Context) (*devContainer, error) {
	info, err := r.opts.Engine.ContainerInspect(ctx, r.opts.Existing, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspecting the app's container: %w", err)
	}
	ctr, err := r.attach(ctx, r.opts.Existing)
	if err != nil {
		return nil, err
	}
	if st := info.Container.State; st == nil || !st.Running {
		if _, err := r.opts.Engine.ContainerStart(ctx, r.opts.Existing, client.ContainerStartOptions{}); err != nil {
			ctr.close()
			return nil, fmt.Errorf("starting the app's container: %w", err)
		}
		if err := ctr.await(ctx, "ready"); err != nil {
			ctr.close()
			return nil, fmt.Errorf("starting the app's container: %w", err)
		}
	}
	r.ctr = ctr
	return ctr, nil
}

// remove removes a container of devrun's. One it cannot remove now (the
// engine does not answer, or fails) is kept on the stale list, to be
// removed later.
func (r *Runner) remove(ctx context.Context, id string) error {
	_, err := r.opts.Engine.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		if !slices.Contains(r.stale, id) {
			r.stale = append(r.stale, id)
		}
		return err
	}
	return nil
}

// removeStale tries again to remove the containers on the stale list. It
// returns the errors of those it could not remove, by container.
func (r *Runner) removeStale(ctx context.Context) map[string]error {
	failed := map[string]error{}
	for _, id := range slices.Clone(r.stale) {
		r.stale = slices.DeleteFunc(r.stale, func(s string) bool { return s == id })
		if err := r.remove(ctx, id); err != nil {
			failed[id] = err
		}
	}
	return failed
}

// attach streams the container's output to the Runner's writers, taking
// out pid1's records.
func (r *Runner) attach(ctx context.Context, id string) (*devContainer, error) {
	resp, err := r.opts.Engine.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, r.engineError("attaching to the dev container", err)
	}
	c := &devContainer{engine: r.opts.Engine, id: id, conn: resp.HijackedResponse, records: make(chan record, 64), done: make(chan struct{}),
		goneErr: goneError{own: r.opts.Existing == ""}}
	stderr := &recordFilter{out: r.opts.Stderr, emit: c.handle}
	go func() {
		stdcopy.StdCopy(r.opts.Stdout, stderr, resp.Reader)
		if !c.isClosing() {
			next := "; devrun makes a new one"
			switch {
			case r.opts.Existing != "":
				next = "; devrun starts it at the next change, or now on r + Enter"
			case !c.runsApp():
				next = "; devrun makes a new one at the next change, or now on r + Enter"
			}
			r.opts.Log.Warn(r.whyGone(id) + next)
		}
		c.handle(record{kind: "gone"})
		close(c.done)
	}()
	return c, nil
}

// stage puts the binary at /devrun/app: a rename in the mounted directory,
// so the container never sees a half-written file, or a copy through the
// API, which replaces the file rather than writing into it.
func (r *Runner) stage(ctx context.Context, ctr *devContainer, bin string) error {
	if r.opts.Copy {
		return r.copyIn(ctx, ctr.id, "app", bin)
	}
	return place(bin, filepath.Join(r.opts.MountDir, "app"))
}

// place makes dst a copy of src by a hard link (or a copy) to a temporary
// name and a rename over dst.
func place(src, dst string) error {
	tmp := dst + ".new"
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			return fmt.Errorf("placing %s: %w", filepath.Base(dst), err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("placing %s: %w", filepath.Base(dst), err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyIn copies the file src to /devrun/name in the container.
func (r *Runner) copyIn(ctx context.Context, id, name, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copying %s into the container: %w", name, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	tw.WriteHeader(&tar.Header{Name: "devrun/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now})
	tw.WriteHeader(&tar.Header{Name: "devrun/" + name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data)), ModTime: now})
	tw.Write(data)
	if err := tw.Close(); err != nil {
		return fmt.Errorf("copying %s into the container: %w", name, err)
	}
	_, err = r.opts.Engine.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	if err != nil {
		return r.engineError("copying "+name+" into the container", err)
	}
	return nil
}

// Close removes the dev container, stopping it first if it runs, and any
// container of devrun's that could not be removed before.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctr != nil {
		r.ctr.close()
		if r.opts.Existing == "" && !slices.Contains(r.stale, r.ctr.id) {
			r.stale = append(r.stale, r.ctr.id) // else not devrun's: the supervisor has stopped the app, the container stays
		}
		r.ctr = nil
	}
	var down []string
	var errs []error
	for id, err := range r.removeStale(ctx) {
		if engineUnreachable(err) {
			down = append(down, id)
			continue
		}
		errs = append(errs, fmt.Errorf("removing the dev container %s: %w", id[:12], err))
	}
	if len(down) > 0 {
		slices.Sort(down)
		errs = append(errs, &engineDownError{op: "removing the dev container " + shortIDs(down), host: r.opts.Engine.DaemonHost(),
			then: "it stays there, and the next devrun up removes it"})
	}
	return errors.Join(errs...)
}
