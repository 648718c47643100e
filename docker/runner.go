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

	"github.com/devrun/devrun/pid1"
	"github.com/devrun/devrun/runner"
)

// A Runner runs the app in a dev container: it implements runner.Starter.
// What it does with the container comes from its home: one that devrun
// creates, replaces and removes (New), or a compose service's, which devrun
// only attaches to, starts and restarts (NewCompose). The swap itself, the
// attach and pid1's records are the same for both. Call Prepare once
// before the first Start, and Close when done. Its methods are safe for
// concurrent use.
type Runner struct {
	opts Options
	home home

	mu  sync.Mutex
	ctr *devContainer // nil until the first Start
}

// A home is where a Runner's container comes from. Its methods are called
// with the Runner's mu held, but for prepare.
type home interface {
	// prepare readies what the first start needs.
	prepare(ctx context.Context) error
	// ensure returns a running, attached container, making or starting one
	// when r.ctr is nil or gone.
	ensure(ctx context.Context) (*devContainer, error)
	// unanswered deals with ctr, whose pid1 did not answer a swap, so that
	// ensure can make it run again; fallback says what it does ("replacing").
	unanswered(ctx context.Context, ctr *devContainer)
	fallback() string
	// release is what becomes of the container in use when the Runner
	// closes, and cleanup removes what is left to remove, by container.
	release(ctr *devContainer)
	cleanup(ctx context.Context) map[string]error
	// owned says whether the container is devrun's own; goneNext what
	// happens once it went from outside.
	owned() bool
	goneNext(c *devContainer) string
}

// New checks opts and returns a Runner for a container devrun owns: it
// creates it, replaces it when it does not answer, and removes it.
func New(opts Options) (*Runner, error) {
	r := newRunner(opts)
	create, err := createOptions(&r.opts)
	if err != nil {
		return nil, err
	}
	r.home = &ownHome{r: r, create: create}
	return r, nil
}

// NewCompose returns a Runner for the container id of a compose service,
// which must run pid1 from opts.MountDir: devrun never creates, recreates
// or removes it; it starts it when it is not running, and restarts it when
// pid1 does not answer.
func NewCompose(opts Options, id string) *Runner {
	r := newRunner(opts)
	r.home = &composeHome{r: r, id: id}
	return r
}

func newRunner(opts Options) *Runner {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	return &Runner{opts: opts}
}

// Prepare readies the first start: for a container of devrun's, it checks
// the image, puts pid1 in place, and deals with containers an earlier
// devrun of this project left (one with the same configuration is reused,
// the others are removed); for a compose service's, it puts pid1 in place.
func (r *Runner) Prepare(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return r.home.prepare(ctx)
}

// ownHome is the home of a container devrun creates and removes.
type ownHome struct {
	r      *Runner
	create client.ContainerCreateOptions
	stale  []string // containers of devrun's that could not be removed yet
}

func (h *ownHome) owned() bool { return true }

func (h *ownHome) prepare(ctx context.Context) error {
	r := h.r
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
		if r.opts.Debug != nil {
			if err := place(r.opts.Debug.Dlv, filepath.Join(r.opts.MountDir, "dlv")); err != nil {
				return err
			}
		}
	}
	return h.adoptLeftovers(ctx)
}

