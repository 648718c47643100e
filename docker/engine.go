// Package docker runs the app in a dev container through the Docker Engine
// API (github.com/moby/moby/client, which negotiates the API version down to
// the engine's: 1.41 for Docker 20.10).
//
// The container runs pid1, a small supervisor devrun builds for the engine's
// platform, as its first process. A swap puts the new binary where the
// container sees it (a rename in a bind-mounted directory, or a copy through
// the API for remote engines) and signals pid1 to restart the app: the
// container itself is never recreated for a new build.
package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Engine is the part of the Docker client that devrun uses.
// *client.Client implements it.
type Engine interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	DaemonHost() string
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerAttach(ctx context.Context, id string, options client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	ContainerKill(ctx context.Context, id string, options client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	CopyToContainer(ctx context.Context, id string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	ContainerRestart(ctx context.Context, id string, options client.ContainerRestartOptions) (client.ContainerRestartResult, error)
}

// Connect makes a client from the environment (DOCKER_HOST, DOCKER_API_VERSION,
// DOCKER_CERT_PATH, DOCKER_TLS_VERIFY) and checks that the engine answers.
func Connect(ctx context.Context) (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("making a Docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		if pctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("the Docker engine at %s accepted the connection but did not answer within %s (a frozen Docker Desktop VM? restart it); check 'docker info'", c.DaemonHost(), answerTimeout)
		}
		return nil, unreachable(c.DaemonHost(), err)
	}
	return c, nil
}

// answerTimeout bounds the calls to the engine that answer at once when it
// is well: an engine that accepts connections and never answers must not
// hang devrun.
const answerTimeout = 10 * time.Second

func unreachable(host string, err error) error {
	env := "DOCKER_HOST is not set, so devrun used the default"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = "DOCKER_HOST=" + h
	}
	return fmt.Errorf("cannot reach the Docker engine at %s (%s): %w; check that the engine runs ('docker info') and that DOCKER_HOST points at it", host, env, err)
}

// Platform returns the engine's GOOS and GOARCH, for building the app.
func Platform(ctx context.Context, e Engine) (goos, goarch string, err error) {
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	info, err := e.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", "", fmt.Errorf("asking the engine for its platform: %w", err)
	}
	arch := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "s390x": "s390x", "ppc64le": "ppc64le", "riscv64": "riscv64"}[info.Info.Architecture]
	if arch == "" {
		arch = info.Info.Architecture
	}
	return strings.ToLower(info.Info.OSType), arch, nil
}

// IsRemote reports whether the engine runs on another machine, where a bind
// mount of a local directory cannot reach: tcp:// to a non-loopback host, or ssh://.
func IsRemote(host string) bool {
	switch {
	case strings.HasPrefix(host, "ssh://"):
		return true
	case strings.HasPrefix(host, "tcp://"), strings.HasPrefix(host, "http://"), strings.HasPrefix(host, "https://"):
		hostport := host[strings.Index(host, "://")+3:]
		h, _, err := net.SplitHostPort(hostport)
		if err != nil {
			h = hostport
		}
		ip := net.ParseIP(h)
		return h != "localhost" && (ip == nil || !ip.IsLoopback())
	}
	return false
}
