// Package kube runs the app in a pod of a Kubernetes cluster and swaps it
// there, with no image built or pushed and no pod restarted: devrun's
// pid1 goes into the pod through the attach API (see Boot), each new
// binary through the exec API into pid1 itself (its receive mode), and
// pid1 swaps the app as it does in a dev container. It speaks to the API
// server only, through client-go: no kubectl is needed, and the image
// needs no shell and no tar.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	neturl "net/url"
	"runtime"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/klog/v2"

	"github.com/devrun/devrun/internal/syncbuf"
)

// A Client is a connection to a cluster, in a namespace. Its methods are
// safe for concurrent use.
type Client struct {
	Config    *rest.Config
	Set       kubernetes.Interface
	Namespace string
	Context   string // the kubeconfig context in use
	Server    string // the API server's URL
}

// Connect loads the kubeconfig as kubectl does (KUBECONFIG, or
// ~/.kube/config; the current context and its namespace), with context and
// namespace, when set, in place of the kubeconfig's. It does not call the
// API server.
func Connect(context, namespace string) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	overrides.Context.Namespace = namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no kubeconfig: set KUBECONFIG or write ~/.kube/config (run.mode kubernetes uses the cluster kubectl would)")
		}
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig's namespace: %w", err)
	}
	// client-go reports a stream's end through klog, on stderr: devrun
	// says what happened itself.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	klog.SetLogger(logr.Discard()) // utilruntime.HandleError's reports too

	cfg.UserAgent = "devrun"
	cfg.QPS, cfg.Burst = 50, 100 // a swap is a few calls; the defaults throttle a burst of them
	set, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("making the Kubernetes client: %w", err)
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
	}
	return &Client{Config: cfg, Set: set, Namespace: ns, Context: name, Server: cfg.Host}, nil
}

// Platform returns the architecture of the cluster's nodes (the first
// Ready one's), which the app and pid1 are built for. A user who may not
// list nodes gets the host's architecture, and is told.
func (c *Client) Platform(ctx context.Context) (goarch string, note string, err error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	nodes, err := c.Set.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 50})
	if apierrors.IsForbidden(err) {
		return runtime.GOARCH, "may not list the cluster's nodes: building for " + runtime.GOARCH + ", the host's architecture", nil
	}
	if err != nil {
		return "", "", c.apiError("listing the cluster's nodes", err)
	}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				if os := n.Status.NodeInfo.OperatingSystem; os != "" && os != "linux" {
					continue
				}
				return n.Status.NodeInfo.Architecture, "", nil
			}
		}
	}
	return "", "", fmt.Errorf("the cluster at %s has no Ready Linux node", c.Server)
}

// Local reports whether the API server is on this machine (a loopback
// address, or localhost): then a stream to the pod is not slowed by a
// network.
func (c *Client) Local() bool {
	u, err := neturl.Parse(c.Server)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.IsLoopback()
	}
	return h == "localhost"
}

// callTimeout bounds each call to the API server that is not a stream.
const callTimeout = 10 * time.Second

// apiError wraps err from the API server with op, saying so plainly when
// the server cannot be reached.
func (c *Client) apiError(op string, err error) error {
	if isUnreachable(err) {
		return fmt.Errorf("%s: the Kubernetes API server at %s (context %s) does not answer: %w", op, c.Server, c.Context, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isUnreachable reports whether err says the API server did not answer.
func isUnreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "no such host") || strings.Contains(s, "i/o timeout") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "EOF")
}

// Exec runs argv in the pod's container through the exec API, with stdin
// when it is not nil, and returns what it wrote to stdout and stderr with
// its error when it fails; an exit code other than 0 without output is an
// exec.CodeExitError.
func (c *Client) Exec(ctx context.Context, pod, container string, argv []string, stdin io.Reader) error {
	req := c.Set.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.Namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdin: stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := c.executor(req.URL().String())
	if err != nil {
		return err
	}
	var out syncbuf.Buffer // stdout and stderr are copied by two goroutines
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: &out, Stderr: &out})
	if err != nil {
		var code exec.CodeExitError
		if errors.As(err, &code) && out.String() != "" {
			return fmt.Errorf("%s (exit code %d)", strings.TrimSpace(out.String()), code.Code)
		}
		return err
	}
	return nil
}

// executor returns an executor for a stream at url (exec, attach): the
// WebSocket protocol, or SPDY where the server has no WebSocket, as
// kubectl does.
func (c *Client) executor(url string) (remotecommand.Executor, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("making a stream to the pod: %w", err)
	}
	sp, err := remotecommand.NewSPDYExecutor(c.Config, http.MethodPost, u)
	if err != nil {
		return nil, fmt.Errorf("making a stream to the pod: %w", err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(c.Config, http.MethodGet, url)
	if err != nil {
		return nil, fmt.Errorf("making a stream to the pod: %w", err)
	}
	return remotecommand.NewFallbackExecutor(ws, sp, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// dialer returns a port-forward dialer for the pod.
func (c *Client) dialer(pod string) (httpstream.Dialer, error) {
	rt, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return nil, fmt.Errorf("making a port-forward to the pod: %w", err)
	}
	u := c.Set.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.Namespace).Name(pod).SubResource("portforward").URL()
	return spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u), nil
}