func (h *ownHome) adoptLeftovers(ctx context.Context) error {
	r := h.r
	filters := make(client.Filters).Add("label", LabelProject+"="+h.create.Config.Labels[LabelProject])
	list, err := r.opts.Engine.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return fmt.Errorf("listing earlier dev containers: %w", err)
	}
	for _, c := range list.Items {
		if s := c.Labels[LabelService]; s != "" && s != r.opts.Service && r.opts.Service != "" {
			// Another service's: it deals with its own. The one app of a
			// project without services removes them all, and a service
			// removes what that app left.
			continue
		}
		if c.Labels[LabelConfig] == h.create.Config.Labels[LabelConfig] && c.State == "running" && r.ctr == nil {
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
	p, err := ctr.Start(ctx, r.opts.StopTimeout)
	if !errors.Is(err, pid1.ErrNoAnswer) || ctx.Err() != nil {
		return p, err
	}
	// The fallback: a container whose pid1 does not answer is replaced, or
	// restarted when it is not devrun's.
	r.opts.Log.Warn("the dev container " + ctr.id[:12] + " did not answer the swap; " + r.home.fallback() + " it")
	ctr.close()
	r.home.unanswered(ctx, ctr)
	r.ctr = nil
	if ctr, err = r.ensure(ctx); err != nil {
		return nil, err
	}
	if err := r.stage(ctx, ctr, string(a)); err != nil {
		return nil, err
	}
	return ctr.Start(ctx, r.opts.StopTimeout)
}

// swapGrace is how long a swap under way may go on once devrun is asked to stop.
const swapGrace = time.Second

// ensure returns a running, attached container, from its home if needed.
func (r *Runner) ensure(ctx context.Context) (*devContainer, error) {
	if r.ctr != nil && !r.ctr.GoneOrGoing(ctx) {
		return r.ctr, nil
	}
	return r.home.ensure(ctx)
}

// unanswered removes the container: ensure makes a new one.
func (h *ownHome) unanswered(ctx context.Context, ctr *devContainer) { h.remove(ctx, ctr.id) }

func (h *ownHome) fallback() string { return "replacing" }

// ensure creates, attaches and starts a new container in place of the
// one that went, if any.
func (h *ownHome) ensure(ctx context.Context) (*devContainer, error) {
	r := h.r
	h.removeStale(ctx)
	if r.ctr != nil {
		r.opts.Log.Info("creating a new dev container in place of " + r.ctr.id[:12])
		r.ctr.close()
		h.remove(ctx, r.ctr.id)
		r.ctr = nil
	}
	created, err := r.opts.Engine.ContainerCreate(ctx, h.create)
	if err != nil {
		return nil, r.createError(ctx, err)
	}
	if r.opts.Copy {
		if err := r.copyIn(ctx, created.ID, "pid1", r.opts.PID1); err != nil {
			h.remove(ctx, created.ID)
			return nil, err
		}
		if r.opts.Debug != nil {
			if err := r.copyIn(ctx, created.ID, "dlv", r.opts.Debug.Dlv); err != nil {
				h.remove(ctx, created.ID)
				return nil, err
			}
		}
	}
	ctr, err := r.attach(ctx, created.ID)
	if err != nil {
		h.remove(ctx, created.ID)
		return nil, err
	}
	if _, err := r.opts.Engine.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		ctr.close()
		h.remove(ctx, created.ID)
		return nil, r.engineError("starting the dev container", err)
	}
	if err := ctr.Await(ctx, "ready"); err != nil {
		ctr.close()
		h.remove(ctx, created.ID)
		return nil, fmt.Errorf("starting the dev container: %w", err)
	}
	r.opts.Log.Info(fmt.Sprintf("dev container %s runs %s", created.ID[:12], r.opts.Image))
	r.ctr = ctr
	return ctr, nil
}

// composeHome is the home of a compose service's container, which devrun
// did not create and never removes.
type composeHome struct {
	r  *Runner
	id string
}

func (h *composeHome) owned() bool { return false }

func (h *composeHome) prepare(context.Context) error {
	return PlacePID1(h.r.opts.PID1, h.r.opts.MountDir)
}

// unanswered restarts the container, whose pid1 starts the app again.
func (h *composeHome) unanswered(ctx context.Context, ctr *devContainer) {
	timeout := 1
	h.r.opts.Engine.ContainerRestart(ctx, ctr.id, client.ContainerRestartOptions{Timeout: &timeout})
}

func (h *composeHome) fallback() string { return "restarting" }

// release leaves the container: the supervisor has stopped the app, and
// the container is compose's.
func (h *composeHome) release(*devContainer) {}

