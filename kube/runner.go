package kube

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/devrun/devrun/pid1"
	"github.com/devrun/devrun/runner"
)

// Labels on what devrun creates in the cluster: the dev pod and its boot
// loader's ConfigMap. devrun removes only what carries LabelProject with
// its project's value.
const (
	LabelManaged = "app.kubernetes.io/managed-by" // "devrun"
	LabelProject = "dev.devrun.project"           // a hash of the project's directory
	LabelService = "dev.devrun.service"           // the service of devrun.yaml's services, if any
)

// Paths inside the app's container.
const (
	bootDir   = "/devrun-boot"   // the ConfigMap with the boot loader
	binDir    = "/devrun"        // an emptyDir: pid1, its PID file, the app
	pid1Path  = binDir + "/pid1" // written by the boot loader
	pidFile   = binDir + "/pid1.pid"
	appPath   = binDir + "/app"
	container = "app"
)

// A Forward is a port of the pod's forwarded to a local address.
type Forward struct {
	Address string // the local IP
	Local   uint16
	Remote  uint16
}

// Options configure a Runner.
type Options struct {
	Client      *Client
	Project     string // the project's directory: its hash labels what devrun creates
	Service     string // the service of devrun.yaml's services; "" for the one app
	Image       string // the image the pod runs: the app's runtime (CA certificates, time zones, users)
	Deployment  string // an existing Deployment to patch, in place of a pod of Image's
	Container   string // the Deployment's app container; "" for its first
	Args        []string
	Env         []string // KEY=value
	Ports       []Forward
	PID1        string // pid1 built for the nodes' platform
	GOARCH      string // the nodes' architecture
	StopSignal  int
	StopTimeout time.Duration
	Stdout      io.Writer
	Stderr      io.Writer
	Log         *slog.Logger
	// Transfer is how binaries go into the pod. "" (the default): once
	// the pod has a binary of this devrun's, a delta against it
	// (pid1.DeltaBase, gzipped) when that is under half the binary's size
	// (a sixteenth with a local API server, where plain streams fast);
	// otherwise the whole binary, plain
	// when the API server is on this machine and gzipped otherwise.
	// "gzip" (BestSpeed) or "plain": always the whole binary, so.
	// Measured with a cluster on this machine (go run ./bench/latency
	// -mode kubernetes), plain took 0.66 to 0.75 of gzip's time for 8 to
	// 104 MB binaries: the stream runs at about 60 MB/s and gzip halves a
	// Go binary at about 40 MB/s; over a link of 100 Mbit/s gzip's half is
	// what counts. A delta of a one-line edit was 0.1 to 3.2 MB gzipped
	// for a 68 MB binary (24 MB gzipped whole), and costs about 0.2 s to
	// make.
	Transfer string
}

// A Runner runs the app in a dev pod, one it creates or one of a
// Deployment it patches, and implements runner.Starter: each Start sends
// the binary into the pod and has pid1 swap it. A pod that goes (deleted,
// evicted, its node gone) is replaced by the next Start. Call Prepare once
// before the first Start, and Close when done. Its methods are safe for
// concurrent use.
type Runner struct {
	opts    Options
	project string // the project's hash
	own     *ownPods
	src     podSource

	mu   sync.Mutex
	pod  *devPod // nil until the first Start, or once gone
	fwd  *forwarder
	sent string // the SHA-256 of the binary in the pod, to send it once
	gzip bool   // whole binaries go gzip-compressed (Options.Transfer)
	// base returns the binary in the pod, indexed for deltas in the
	// background after it was sent; nil when the pod has none of ours,
	// or Options.Transfer says whole binaries. It holds the binary in
	// memory.
	base  func() *pid1.DeltaBase
	delta bool // deltas are sent (Options.Transfer "")
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
	boot, err := Boot(opts.GOARCH)
	if err != nil {
		return nil, err
	}
	r := &Runner{opts: opts, project: ProjectHash(opts.Project)}
	switch opts.Transfer {
	case "gzip":
		r.gzip = true
	case "plain":
	case "":
		r.gzip, r.delta = !opts.Client.Local(), true
	default:
		return nil, fmt.Errorf("unknown transfer %q: gzip, plain or \"\"", opts.Transfer)
	}
	labels := map[string]string{LabelManaged: "devrun", LabelProject: r.project}
	if opts.Service != "" {
		labels[LabelService] = opts.Service
	}
	r.own = &ownPods{c: opts.Client, o: &r.opts, boot: boot, labels: labels, sel: r.selector(), made: map[string]bool{}}
	r.src = r.own
	if opts.Deployment != "" {
		cmLabels := maps.Clone(labels)
		cmLabels[LabelDeployment] = opts.Deployment
		r.src = &deploymentPods{c: opts.Client, o: &r.opts, boot: boot, labels: cmLabels, name: opts.Deployment, session: newSession(), used: map[string]bool{}}
	}
	r.fwd = newForwarder(opts.Client, opts.Ports, opts.Log)
	return r, nil
}

