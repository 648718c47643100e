//go:build linux

package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/devrun/devrun/docker"
	"github.com/devrun/devrun/internal/bench"
	"github.com/devrun/devrun/internal/dockertest"
)

func engine() *client.Client {
	c, err := docker.Connect(context.Background())
	bench.Check(err)
	bench.Check(dockertest.EnsureImages(context.Background(), c))
	return c
}

// startContainerDevrun runs devrun up in container mode on the busybox
// fixture image, publishing the app's port 8080 on port.
func startContainerDevrun(work, bin, name, dir string, port int) *devrunSwapper {
	c := engine()
	d := startDevrun(work, bin, name, dir, port, []string{"--mode", "container",
		"--container.image", dockertest.BusyboxImage,
		"--container.ports", fmt.Sprintf("%d:8080", port), "--container.env", "ADDR=:8080"})
	abs, err := filepath.Abs(dir)
	bench.Check(err)
	d.binary = filepath.Join(abs, ".devrun", "mount", "app")
	d.app = func() []int { return appPIDs(c, docker.LabelProject+"="+docker.ProjectHash(abs)) }
	return d
}

// startCompose runs examples/compose with docker-compose on dir's source:
// the devrun sidecar, from an image built from this checkout.
func startCompose(dir string, port int) *devrunSwapper {
	c := engine()
	dockertest.GolangImages(dockertest.FatalTB{}, c)
	sidecar, err := dockertest.SidecarImage(context.Background(), c, ".")
	bench.Check(err)
	abs, err := filepath.Abs(dir)
	bench.Check(err)
	bench.Check(os.Chmod(abs, 0o777)) // the sidecar's user writes its probe file there
	file, err := filepath.Abs("examples/compose/docker-compose.yml")
	bench.Check(err)
	var st syscall.Stat_t
	bench.Check(syscall.Stat("/var/run/docker.sock", &st))
	name := fmt.Sprintf("devrunbench%d", os.Getpid())
	compose := func(args ...string) {
		cmd := exec.Command("docker-compose", append([]string{"-p", name, "-f", file}, args...)...)
		cmd.Env = append(os.Environ(), "APP_IMAGE="+dockertest.BusyboxImage, "SIDECAR_IMAGE="+sidecar,
			"APP_PORT="+strconv.Itoa(port), "DOCKER_GID="+strconv.Itoa(int(st.Gid)), "SRC_DIR="+abs)
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Fatalf("docker-compose %v: %v\n%s", args, err, out)
		}
	}
	compose("up", "-d", "--no-build")
	vol, err := c.VolumeInspect(context.Background(), name+"_bin", client.VolumeInspectOptions{})
	bench.Check(err)
	d := &devrunSwapper{port: port, stop: func() { compose("down", "-v", "-t", "5") }}
	d.binary = filepath.Join(vol.Volume.Mountpoint, "app")
	d.app = func() []int { return appPIDs(c, "com.docker.compose.project="+name, "com.docker.compose.service=app") }
	return d
}

// appPIDs returns the host PIDs of the app in the container with labels.
func appPIDs(c *client.Client, labels ...string) []int {
	ctx := context.Background()
	f := make(client.Filters)
	for _, l := range labels {
		f = f.Add("label", l)
	}
	list, err := c.ContainerList(ctx, client.ContainerListOptions{Filters: f})
	if err != nil || len(list.Items) == 0 {
		return nil
	}
	top, err := c.ContainerTop(ctx, list.Items[0].ID, client.ContainerTopOptions{})
	if err != nil {
		return nil
	}
	pidCol, cmdCol := -1, -1
	for i, t := range top.Titles {
		switch t {
		case "PID":
			pidCol = i
		case "CMD", "COMMAND":
			cmdCol = i
		}
	}
	var pids []int
	for _, p := range top.Processes {
		if pidCol >= 0 && cmdCol >= 0 && strings.HasPrefix(p[cmdCol], "/devrun/app") {
			if pid, err := strconv.Atoi(p[pidCol]); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// restartSwapper swaps by `docker restart` of a container that runs the
// binary directly from a bind mount: the mechanism compose and Tilt use.
type restartSwapper struct {
	c     *client.Client
	id    string
	dir   string
	mount string
	port  int
}

func startRestart(dir string, port int) *restartSwapper {
	c := engine()
	abs, err := filepath.Abs(dir)
	bench.Check(err)
	r := &restartSwapper{c: c, dir: abs, mount: filepath.Join(abs, "mount"), port: port}
	bench.Check(os.MkdirAll(r.mount, 0o755))
	r.build()
	ctrPort := network.MustParsePort("8080/tcp")
	created, err := c.ContainerCreate(context.Background(), client.ContainerCreateOptions{
		Config: &container.Config{
			Image:        dockertest.BusyboxImage,
			Entrypoint:   []string{"/devrun/app"},
			Env:          []string{"ADDR=:8080"},
			ExposedPorts: network.PortSet{ctrPort: {}},
			Labels:       map[string]string{docker.LabelProject: docker.ProjectHash(abs)},
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{ctrPort: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(port)}}},
			Mounts:       []mount.Mount{{Type: mount.TypeBind, Source: r.mount, Target: "/devrun", ReadOnly: true}},
		},
	})
	bench.Check(err)
	r.id = created.ID
	_, err = c.ContainerStart(context.Background(), r.id, client.ContainerStartOptions{})
	bench.Check(err)
	return r
}

// build builds the app for Linux and renames it into the mounted directory.
func (r *restartSwapper) build() {
	tmp := filepath.Join(r.mount, ".app.new")
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	bench.Check(cmd.Run())
	bench.Check(os.Rename(tmp, filepath.Join(r.mount, "app")))
}

func (r *restartSwapper) once(edit func(), v string) (time.Duration, time.Duration) {
	start := time.Now()
	edit()
	r.build()
	swapped := time.Now()
	timeout := 5
	_, err := r.c.ContainerRestart(context.Background(), r.id, client.ContainerRestartOptions{Timeout: &timeout})
	bench.Check(err)
	waitBody(r.port, v)
	end := time.Now()
	return end.Sub(start), end.Sub(swapped)
}

func (r *restartSwapper) close() {
	r.c.ContainerRemove(context.Background(), r.id, client.ContainerRemoveOptions{Force: true})
	r.c.Close()
}