func (h *composeHome) cleanup(context.Context) map[string]error { return nil }

func (h *composeHome) goneNext(*devContainer) string {
	return "; devrun starts it at the next change, or now on r + Enter"
}

// ensure attaches to the service's container, starting it when it does
// not run.
func (h *composeHome) ensure(ctx context.Context) (*devContainer, error) {
	r := h.r
	info, err := r.opts.Engine.ContainerInspect(ctx, h.id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspecting the app's container: %w", err)
	}
	ctr, err := r.attach(ctx, h.id)
	if err != nil {
		return nil, err
	}
	if st := info.Container.State; st == nil || !st.Running {
		if _, err := r.opts.Engine.ContainerStart(ctx, h.id, client.ContainerStartOptions{}); err != nil {
			ctr.close()
			return nil, fmt.Errorf("starting the app's container: %w", err)
		}
		if err := ctr.Await(ctx, "ready"); err != nil {
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
func (h *ownHome) remove(ctx context.Context, id string) error {
	_, err := h.r.opts.Engine.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		if !slices.Contains(h.stale, id) {
			h.stale = append(h.stale, id)
		}
		return err
	}
	return nil
}

// removeStale tries again to remove the containers on the stale list. It
// returns the errors of those it could not remove, by container.
func (h *ownHome) removeStale(ctx context.Context) map[string]error {
	failed := map[string]error{}
	for _, id := range slices.Clone(h.stale) {
		h.stale = slices.DeleteFunc(h.stale, func(s string) bool { return s == id })
		if err := h.remove(ctx, id); err != nil {
			failed[id] = err
		}
	}
	return failed
}

// release puts the container in use on the stale list: Close removes it.
func (h *ownHome) release(ctr *devContainer) {
	if !slices.Contains(h.stale, ctr.id) {
		h.stale = append(h.stale, ctr.id)
	}
}

func (h *ownHome) cleanup(ctx context.Context) map[string]error { return h.removeStale(ctx) }

func (h *ownHome) goneNext(c *devContainer) string {
	if !c.RunsApp() {
		return "; devrun makes a new one at the next change, or now on r + Enter"
	}
	return "; devrun makes a new one"
}

// attach streams the container's output to the Runner's writers, taking
// out pid1's records.
func (r *Runner) attach(ctx context.Context, id string) (*devContainer, error) {
	resp, err := r.opts.Engine.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, r.engineError("attaching to the dev container", err)
	}
	c := &devContainer{id: id, conn: resp.HijackedResponse}
	c.Session = pid1.NewSession(func(ctx context.Context, sig string) error { return r.signal(ctx, id, sig) },
		goneError{own: r.home.owned()}, r.opts.Log)
	stderr := &pid1.Filter{Out: r.opts.Stderr, Emit: c.Handle}
	go func() {
		stdcopy.StdCopy(r.opts.Stdout, stderr, resp.Reader)
		if !c.Closing() {
			r.opts.Log.Warn(r.whyGone(id) + r.home.goneNext(c))
		}
		c.End()
	}()
	return c, nil
}

// devContainer is one attached dev container and its pid1.
type devContainer struct {
	*pid1.Session
	id   string
	conn client.HijackedResponse
}

// close marks the container as being removed by devrun, and detaches.
func (c *devContainer) close() {
	c.Session.Close()
	c.conn.Close()
}

// signal sends sig to the container's pid1.
func (r *Runner) signal(ctx context.Context, id, sig string) error {
	if _, err := r.opts.Engine.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: sig}); err != nil {
		if engineUnreachable(err) || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return fmt.Errorf("signalling the dev container: %w: %w", pid1.ErrUnreachable, err)
		}
		return fmt.Errorf("signalling the dev container: %w", err)
	}
	return nil
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
		r.home.release(r.ctr)
		r.ctr = nil
	}
	var down []string
	var errs []error
	for id, err := range r.home.cleanup(ctx) {
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
