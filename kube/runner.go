package kube

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
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
}

// A Runner runs the app in a dev pod that it creates, and implements
// runner.Starter: each Start sends the binary into the pod and has pid1
// swap it. A pod that goes (deleted, evicted, its node gone) is replaced
// by the next Start. Call Prepare once before the first Start, and Close
// when done. Its methods are safe for concurrent use.
type Runner struct {
	opts    Options
	project string // the project's hash
	boot    []byte

	mu   sync.Mutex
	pod  *devPod // nil until the first Start, or once gone
	fwd  *forwarder
	sent string // the SHA-256 of the binary in the pod, to send it once
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
	r := &Runner{opts: opts, project: ProjectHash(opts.Project), boot: boot}
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
// left in the namespace, and listens on the forwarded ports.
func (r *Runner) Prepare(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	core := r.opts.Client.Set.CoreV1()
	ns := r.opts.Client.Namespace
	pods, err := core.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: r.selector()})
	if err != nil {
		return r.opts.Client.apiError("listing earlier dev pods in namespace "+ns, err)
	}
	for _, p := range pods.Items {
		if r.opts.Service == "" && p.Labels[LabelService] != "" {
			continue // a service's: it deals with its own
		}
		r.opts.Log.Info("removing the dev pod " + p.Name + " that an earlier devrun left behind")
		r.deletePod(ctx, p.Name)
	}
	cms, err := core.ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: r.selector()})
	if err != nil {
		return r.opts.Client.apiError("listing earlier ConfigMaps in namespace "+ns, err)
	}
	for _, cm := range cms.Items {
		if r.opts.Service == "" && cm.Labels[LabelService] != "" {
			continue
		}
		core.ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{})
	}
	return r.fwd.listen()
}

// Start sends the binary a into the dev pod and has pid1 start it, after
// stopping the app that runs there, if any. It creates the pod first if
// there is none or it is gone.
func (r *Runner) Start(ctx context.Context, a runner.Artifact) (runner.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	parent := ctx
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StopTimeout+2*time.Minute)
	defer cancel()
	defer context.AfterFunc(parent, func() { time.AfterFunc(time.Second, cancel) })()
	if r.pod != nil && r.pod.Gone() {
		r.pod = nil
	}
	if r.pod == nil {
		pod, err := r.create(ctx)
		if err != nil {
			if parent.Err() == nil && isUnreachable(err) {
				return nil, fmt.Errorf("%w: %w", runner.ErrGone, err)
			}
			return nil, err
		}
		r.pod, r.sent = pod, ""
		r.fwd.to(pod.name)
	}
	if err := r.send(ctx, string(a)); err != nil {
		if r.pod.Gone() || isUnreachable(err) {
			return nil, fmt.Errorf("%w: %w", runner.ErrGone, err)
		}
		return nil, err
	}
	p, err := r.pod.Start(ctx, r.opts.StopTimeout)
	if errors.Is(err, pid1.ErrNoAnswer) && parent.Err() == nil {
		r.opts.Log.Warn("the dev pod " + r.pod.name + " did not answer the swap; replacing it")
		r.dropPod(ctx)
		return nil, fmt.Errorf("%w: the dev pod did not answer", runner.ErrGone)
	}
	return p, err
}

// send puts the binary at /devrun/app in the pod, gzip-compressed on the
// way, through pid1's receive mode; a binary the pod has already is not
// sent again (a restart without a build).
func (r *Runner) send(ctx context.Context, bin string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("sending the binary to the pod: %w", err)
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	if sum == r.sent {
		return nil
	}
	start := time.Now()
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		_, err := zw.Write(data)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	argv := []string{pid1Path, "-receive", appPath, "-size", strconv.Itoa(len(data)), "-sha256", sum, "-gzip"}
	if err := r.opts.Client.exec(ctx, r.pod.name, container, argv, pr); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("sending the binary to the pod %s: %w", r.pod.name, err)
	}
	r.sent = sum
	r.opts.Log.Debug(fmt.Sprintf("sent %d bytes to the pod in %s", len(data), time.Since(start).Round(time.Millisecond)))
	return nil
}

// devPod is a dev pod that devrun created, attached, with pid1 running.
type devPod struct {
	*pid1.Session
	name   string
	cancel context.CancelFunc // ends the attach stream
}

