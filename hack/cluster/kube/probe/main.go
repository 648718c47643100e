// Command probe checks what devrun's Kubernetes mode needs of a cluster,
// through the API alone (no kubectl): exec into a pod, and a port-forward
// to it. Usage: probe KUBECONFIG NAMESPACE POD PORT.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: probe KUBECONFIG NAMESPACE POD PORT")
		os.Exit(2)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Args[1])
	check(err)
	ns, pod, port := os.Args[2], os.Args[3], os.Args[4]
	cs, err := kubernetes.NewForConfig(cfg)
	check(err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	start := time.Now()
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"/bin/busybox", "echo", "exec works"}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(cfg, http.MethodPost, req.URL())
	check(err)
	var out bytes.Buffer
	check(exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out}))
	fmt.Printf("exec: %q in %s\n", out.String(), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	check(err)
	pfURL := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, pfURL),
		[]string{"127.0.0.1"}, []string{"0:" + port}, stop, ready, io.Discard, os.Stderr)
	check(err)
	go func() { check(pf.ForwardPorts()) }()
	<-ready
	ports, err := pf.GetPorts()
	check(err)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/hostname", ports[0].Local))
	check(err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	close(stop)
	fmt.Printf("port-forward: GET /hostname = %q in %s\n", bytes.TrimSpace(b), time.Since(start).Round(time.Millisecond))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}