// selector selects what this Runner's project and service created.
func (r *Runner) selector() string {
	s := LabelProject + "=" + r.project
	if r.opts.Service != "" {
		s += "," + LabelService + "=" + r.opts.Service
	}
	return s
}

// Prepare removes what an earlier devrun of this project (and service)
// left in the namespace, and puts back the Deployments it left patched;
// then it patches kube.deployment, if set, and listens on the forwarded
// ports.
func (r *Runner) Prepare(ctx context.Context) error {
	if err := restoreLeftovers(ctx, r.opts.Client, &r.opts); err != nil {
		return err
	}
	if err := r.own.prepare(ctx); err != nil {
		return err
	}
	if r.src != podSource(r.own) {
		if err := r.src.prepare(ctx); err != nil {
			return err
		}
	}
	return r.fwd.listen()
}

// Start sends the binary a into the dev pod and has pid1 start it, after
// stopping the app that runs there, if any. It creates the pod first if
// there is none or it is gone.
func (r *Runner) Start(ctx context.Context, a runner.Artifact) (runner.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Client connections wait while the app is swapped or its pod made.
	r.fwd.hold()
	defer r.fwd.release()
	parent := ctx
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StopTimeout+2*time.Minute)
	defer cancel()
	defer context.AfterFunc(parent, func() { time.AfterFunc(time.Second, cancel) })()
	if r.pod != nil && r.pod.Gone() {
		// Deleted, or its attach stream broke (the API server was
		// unreachable) while it still runs the old app: it goes.
		r.src.drop(ctx, r.pod.name)
		r.pod = nil
	}
	if r.pod == nil {
		pod, err := r.newPod(ctx)
		if err != nil {
			if parent.Err() == nil && isUnreachable(err) {
				return nil, fmt.Errorf("%w: %w", runner.ErrGone, err)
			}
			return nil, err
		}
		r.pod, r.sent, r.base = pod, "", nil
		r.fwd.to(pod.name)
	}
	data, err := os.ReadFile(string(a))
	if err != nil {
		return nil, fmt.Errorf("sending the binary to the pod: %w", err)
	}
	pod := r.pod
	p, err := pod.StartWith(ctx, r.opts.StopTimeout, func(ctx context.Context) error { return r.send(ctx, pod, data) })
	if errors.Is(err, pid1.ErrNoAnswer) && parent.Err() == nil {
		r.opts.Log.Warn("the dev pod " + r.pod.name + " did not answer the swap; replacing it")
		r.dropPod(ctx)
		return nil, fmt.Errorf("%w: the dev pod did not answer", runner.ErrGone)
	}
	return p, err
}