// create makes the boot loader's ConfigMap and the pod, waits until it
// runs, attaches to it, sends pid1 through the attach stream and waits
// for pid1 to say it is ready.
func (r *Runner) create(ctx context.Context) (*devPod, error) {
	core := r.opts.Client.Set.CoreV1()
	ns := r.opts.Client.Namespace
	labels := map[string]string{LabelManaged: "devrun", LabelProject: r.project}
	if r.opts.Service != "" {
		labels[LabelService] = r.opts.Service
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	cm, err := core.ConfigMaps(ns).Create(cctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "devrun-boot-", Labels: labels},
		BinaryData: map[string][]byte{"boot": r.boot},
	}, metav1.CreateOptions{})
	cancel()
	if err != nil {
		return nil, r.opts.Client.apiError("creating the boot loader's ConfigMap in namespace "+ns, err)
	}
	spec := r.podSpec(cm.Name, labels)
	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	pod, err := core.Pods(ns).Create(cctx, spec, metav1.CreateOptions{})
	cancel()
	if err != nil {
		core.ConfigMaps(ns).Delete(context.WithoutCancel(ctx), cm.Name, metav1.DeleteOptions{})
		return nil, r.opts.Client.apiError("creating the dev pod in namespace "+ns, err)
	}
	// The ConfigMap goes with the pod, also when devrun cannot remove it.
	cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	core.ConfigMaps(ns).Update(cctx, cm, metav1.UpdateOptions{})
	cancel()
	fail := func(err error) (*devPod, error) {
		r.deletePod(context.WithoutCancel(ctx), pod.Name)
		return nil, err
	}
	if err := r.waitRunning(ctx, pod.Name); err != nil {
		return fail(err)
	}
	p, err := r.attach(ctx, pod.Name)
	if err != nil {
		return fail(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := p.Await(wctx, "ready"); err != nil {
		p.Close()
		p.cancel()
		return fail(fmt.Errorf("starting pid1 in the dev pod %s: %w", pod.Name, err))
	}
	r.opts.Log.Info(fmt.Sprintf("dev pod %s runs %s in namespace %s (context %s), ready in %s", pod.Name, r.opts.Image, ns, r.opts.Client.Context, time.Since(start).Round(time.Millisecond)))
	return p, nil
}

// podSpec is the dev pod: the image's container runs the boot loader from
// the ConfigMap, which becomes pid1 once devrun has sent it.
func (r *Runner) podSpec(configMap string, labels map[string]string) *corev1.Pod {
	argv := []string{bootDir + "/boot", pid1Path, pid1Path, "-pidfile", pidFile,
		"-stop-signal", strconv.Itoa(r.opts.StopSignal), "-stop-timeout", r.opts.StopTimeout.String(), "--", appPath}
	argv = append(argv, r.opts.Args...)
	var env []corev1.EnvVar
	for _, e := range r.opts.Env {
		k, v, _ := strings.Cut(e, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	var ports []corev1.ContainerPort
	for _, f := range r.opts.Ports {
		ports = append(ports, corev1.ContainerPort{ContainerPort: int32(f.Remote), Protocol: corev1.ProtocolTCP})
	}
	mode := int32(0o555)
	grace := int64(r.opts.StopTimeout/time.Second) + 2
	name := "devrun-"
	if r.opts.Service != "" {
		name += r.opts.Service + "-"
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			EnableServiceLinks:            new(false),
			Containers: []corev1.Container{{
				Name:            container,
				Image:           r.opts.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         argv,
				Env:             env,
				Ports:           ports,
				Stdin:           true,
				StdinOnce:       true,
				VolumeMounts: []corev1.VolumeMount{
					{Name: "devrun-boot", MountPath: bootDir, ReadOnly: true},
					{Name: "devrun", MountPath: binDir},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "devrun-boot", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: configMap}, DefaultMode: &mode}}},
				{Name: "devrun", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// waitRunning watches the pod until its container runs, and fails with
// what Kubernetes says when it cannot: the image not on the node and not
// pullable, the pod unschedulable, the container ended.
func (r *Runner) waitRunning(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	pods := r.opts.Client.Set.CoreV1().Pods(r.opts.Client.Namespace)
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return r.opts.Client.apiError("watching the dev pod "+name, err)
	}
	defer w.Stop()
	last := "it was never scheduled"
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("waiting for the dev pod %s: the watch ended", name)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
					last = "it cannot be scheduled: " + c.Message
				}
			}
			for _, cs := range p.Status.ContainerStatuses {
				switch {
				case cs.State.Running != nil:
					return nil
				case cs.State.Terminated != nil:
					t := cs.State.Terminated
					return fmt.Errorf("the dev pod %s ended before pid1 ran: %s (%s)", name, bootExit(t.ExitCode), strings.TrimSpace(t.Reason+" "+t.Message))
				case cs.State.Waiting != nil:
					wt := cs.State.Waiting
					last = strings.TrimSpace(wt.Reason + ": " + wt.Message)
					switch wt.Reason {
					case "ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull", "InvalidImageName":
						return fmt.Errorf("the dev pod %s cannot run the image %s: %s (devrun does not build or push images: the image must be one the node has or can pull; set container.image)", name, r.opts.Image, last)
					case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
						return fmt.Errorf("the dev pod %s cannot start its container: %s", name, last)
					}
				}
			}
			if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
				return fmt.Errorf("the dev pod %s ended: %s %s", name, p.Status.Reason, p.Status.Message)
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for the dev pod %s to run: %w (%s)", name, ctx.Err(), last)
		}
	}
}

