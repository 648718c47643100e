package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/devrun/devrun/internal/kubetest"
	"github.com/devrun/devrun/kube"
)

// These tests run devrun in run.mode kubernetes against the real cluster
// of hack/cluster/cluster.sh: a real API server, kubelet and containerd.

// startKube runs devrun up in kubernetes mode on image, forwarding the
// project's port to the app's 8080.
func (p *project) startKube(image string, args ...string) {
	p.t.Helper()
	kubetest.Kubeconfig(p.t)
	c := kubetest.Client(p.t)
	p.t.Cleanup(func() { kubetest.Remove(p.t, c, p.dir) }) // after devrun's end: what a failed test left
	p.start(append([]string{"--mode", "kubernetes", "--container.image", image,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080"}, args...)...)
}

// waitNothingLeft waits until devrun's pods and ConfigMaps of the project
// are gone, and fails naming them if they are not.
func (p *project) waitNothingLeft(c *kube.Client) {
	p.t.Helper()
	var left []string
	if !poll(func() bool { left = kubetest.Left(p.t, c, p.dir); return len(left) == 0 }) {
		p.t.Errorf("left in the cluster: %v", left)
	}
}

// pods lists the running pods of devrun's for the project.
func (p *project) pods(c *kube.Client) []string {
	p.t.Helper()
	var pods []string
	for _, n := range kubetest.Left(p.t, c, p.dir) {
		if name, ok := strings.CutPrefix(n, "pod/"); ok {
			pods = append(pods, name)
		}
	}
	return pods
}

// Edit, broken edit, edit, Ctrl-C: each version served through the
// port-forward, the last good one kept while the build fails, and nothing
// of devrun's left in the cluster; also in an image with no shell and no
// tar (a static program in an empty image).
func TestKubeEditBrokenEditAndCtrlC(t *testing.T) {
	for name, image := range map[string]string{"busybox": kubetest.BusyboxImage, "no-shell": kubetest.PauseImage} {
		t.Run(name, func(t *testing.T) {
			p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
			p.startKube(image)
			p.waitBody("v1")
			c := kubetest.Client(t)
			first := p.pods(c)
			p.write("version.go", version("v2"))
			p.waitBody("v2")
			p.write("version.go", "package main\n\nconst version = nope\n")
			p.waitLog(`build failed`, 1)
			p.waitBody("v2")
			p.write("version.go", version("v3"))
			p.waitBody("v3")
			if pods := p.pods(c); len(first) != 1 || !slices.Equal(pods, first) {
				t.Errorf("pods %v after two swaps, want the first one, %v, kept", pods, first)
			}
			p.stop(os.Interrupt)
			p.waitNothingLeft(c)
		})
	}
}

// Each edit goes as a delta against the binary in the pod; when that is
// not the binary devrun sent (changed in the pod from outside), pid1
// refuses the delta and devrun sends the whole binary, said once.
func TestKubeDeltaOrTheWholeBinary(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.startKube(kubetest.BusyboxImage)
	p.waitBody("v1")
	c := kubetest.Client(t)
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	fallback := `the binary in the dev pod devrun-\w+ is not the one devrun sent \(.*SHA-256.*\): sending the whole binary`
	if n := p.countLog(fallback); n != 0 {
		t.Errorf("the delta of an edit was refused:\n%s", p.log())
	}
	pods := p.pods(c)
	if len(pods) != 1 {
		t.Fatalf("pods %v, want one", pods)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The running app's file cannot be written (ETXTBSY): a copy changed
	// here and there goes over it, as another tool's copy would. (Bytes
	// appended would not do: the delta reads none of them, and makes the
	// right binary all the same.)
	change := "cp /devrun/app /devrun/x && for at in 100000 1000000 3000000; do printf changed | dd of=/devrun/x bs=1 seek=$at conv=notrunc; done && mv /devrun/x /devrun/app"
	if err := c.Exec(ctx, pods[0], "app", []string{"sh", "-c", change}, nil); err != nil {
		t.Fatal(err)
	}
	p.write("version.go", version("v3"))
	p.waitBody("v3")
	p.waitLog(fallback, 1)
	p.write("version.go", version("v4"))
	p.waitBody("v4")
	if n := p.countLog(fallback); n != 1 {
		t.Errorf("the whole binary was sent %d times, want once (for v3):\n%s", n, p.log())
	}
	p.stop(os.Interrupt)
	p.waitNothingLeft(c)
}

// The dev pod deleted from outside: devrun says so, makes a new one and
// serves the newest build in it, through the same local port.
func TestKubePodDeletedFromOutside(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.startKube(kubetest.PauseImage)
	p.waitBody("v1")
	c := kubetest.Client(t)
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	first := p.pods(c)
	if len(first) != 1 {
		t.Fatalf("pods %v, want one", first)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Set.CoreV1().Pods(c.Namespace).Delete(ctx, first[0], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p.waitLog(`the dev pod `+first[0]+` is gone \((deleted|being deleted)\); devrun makes a new one`, 1)
	p.waitLog(`dev pod devrun-\w+ runs`, 2)
	p.waitBody("v2")
	if pods := p.pods(c); len(pods) != 1 || pods[0] == first[0] {
		t.Errorf("pods %v after the deletion, want one new one", pods)
	}
	p.write("version.go", version("v3"))
	p.waitBody("v3")
	p.stop(os.Interrupt)
	p.waitNothingLeft(c)
}

// devrun killed with SIGKILL leaves its pod serving; the next devrun up
// removes it, runs its own, and leaves nothing at Ctrl-C.
func TestKubeKilledDevrunLeftoversAreRemoved(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	p.startKube(kubetest.BusyboxImage)
	p.waitBody("v1")
	c := kubetest.Client(t)
	left := p.pods(c)
	p.cmd.Process.Kill()
	<-p.exited
	if pods := p.pods(c); !slices.Equal(pods, left) || len(left) != 1 {
		t.Fatalf("pods %v after SIGKILL, want %v left", pods, left)
	}
	p.write("version.go", version("v2"))
	p.startKube(kubetest.BusyboxImage)
	p.waitLog(`removing the dev pod `+left[0]+` that an earlier devrun left behind`, 1)
	p.waitBody("v2")
	if pods := p.pods(c); len(pods) != 1 || pods[0] == left[0] {
		t.Errorf("pods %v, want one new one", pods)
	}
	p.stop(os.Interrupt)
	p.waitNothingLeft(c)
}

// An existing Deployment (two replicas, probes, its own command) patched
// for devrun: one replica runs the app and each edit; devrun killed leaves
// it patched, and the next devrun puts it back before patching it anew;
// Ctrl-C puts it back with its spec byte-equal to what it was, and the
// patched pods and the boot loader's ConfigMap go.
func TestKubeDeploymentPatchedAndPutBack(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	kubetest.Kubeconfig(t)
	c := kubetest.Client(t)
	name := "devrun-test-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	before := kubetest.Deployment(t, c, name)

	args := []string{"--mode", "kubernetes", "--kube.deployment", name,
		"--container.ports", fmt.Sprintf("%d:8080", p.port), "--container.env", "HOST=0.0.0.0 PORT=8080"}
	p.start(args...)
	p.waitLog(`patched the Deployment `+name+` \(container web, one replica, no liveness or startup probe\)`, 1)
	p.waitBody("v1")
	p.cmd.Process.Kill()
	<-p.exited
	if d := kubetest.DeploymentSpec(t, c, name); d == before {
		t.Fatal("the Deployment is not patched while devrun runs")
	}

	p.start(args...)
	p.waitLog(`putting back the Deployment `+name+` that an earlier devrun left patched`, 1)
	p.waitLog(`patched the Deployment `+name, 1)
	p.waitBody("v1")
	p.write("version.go", version("v2"))
	p.waitBody("v2")
	pods := kubetest.Pods(t, c, kube.LabelDeployment+"="+name)
	if len(pods) != 1 {
		t.Fatalf("patched pods %v, want one", pods)
	}
	// The readiness probe stays (port 8080 takes connections: the app's),
	// so that the Deployment's Service would route to the pod; liveness
	// goes, or kubelet would restart the container under devrun.
	var pod *corev1.Pod
	if !poll(func() bool { pod = kubetest.Pod(t, c, pods[0]); return podReady(pod) }) {
		t.Errorf("the patched pod %s never became Ready: %+v", pods[0], pod.Status.Conditions)
	}
	if web := pod.Spec.Containers[0]; web.ReadinessProbe == nil || web.LivenessProbe != nil {
		t.Errorf("the patched pod's probes: readiness %v, liveness %v; want the readiness probe only", web.ReadinessProbe, web.LivenessProbe)
	}
	p.stop(os.Interrupt)
	if after := kubetest.DeploymentSpec(t, c, name); after != before {
		t.Errorf("the Deployment's spec after Ctrl-C differs from before devrun:\nbefore %s\nafter  %s", before, after)
	}
	var left []string
	if !poll(func() bool { left = kubetest.Pods(t, c, kube.LabelDeployment+"="+name); return len(left) == 0 }) {
		t.Errorf("patched pods left: %v", left)
	}
	p.waitNothingLeft(c)
}

// The way to the API server cut (a proxy in front of the real one): devrun
// says once that the server does not answer, builds the edit made
// meanwhile, and serves it in a new pod once the server answers again, the
// old pod removed; Ctrl-C while it is cut exits in time and names the pod
// that stays, which the next devrun up removes.
func TestKubeAPIServerCut(t *testing.T) {
	p := newProject(t, map[string]string{"main.go": server, "version.go": version("v1")})
	cut := kubetest.NewCut(t)
	c := kubetest.Client(t)
	p.env = []string{"KUBECONFIG=" + cut.Kubeconfig}
	p.startKube(kubetest.BusyboxImage)
	p.waitBody("v1")
	first := p.pods(c)

	cut.Off()
	down := `does not answer`
	p.waitLog(`the dev pod `+first[0]+` is gone`, 1)
	p.waitLog(down, 1)
	p.write("version.go", version("v2"))
	p.waitLog(`version.go changed: building`, 1)
	before := p.countLog(down)
	cut.On()
	p.waitBody("v2")
	if n := p.countLog(down); n > before+1 {
		t.Errorf("the API server not answering was logged %d more times after it came back", n-before)
	}
	var pods []string
	if !poll(func() bool { pods = p.pods(c); return len(pods) == 1 && pods[0] != first[0] }) {
		t.Errorf("pods %v after the API server came back, want one new one (not %s)", pods, first[0])
	}

	cut.Off()
	p.stop(os.Interrupt)
	said := p.log()
	left := p.pods(c)
	for _, pod := range left {
		if !regexp.MustCompile(`deleting the dev pod ` + pod + `: the Kubernetes API server at .* does not answer.*; the next devrun up removes the pod`).MatchString(said) {
			t.Errorf("Ctrl-C with the API server cut does not say that the pod %s stays:\n%s", pod, said)
		}
	}
	cut.On()
	p.startKube(kubetest.BusyboxImage)
	for _, pod := range left {
		p.waitLog(`removing the dev pod `+pod+` that an earlier devrun left behind`, 1)
	}
	p.waitBody("v2")
	p.stop(os.Interrupt)
	p.waitNothingLeft(c)
}

// podReady reports whether p's Ready condition is true.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