// send puts the binary at /devrun/app in the pod and has pid1 swap to it,
// in one exec of pid1's receive mode: a delta against the binary in the
// pod, or the whole binary, plain or gzip-compressed (Options.Transfer),
// its length and SHA-256 checked there, then SIGHUP to the supervisor. A
// binary the pod has already is not sent again (a restart without a
// build): then only the signal goes. A delta that fails for another reason
// than the pod or the API server gone (the pod's binary is not the one
// devrun sent) is followed by the whole binary.
func (r *Runner) send(ctx context.Context, pod *devPod, data []byte) error {
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	if sum == r.sent {
		return r.signal(ctx, pod.name, pod.container, "HUP")
	}
	start := time.Now()
	var delta []byte
	if r.base != nil {
		var d bytes.Buffer
		// Through a local API server the whole binary streams at about
		// 60 MB/s, and a delta wins only when small: the 13 MB delta
		// (3.2 MB gzipped) of a code edit of a 68 MB binary took 2.5 s
		// against 1.3 s plain; a constant's edit (0.1 MB) took half of
		// plain's time. Over a network, where the whole binary goes
		// gzipped, a delta under half the binary wins.
		limit := len(data) / 2
		if !r.gzip {
			limit = len(data) / 16
		}
		if err := r.base().Delta(&d, data); err == nil && d.Len() < limit {
			delta = d.Bytes()
		}
	}
	argv := []string{pid1Path, "-receive", appPath, "-size", strconv.Itoa(len(data)), "-sha256", sum, "-signal", "HUP", "-pidfile", pidFile}
	body, how := data, "the binary"
	switch {
	case delta != nil:
		argv = append(argv, "-delta")
		body, how = delta, fmt.Sprintf("a delta of %d bytes", len(delta))
	case r.gzip:
		argv = append(argv, "-gzip")
	}
	sent, err := r.stream(ctx, pod, argv, body, delta != nil || r.gzip)
	lost := err != nil && (pod.Gone() || isUnreachable(err) || apierrors.IsNotFound(err))
	if err != nil && delta != nil && !lost {
		r.opts.Log.Warn(fmt.Sprintf("the binary in the dev pod %s is not the one devrun sent (%v): sending the whole binary", pod.name, err))
		r.base = nil
		return r.send(ctx, pod, data)
	}
	if err != nil {
		if lost {
			return fmt.Errorf("sending the binary to the pod %s: %w: %w", pod.name, pid1.ErrUnreachable, err)
		}
		return fmt.Errorf("sending the binary to the pod %s: %w", pod.name, err)
	}
	r.sent = sum
	r.base = nil
	if r.delta {
		indexed := make(chan *pid1.DeltaBase, 1)
		go func() { indexed <- pid1.NewDeltaBase(data) }()
		r.base = sync.OnceValue(func() *pid1.DeltaBase { return <-indexed })
	}
	r.opts.Log.Debug(fmt.Sprintf("sent %s (%d bytes on the stream, for %d) to the pod and signalled pid1 in %s", how, sent, len(data), time.Since(start).Round(time.Millisecond)))
	return nil
}

