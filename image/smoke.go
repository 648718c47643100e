package image

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// SmokeEngine is the part of the Docker client that Smoke uses.
type SmokeEngine interface {
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
}

// Smoke runs the image ref for up to stay: it must keep running, and, when
// port is not 0, answer an HTTP request on it (published on 127.0.0.1). The
// container is removed afterwards. It returns what it saw.
func Smoke(ctx context.Context, e SmokeEngine, ref string, port int, stay time.Duration) (string, error) {
	host, err := freePort()
	if err != nil {
		return "", err
	}
	cfg := &container.Config{Image: ref, Labels: map[string]string{"dev.devrun.smoke": "true"}}
	hc := &container.HostConfig{}
	if port != 0 {
		p, err := network.ParsePort(strconv.Itoa(port) + "/tcp")
		if err != nil {
			return "", err
		}
		cfg.ExposedPorts = network.PortSet{p: {}}
		hc.PortBindings = network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(host)}}}
	}
	created, err := e.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		return "", fmt.Errorf("smoke test: creating a container: %w", err)
	}
	defer e.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := e.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("smoke test: starting the image: %w", err)
	}
	answered := ""
	deadline := time.Now().Add(stay)
	for time.Now().Before(deadline) || (port != 0 && answered == "" && time.Now().Before(deadline.Add(10*time.Second))) {
		info, err := e.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
		if err != nil {
			return "", fmt.Errorf("smoke test: %w", err)
		}
		if st := info.Container.State; st != nil && !st.Running {
			return "", fmt.Errorf("smoke test: the image exited with code %d", st.ExitCode)
		}
		if port != 0 && answered == "" {
			if resp, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", host)); err == nil {
				resp.Body.Close()
				answered = fmt.Sprintf("; port %d answered %s", port, resp.Status)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if port != 0 && answered == "" {
		return "", fmt.Errorf("smoke test: nothing answered on port %d", port)
	}
	return fmt.Sprintf("the image ran for %s%s", stay, answered), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("smoke test: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
