// Package kubetest gives tests the Kubernetes cluster that
// hack/cluster/cluster.sh runs on this machine, and lists what devrun left
// in it.
package kubetest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/devrun/devrun/internal/need"
	"github.com/devrun/devrun/kube"
)

// Env names the kubeconfig of the tests' cluster; by default that of
// hack/cluster/cluster.sh up.
const Env = "TEST_KUBECONFIG"

// Images the cluster's containerd has, imported by cluster.sh: never
// pulled. Pause is a static program in an empty image: no shell, no tar.
const (
	BusyboxImage = "devrun.local/busybox:1"
	PauseImage   = "devrun.local/pause:1"
)

// Kubeconfig returns the path of the tests' cluster's kubeconfig, after
// checking that the cluster answers; without one the test is skipped (or
// fails where TESTS_REQUIRE says kube).
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := os.Getenv(Env)
	if path == "" {
		path = "/tmp/devrun-cluster/kubeconfig"
	}
	if _, err := os.Stat(path); err != nil {
		need.Skip(t, "kube", "no Kubernetes cluster for the tests: run 'sudo bash hack/cluster/cluster.sh up', or set "+Env)
	}
	t.Setenv("KUBECONFIG", path)
	c := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Set.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		need.Skip(t, "kube", "the tests' Kubernetes cluster does not answer: "+err.Error())
	}
	return path
}

// Client returns a client of the cluster KUBECONFIG names.
func Client(t testing.TB) *kube.Client {
	t.Helper()
	c, err := kube.Connect("", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Left lists the pods and ConfigMaps of devrun's for the project in dir,
// but those being deleted.
func Left(t testing.TB, c *kube.Client, dir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: kube.LabelProject + "=" + kube.ProjectHash(dir)}
	var names []string
	for _, p := range Pods(t, c, sel.LabelSelector) {
		names = append(names, "pod/"+p)
	}
	cms, err := c.Set.CoreV1().ConfigMaps(c.Namespace).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.DeletionTimestamp == nil {
			names = append(names, "configmap/"+cm.Name)
		}
	}
	return names
}

// Deployment creates a Deployment called name of BusyboxImage, deleted at
// the test's end: two replicas of a container "web" with its own command
// (an HTTP server on port 8080), args, env and probes (ready when port 8080
// takes connections), as an app's would have. It waits until the
// Deployment is available, and returns its spec as DeploymentSpec does.
func Deployment(t testing.TB, c *kube.Client, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	two := int32(2)
	labels := map[string]string{"app": name}
	live := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/true"}}}, PeriodSeconds: 5}
	ready := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1}
	deps := c.Set.AppsV1().Deployments(c.Namespace)
	_, err := deps.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:            "web",
					Image:           BusyboxImage,
					ImagePullPolicy: corev1.PullNever,
					Command:         []string{"/bin/sh", "-c"},
					Args:            []string{"exec httpd -f -p 8080"},
					Env:             []corev1.EnvVar{{Name: "MODE", Value: "production"}},
					ReadinessProbe:  ready,
					LivenessProbe:   live,
				}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		deps.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationForeground)})
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.AvailableReplicas == two && d.Status.ObservedGeneration == d.Generation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Deployment %s never became available: %+v", name, d.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return DeploymentSpec(t, c, name)
}

// DeploymentSpec returns the spec of the Deployment name, as JSON.
func DeploymentSpec(t testing.TB, c *kube.Client, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Set.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Pod returns the pod name.
func Pod(t testing.TB, c *kube.Client, name string) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.Set.CoreV1().Pods(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Pods lists the pods that the label selector sel selects, but those
// being deleted.
func Pods(t testing.TB, c *kube.Client, sel string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := c.Set.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// A Cut is a TCP proxy in front of the tests' API server, and a kubeconfig
// that reaches the cluster through it: the tests cut the way to the API
// server, as a network that drops or a cluster that goes away would, with
// the real server behind.
type Cut struct {
	Kubeconfig string // the kubeconfig through the proxy

	t      testing.TB
	addr   string // where the proxy listens
	target string // the API server's host:port

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// NewCut starts a proxy to the API server of the tests' kubeconfig, and
// writes a kubeconfig that goes through it. The proxy goes at the test's
// end.
func NewCut(t testing.TB) *Cut {
	t.Helper()
	path := Kubeconfig(t)
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cut{t: t, conns: map[net.Conn]bool{}}
	for _, cl := range cfg.Clusters {
		u, err := url.Parse(cl.Server)
		if err != nil {
			t.Fatal(err)
		}
		c.target = u.Host
		c.listen("127.0.0.1:0")
		c.addr = c.ln.Addr().String()
		cl.Server = "https://" + c.addr
	}
	c.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Off)
	return c
}

func (c *Cut) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", c.target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns[in], c.conns[out] = true, true
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
}

// Off cuts the way: the proxy stops listening and its connections end.
func (c *Cut) Off() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for conn := range c.conns {
		conn.Close()
	}
	clear(c.conns)
}

// On restores the way, on the same address.
func (c *Cut) On() {
	c.t.Helper()
	c.listen(c.addr)
}

// Remove deletes what devrun left in the cluster for the project in dir
// (a test that failed, or killed devrun): its pods, at once, and
// ConfigMaps.
func Remove(t testing.TB, c *kube.Client, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: kube.LabelProject + "=" + kube.ProjectHash(dir)}
	zero := int64(0)
	c.Set.CoreV1().Pods(c.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, sel)
	c.Set.CoreV1().ConfigMaps(c.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
}