// stream runs argv in the pod with body on its standard input,
// gzip-compressed if gz, and returns how many bytes went.
func (r *Runner) stream(ctx context.Context, pod *devPod, argv []string, body []byte, gz bool) (int64, error) {
	pr, pw := io.Pipe()
	counted := &countWriter{w: pw}
	go func() {
		if !gz {
			_, err := counted.Write(body)
			pw.CloseWithError(err)
			return
		}
		// gzip writes in small pieces, and each read of the exec's stdin
		// is a frame of its own: buffered, the frames are large.
		bw := bufio.NewWriterSize(counted, 512<<10)
		zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
		_, err := zw.Write(body)
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	err := r.opts.Client.Exec(ctx, pod.name, pod.container, argv, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return counted.n.Load(), err
}

// countWriter counts what goes through it; n may be read while it writes.
type countWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// devPod is a dev pod that devrun created, attached, with pid1 running.
type devPod struct {
	*pid1.Session
	name      string
	container string
	cancel    context.CancelFunc // ends the attach stream
}

// newPod takes a pod from the source, attaches to it, sends pid1 through
// the attach stream and waits for pid1 to say it is ready.
func (r *Runner) newPod(ctx context.Context) (*devPod, error) {
	start := time.Now()
	name, ctr, err := r.src.next(ctx)
	if err != nil {
		return nil, err
	}
	p, err := r.attach(ctx, name, ctr)
	if err != nil {
		r.src.drop(context.WithoutCancel(ctx), name)
		return nil, err
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := p.Await(wctx, "ready"); err != nil {
		p.Close()
		p.cancel()
		r.src.drop(context.WithoutCancel(ctx), name)
		return nil, fmt.Errorf("starting pid1 in the dev pod %s: %w", name, err)
	}
	what := r.opts.Image
	if r.opts.Deployment != "" {
		what = "the Deployment " + r.opts.Deployment + "'s image"
	}
	r.opts.Log.Info(fmt.Sprintf("dev pod %s runs %s in namespace %s (context %s), ready in %s", name, what, r.opts.Client.Namespace, r.opts.Client.Context, time.Since(start).Round(time.Millisecond)))
	return p, nil
}

// attach attaches to the pod's container: pid1's bytes go to the boot
// loader on stdin, which then closes; the container's stdout and stderr
// come back, pid1's records taken out, until the stream ends.
func (r *Runner) attach(ctx context.Context, name, ctr string) (*devPod, error) {
	pid1Bin, err := os.ReadFile(r.opts.PID1)
	if err != nil {
		return nil, fmt.Errorf("reading pid1: %w", err)
	}
	req := r.opts.Client.Set.CoreV1().RESTClient().Post().Resource("pods").Namespace(r.opts.Client.Namespace).Name(name).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: ctr, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := r.opts.Client.executor(req.URL().String())
	if err != nil {
		return nil, err
	}
	p := &devPod{name: name, container: ctr}
	p.Session = pid1.NewSession(func(ctx context.Context, sig string) error { return r.signal(ctx, name, ctr, sig) },
		fmt.Errorf("the dev pod %s is gone: %w", name, runner.ErrGone), r.opts.Log)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	stderr := &pid1.Filter{Out: r.opts.Stderr, Emit: p.Handle}
	go func() {
		err := ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdin: bytes.NewReader(pid1Bin), Stdout: r.opts.Stdout, Stderr: stderr})
		if !p.Closing() {
			why := "the stream ended"
			if err != nil {
				why = err.Error()
			}
			r.opts.Log.Warn(fmt.Sprintf("the dev pod %s is gone (%s); %s", name, r.whyGone(name, why), r.src.replaced()))
		}
		p.End()
	}()
	return p, nil
}

// whyGone asks what became of the pod, for the log.
func (r *Runner) whyGone(name, why string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := r.opts.Client.Set.CoreV1().Pods(r.opts.Client.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "deleted"
	case err != nil:
		return why
	case p.DeletionTimestamp != nil:
		return "being deleted"
	case p.Status.Reason != "":
		return p.Status.Reason + ": " + p.Status.Message
	}
	return why
}

// signal sends sig to pid1 through an exec of pid1's signal mode.
func (r *Runner) signal(ctx context.Context, name, ctr, sig string) error {
	err := r.opts.Client.Exec(ctx, name, ctr, []string{pid1Path, "-signal", sig, "-pidfile", pidFile}, nil)
	if err == nil {
		return nil
	}
	if isUnreachable(err) || apierrors.IsNotFound(err) || apierrors.IsBadRequest(err) || strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("signalling pid1 in the dev pod %s: %w: %w", name, pid1.ErrUnreachable, err)
	}
	return fmt.Errorf("signalling pid1 in the dev pod %s: %w", name, err)
}

// dropPod detaches from the pod and gives it up.
func (r *Runner) dropPod(ctx context.Context) {
	if r.pod == nil {
		return
	}
	r.pod.Close()
	r.pod.cancel()
	r.src.drop(context.WithoutCancel(ctx), r.pod.name)
	r.pod = nil
}

// Close stops forwarding, and deletes the dev pod and its ConfigMap, or
// puts the Deployment back, waiting (within ctx) until the pod is gone.
// What it could not remove or put back it names: the next devrun up does.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fwd.close()
	name := ""
	if r.pod != nil {
		name = r.pod.name
		r.pod.Close()
		r.pod.cancel()
		r.pod = nil
	}
	return r.src.close(ctx, name)
}

// ProjectHash is the value of LabelProject on what devrun creates for the
// project in directory dir (absolute).
func ProjectHash(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:8])
}
