package kube

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// A podSource gives the Runner its dev pods: pods whose app container
// runs the boot loader, waiting for pid1 on its standard input. Two kinds
// exist: pods devrun creates (ownPods) and the pods of a Deployment that
// devrun patches for as long as it runs (deploymentPods). The Runner calls
// a source's methods under its lock, one at a time.
type podSource interface {
	// prepare removes, or puts back, what an earlier devrun of the
	// project left, and readies the source.
	prepare(ctx context.Context) error
	// next returns a pod whose app container (named by the second
	// result) runs the boot loader, making or awaiting one.
	next(ctx context.Context) (pod, container string, err error)
	// drop gives up a pod that does not answer: next gives another one.
	drop(ctx context.Context, pod string)
	// close removes what the source made and puts back what it changed,
	// waiting within ctx until the pods it used are gone. pod is the pod
	// in use, or "".
	close(ctx context.Context, pod string) error
	// replaced says, for the log, what follows a pod that went.
	replaced() string
}

// bootCommand is the command of a dev pod's app container: the boot
// loader, which writes pid1 from its stdin and becomes it; pid1 then
// supervises /devrun/app with args.
func bootCommand(o *Options, args []string) []string {
	argv := []string{bootDir + "/boot", pid1Path, pid1Path, "-pidfile", pidFile,
		"-stop-signal", strconv.Itoa(o.StopSignal), "-stop-timeout", o.StopTimeout.String(), "--", appPath}
	return append(argv, args...)
}

// bootVolumes are the volumes the boot command needs: the boot loader's
// ConfigMap, executable, and the emptyDir pid1 and the app go to.
func bootVolumes(configMap string) ([]corev1.Volume, []corev1.VolumeMount) {
	mode := int32(0o555)
	return []corev1.Volume{
			{Name: "devrun-boot", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: configMap}, DefaultMode: &mode}}},
			{Name: "devrun", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}, []corev1.VolumeMount{
			{Name: "devrun-boot", MountPath: bootDir, ReadOnly: true},
			{Name: "devrun", MountPath: binDir},
		}
}

// envVars turns KEY=value pairs into a container's env.
func envVars(env []string) []corev1.EnvVar {
	var vars []corev1.EnvVar
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars = append(vars, corev1.EnvVar{Name: k, Value: v})
	}
	return vars
}

// createBoot creates a ConfigMap holding the boot loader, labelled.
func createBoot(ctx context.Context, c *Client, boot []byte, labels map[string]string) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cm, err := c.Set.CoreV1().ConfigMaps(c.Namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "devrun-boot-", Labels: labels},
		BinaryData: map[string][]byte{"boot": boot},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, c.apiError("creating the boot loader's ConfigMap in namespace "+c.Namespace, err)
	}
	return cm, nil
}

// deleteConfigMaps deletes the ConfigMaps that sel selects.
func deleteConfigMaps(ctx context.Context, c *Client, sel string) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cms := c.Set.CoreV1().ConfigMaps(c.Namespace)
	if list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: sel}); err == nil {
		for _, cm := range list.Items {
			cms.Delete(ctx, cm.Name, metav1.DeleteOptions{})
		}
	}
}

// waitGone polls until no pod that sel selects (labels, or
// metadata.name=NAME as a field selector) is left, within ctx.
func waitGone(ctx context.Context, c *Client, sel metav1.ListOptions) error {
	pods := c.Set.CoreV1().Pods(c.Namespace)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		list, err := pods.List(cctx, sel)
		cancel()
		if err == nil && len(list.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var names []string
			if list != nil {
				for _, p := range list.Items {
					names = append(names, p.Name)
				}
			}
			return fmt.Errorf("the pods %s are still being deleted; they go by themselves", strings.Join(names, ", "))
		case <-time.After(delay):
		}
	}
}

// waitRunning watches the pods that sel selects until one that is not
// being deleted, and that skip does not refuse, runs its container, and
// returns its name. It fails with what Kubernetes says when that cannot
// happen: the image not on the node and not pullable, the pod
// unschedulable, the container ended. what names the pods for messages.
func waitRunning(ctx context.Context, c *Client, sel metav1.ListOptions, container, what string, skip func(string) bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w, err := c.Set.CoreV1().Pods(c.Namespace).Watch(ctx, sel)
	if err != nil {
		return "", c.apiError("watching "+what, err)
	}
	defer w.Stop()
	last := "none was scheduled"
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return "", fmt.Errorf("waiting for %s: the watch ended", what)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.DeletionTimestamp != nil || skip(p.Name) {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Message != "" {
					last = "it cannot be scheduled: " + cond.Message
				}
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name != container {
					continue
				}
				switch {
				case cs.State.Running != nil:
					return p.Name, nil
				case cs.State.Terminated != nil:
					t := cs.State.Terminated
					return "", fmt.Errorf("the dev pod %s ended before pid1 ran: %s (%s)", p.Name, bootExit(t.ExitCode), strings.TrimSpace(t.Reason+" "+t.Message))
				case cs.State.Waiting != nil:
					wt := cs.State.Waiting
					last = strings.TrimSpace(wt.Reason + ": " + wt.Message)
					switch wt.Reason {
					case "ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull", "InvalidImageName":
						return "", fmt.Errorf("the dev pod %s cannot run the image %s: %s (devrun does not build or push images: the image must be one the node has or can pull)", p.Name, cs.Image, last)
					case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
						return "", fmt.Errorf("the dev pod %s cannot start its container: %s", p.Name, last)
					}
				}
			}
			if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
				return "", fmt.Errorf("the dev pod %s ended: %s %s", p.Name, p.Status.Reason, p.Status.Message)
			}
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %s to run: %w (%s)", what, ctx.Err(), last)
		}
	}
}

