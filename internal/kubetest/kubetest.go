// Package kubetest gives tests the Kubernetes cluster that
// hack/cluster/cluster.sh runs on this machine, and lists what devrun left
// in it.
package kubetest

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/devrun/devrun/internal/need"
	"github.com/devrun/devrun/kube"
)

// Env names the kubeconfig of the tests' cluster; by default that of
// hack/cluster/cluster.sh up.
const Env = "DEVRUN_TEST_KUBECONFIG"

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
	pods, err := c.Set.CoreV1().Pods(c.Namespace).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, "pod/"+p.Name)
		}
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
// the test's end: two replicas of a container "web" with its own command,
// args and probes, as an app's would have. It waits until the Deployment
// is available, and returns its spec as DeploymentSpec does.
func Deployment(t testing.TB, c *kube.Client, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	two := int32(2)
	labels := map[string]string{"app": name}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/true"}}}, PeriodSeconds: 5}
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
					Args:            []string{"exec sleep 3600"},
					Env:             []corev1.EnvVar{{Name: "MODE", Value: "production"}},
					ReadinessProbe:  probe,
					LivenessProbe:   probe,
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
