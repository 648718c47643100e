package kube

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// What devrun puts on a Deployment it patches (kube.deployment), and on
// what goes with the patch.
const (
	// AnnotationOriginal holds, on a patched Deployment, the spec devrun
	// changed and the project that changed it (an original record): the
	// spec is put back from it at exit, or by the next devrun up of the
	// project after a crash.
	AnnotationOriginal = "dev.devrun.original"
	// LabelDeployment is on the boot loader's ConfigMap made for a
	// Deployment, and on the patched pod template: the Deployment's name.
	LabelDeployment = "dev.devrun.deployment"
	// LabelSession is on the patched pod template: a value of each
	// devrun's own, which selects the pods of its patch.
	LabelSession = "dev.devrun.session"
)

// original is what AnnotationOriginal holds.
type original struct {
	Project string                `json:"project"`           // the project's directory
	Service string                `json:"service,omitempty"` // the service of devrun.yaml's services, if any
	Spec    appsv1.DeploymentSpec `json:"spec"`
}

// deploymentPods are the pods of an existing Deployment that devrun
// patches for as long as it runs: one replica whose app container runs the
// boot loader (from a ConfigMap) with the binary directory an emptyDir,
// the same env plus devrun's, its readiness probe kept (a Service routes
// to the pod while the app answers it) but no liveness or startup probe
// (kubelet would restart the container, which ends the swapped app: before
// the first build, after a failed one, or when the app exits, devrun is
// the one that starts it), and its original spec kept in
// AnnotationOriginal to be put back.
type deploymentPods struct {
	c       *Client
	o       *Options
	boot    []byte
	labels  map[string]string // the ConfigMap's
	name    string            // the Deployment
	session string
	ctr     string          // the app container's name, once patched
	used    map[string]bool // pods whose boot loader devrun has used
}

func (s *deploymentPods) replaced() string {
	return "devrun waits for the new pod of the Deployment " + s.name
}