// ownPods makes the dev pods: one at a time, of Options.Image, each with
// its boot loader's ConfigMap (owned by the pod, so that the two go
// together).
type ownPods struct {
	c      *Client
	o      *Options
	boot   []byte
	labels map[string]string
	sel    string          // selects what this source made, and what earlier ones left
	made   map[string]bool // the pods it made that may still be there
}

func (s *ownPods) replaced() string { return "devrun makes a new one" }

// prepare deletes the pods and ConfigMaps an earlier devrun of the project
// (and service) left; pods that something else owns (a Deployment's) are
// not devrun's to delete.
func (s *ownPods) prepare(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	core := s.c.Set.CoreV1()
	ns := s.c.Namespace
	pods, err := core.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: s.sel})
	if err != nil {
		return s.c.apiError("listing earlier dev pods in namespace "+ns, err)
	}
	for _, p := range pods.Items {
		if len(p.OwnerReferences) > 0 || s.o.Service == "" && p.Labels[LabelService] != "" {
			continue // a Deployment's, or a service's: those deal with their own
		}
		s.o.Log.Info("removing the dev pod " + p.Name + " that an earlier devrun left behind")
		s.deletePod(ctx, p.Name)
	}
	cms, err := core.ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: s.sel})
	if err != nil {
		return s.c.apiError("listing earlier ConfigMaps in namespace "+ns, err)
	}
	for _, cm := range cms.Items {
		if cm.Labels[LabelDeployment] != "" || s.o.Service == "" && cm.Labels[LabelService] != "" {
			continue
		}
		core.ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{})
	}
	return nil
}

// next makes the boot loader's ConfigMap and the pod, and waits until it
// runs.
func (s *ownPods) next(ctx context.Context) (string, string, error) {
	for pod := range s.made { // those whose deletion failed: the API server did not answer
		s.drop(ctx, pod)
	}
	core := s.c.Set.CoreV1()
	ns := s.c.Namespace
	cm, err := createBoot(ctx, s.c, s.boot, s.labels)
	if err != nil {
		return "", "", err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	pod, err := core.Pods(ns).Create(cctx, s.podSpec(cm.Name), metav1.CreateOptions{})
	cancel()
	if err != nil {
		core.ConfigMaps(ns).Delete(context.WithoutCancel(ctx), cm.Name, metav1.DeleteOptions{})
		return "", "", s.c.apiError("creating the dev pod in namespace "+ns, err)
	}
	// The ConfigMap goes with the pod, also when devrun cannot remove it.
	cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	core.ConfigMaps(ns).Update(cctx, cm, metav1.UpdateOptions{})
	cancel()
	sel := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod.Name).String()}
	if _, err := waitRunning(ctx, s.c, sel, container, "the dev pod "+pod.Name, func(string) bool { return false }); err != nil {
		s.deletePod(context.WithoutCancel(ctx), pod.Name)
		return "", "", err
	}
	s.made[pod.Name] = true
	return pod.Name, container, nil
}

// drop deletes the pod; one whose deletion fails is deleted again by close.
func (s *ownPods) drop(ctx context.Context, pod string) {
	if s.deletePod(ctx, pod) == nil {
		delete(s.made, pod)
	}
}

// close deletes the pods it made that may still be there (the one in use,
// and any whose deletion failed), and the ConfigMaps, and waits until the
// pods are gone. The pods it cannot delete it names.
func (s *ownPods) close(ctx context.Context, _ string) error {
	var stay []string
	var last error
	for pod := range s.made {
		if err := s.deletePod(ctx, pod); err != nil {
			stay, last = append(stay, pod), err
		}
	}
	if len(stay) > 0 {
		slices.Sort(stay)
		return fmt.Errorf("%w; the next devrun up removes the pod", s.c.apiError("deleting the dev pod "+strings.Join(stay, ", "), last))
	}
	deleteConfigMaps(ctx, s.c, s.sel)
	for pod := range s.made {
		if err := waitGone(ctx, s.c, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod).String()}); err != nil {
			return err
		}
		delete(s.made, pod)
	}
	return nil
}

// deletePod deletes a pod of devrun's at once (its app has been stopped,
// or is to be killed); its ConfigMap goes with it. Its error is the API
// server's, to be wrapped.
func (s *ownPods) deletePod(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	zero := int64(0)
	err := s.c.Set.CoreV1().Pods(s.c.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// podSpec is the dev pod: the image's container runs the boot loader from
// the ConfigMap, which becomes pid1 once devrun has sent it.
func (s *ownPods) podSpec(configMap string) *corev1.Pod {
	var ports []corev1.ContainerPort
	for _, f := range s.o.Ports {
		ports = append(ports, corev1.ContainerPort{ContainerPort: int32(f.Remote), Protocol: corev1.ProtocolTCP})
	}
	grace := int64(s.o.StopTimeout/time.Second) + 2
	name := "devrun-"
	if s.o.Service != "" {
		name += s.o.Service + "-"
	}
	vols, mounts := bootVolumes(configMap)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name, Labels: s.labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			EnableServiceLinks:            new(false),
			Containers: []corev1.Container{{
				Name:            container,
				Image:           s.o.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         bootCommand(s.o, s.o.Args),
				Env:             envVars(s.o.Env),
				Ports:           ports,
				Stdin:           true,
				StdinOnce:       true,
				VolumeMounts:    mounts,
			}},
			Volumes: vols,
		},
	}
}