// attach attaches to the pod's container: pid1's bytes go to the boot
// loader on stdin, which then closes; the container's stdout and stderr
// come back, pid1's records taken out, until the stream ends.
func (r *Runner) attach(ctx context.Context, name string) (*devPod, error) {
	pid1Bin, err := os.ReadFile(r.opts.PID1)
	if err != nil {
		return nil, fmt.Errorf("reading pid1: %w", err)
	}
	req := r.opts.Client.Set.CoreV1().RESTClient().Post().Resource("pods").Namespace(r.opts.Client.Namespace).Name(name).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: container, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := r.opts.Client.executor(req.URL().String())
	if err != nil {
		return nil, err
	}
	p := &devPod{name: name}
	p.Session = pid1.NewSession(func(ctx context.Context, sig string) error { return r.signal(ctx, name, sig) },
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
			r.opts.Log.Warn(fmt.Sprintf("the dev pod %s is gone (%s); devrun makes a new one", name, r.whyGone(name, why)))
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
func (r *Runner) signal(ctx context.Context, name, sig string) error {
	err := r.opts.Client.exec(ctx, name, container, []string{pid1Path, "-signal", sig, "-pidfile", pidFile}, nil)
	if err == nil {
		return nil
	}
	if isUnreachable(err) || apierrors.IsNotFound(err) || apierrors.IsBadRequest(err) || strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("signalling pid1 in the dev pod %s: %w: %w", name, pid1.ErrUnreachable, err)
	}
	return fmt.Errorf("signalling pid1 in the dev pod %s: %w", name, err)
}

// dropPod detaches from the pod and deletes it.
func (r *Runner) dropPod(ctx context.Context) {
	if r.pod == nil {
		return
	}
	r.pod.Close()
	r.pod.cancel()
	r.deletePod(context.WithoutCancel(ctx), r.pod.name)
	r.pod = nil
}

// deletePod deletes a pod of devrun's at once (its app has been stopped,
// or is to be killed), and its ConfigMaps with it.
func (r *Runner) deletePod(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	zero := int64(0)
	err := r.opts.Client.Set.CoreV1().Pods(r.opts.Client.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return r.opts.Client.apiError("deleting the dev pod "+name, err)
	}
	return nil
}

// Close stops forwarding, and deletes the dev pod and its ConfigMap,
// waiting (within ctx) until the pod is gone. What it could not delete it
// names: the next devrun up removes it.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fwd.close()
	if r.pod == nil {
		return nil
	}
	name := r.pod.name
	r.pod.Close()
	r.pod.cancel()
	r.pod = nil
	if err := r.deletePod(ctx, name); err != nil {
		return fmt.Errorf("%w; the next devrun up removes the pod", err)
	}
	core := r.opts.Client.Set.CoreV1()
	ns := r.opts.Client.Namespace
	if cms, err := core.ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: r.selector()}); err == nil {
		for _, cm := range cms.Items {
			core.ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{})
		}
	}
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		_, err := core.Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the dev pod %s is still being deleted; it goes by itself", name)
		case <-time.After(delay):
		}
	}
}

// ProjectHash is the value of LabelProject on what devrun creates for the
// project in directory dir (absolute).
func ProjectHash(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:8])
}