// prepare patches the Deployment. One that another devrun patched and did
// not put back is left alone, with an error that says whose it is.
func (s *deploymentPods) prepare(ctx context.Context) error {
	deps := s.c.Set.AppsV1().Deployments(s.c.Namespace)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	d, err := deps.Get(cctx, s.name, metav1.GetOptions{})
	cancel()
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("kube.deployment: no Deployment %q in namespace %s (context %s)", s.name, s.c.Namespace, s.c.Context)
	}
	if err != nil {
		return s.c.apiError("reading the Deployment "+s.name, err)
	}
	if rec, ok := d.Annotations[AnnotationOriginal]; ok {
		var o original
		json.Unmarshal([]byte(rec), &o)
		return fmt.Errorf("the Deployment %s is patched by the devrun up of %s: Ctrl-C there puts it back (after a crash, devrun up in that directory does, at its start)", s.name, cmp.Or(o.Project, "another project"))
	}
	cm, err := createBoot(ctx, s.c, s.boot, s.labels)
	if err != nil {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		d, err := deps.Get(cctx, s.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if _, ok := d.Annotations[AnnotationOriginal]; ok {
			return fmt.Errorf("another devrun patched it meanwhile")
		}
		rec, err := json.Marshal(original{Project: s.o.Project, Service: s.o.Service, Spec: d.Spec})
		if err != nil {
			return err
		}
		if err := s.patch(d, cm.Name); err != nil {
			return err
		}
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[AnnotationOriginal] = string(rec)
		_, err = deps.Update(cctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		deleteConfigMaps(context.WithoutCancel(ctx), s.c, s.configMaps())
		return s.c.apiError("patching the Deployment "+s.name, err)
	}
	s.o.Log.Info(fmt.Sprintf("patched the Deployment %s (container %s, one replica, no liveness or startup probe) for as long as devrun runs: Ctrl-C puts it back", s.name, s.ctr))
	return nil
}

// patch changes d's pod template into a dev pod's.
func (s *deploymentPods) patch(d *appsv1.Deployment, configMap string) error {
	t := &d.Spec.Template
	i := 0
	if s.o.Container != "" {
		i = slices.IndexFunc(t.Spec.Containers, func(c corev1.Container) bool { return c.Name == s.o.Container })
		if i < 0 {
			var names []string
			for _, c := range t.Spec.Containers {
				names = append(names, c.Name)
			}
			return fmt.Errorf("kube.container: the Deployment %s has no container %q (it has %s)", s.name, s.o.Container, strings.Join(names, ", "))
		}
	}
	if len(t.Spec.Containers) == 0 {
		return fmt.Errorf("the Deployment %s has no container", s.name)
	}
	c := &t.Spec.Containers[i]
	s.ctr = c.Name
	args := c.Args
	if len(s.o.Args) > 0 {
		args = s.o.Args
	}
	vols, mounts := bootVolumes(configMap)
	c.Command, c.Args = bootCommand(s.o, args), nil
	c.Env = append(c.Env, envVars(s.o.Env)...)
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	c.Stdin, c.StdinOnce = true, true
	c.LivenessProbe, c.StartupProbe = nil, nil
	t.Spec.Volumes = append(t.Spec.Volumes, vols...)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Labels[LabelDeployment] = s.name
	t.Labels[LabelSession] = s.session
	one := int32(1)
	d.Spec.Replicas = &one
	d.Spec.Paused = false
	return nil
}

// configMaps selects the boot loader's ConfigMaps made for the Deployment.
func (s *deploymentPods) configMaps() string {
	return LabelProject + "=" + s.labels[LabelProject] + "," + LabelDeployment + "=" + s.name
}

// next waits for a pod of the patched template whose app container runs
// and whose boot loader devrun has not used.
func (s *deploymentPods) next(ctx context.Context) (string, string, error) {
	sel := metav1.ListOptions{LabelSelector: LabelSession + "=" + s.session}
	name, err := waitRunning(ctx, s.c, sel, s.ctr, "a pod of the Deployment "+s.name, func(n string) bool { return s.used[n] })
	if err != nil {
		return "", "", err
	}
	s.used[name] = true
	return name, s.ctr, nil
}

// drop deletes the pod; the Deployment makes another.
func (s *deploymentPods) drop(ctx context.Context, pod string) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	zero := int64(0)
	s.c.Set.CoreV1().Pods(s.c.Namespace).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

// close puts the Deployment's spec back, deletes the ConfigMap, and waits
// until the patched pods are gone.
func (s *deploymentPods) close(ctx context.Context, _ string) error {
	if err := restore(ctx, s.c, s.name); err != nil {
		return fmt.Errorf("%w; it stays patched: devrun up in this directory puts it back at its start", err)
	}
	deleteConfigMaps(ctx, s.c, s.configMaps())
	return waitGone(ctx, s.c, metav1.ListOptions{LabelSelector: LabelSession + "=" + s.session})
}

// restore puts back the spec of the Deployment name that AnnotationOriginal
// holds, and removes the annotation.
func restore(ctx context.Context, c *Client, name string) error {
	deps := c.Set.AppsV1().Deployments(c.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		d, err := deps.Get(cctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rec, ok := d.Annotations[AnnotationOriginal]
		if !ok {
			return nil
		}
		var o original
		if err := json.Unmarshal([]byte(rec), &o); err != nil {
			return fmt.Errorf("reading its %s annotation: %w", AnnotationOriginal, err)
		}
		d.Spec = o.Spec
		delete(d.Annotations, AnnotationOriginal)
		_, err = deps.Update(cctx, d, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: nothing to put back
	}
	if err != nil {
		return c.apiError("putting back the Deployment "+name, err)
	}
	return nil
}

// restoreLeftovers puts back the Deployments of the namespace that a
// devrun of project (and service) patched and did not put back: it
// crashed, or lost the cluster at its exit.
func restoreLeftovers(ctx context.Context, c *Client, o *Options) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	list, err := c.Set.AppsV1().Deployments(c.Namespace).List(cctx, metav1.ListOptions{})
	cancel()
	if apierrors.IsForbidden(err) {
		return nil // devrun may not list Deployments here: it patched none
	}
	if err != nil {
		return c.apiError("listing the Deployments of namespace "+c.Namespace, err)
	}
	for _, d := range list.Items {
		rec, ok := d.Annotations[AnnotationOriginal]
		if !ok {
			continue
		}
		var orig original
		if json.Unmarshal([]byte(rec), &orig) != nil || orig.Project != o.Project || orig.Service != o.Service {
			continue
		}
		o.Log.Info("putting back the Deployment " + d.Name + " that an earlier devrun left patched")
		if err := restore(ctx, c, d.Name); err != nil {
			return err
		}
	}
	return nil
}

// newSession returns a value for LabelSession.
func newSession() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
