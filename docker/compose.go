package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/client"
)

// Compose's labels on the containers of a project.
const (
	labelComposeProject = "com.docker.compose.project"
	labelComposeService = "com.docker.compose.service"
)

// ComposeService finds the container of service in the compose project that
// devrun's own container belongs to, waiting for compose to create it. It
// refuses a service of another project at once: a sidecar with the engine's
// socket touches only its own project.
func ComposeService(ctx context.Context, e Engine, service string, log func(string)) (id, project string, err error) {
	for waited := false; ; waited = true {
		id, project, err = composeService(ctx, e, service)
		if !errors.Is(err, errNoService) {
			return id, project, err
		}
		if !waited {
			log(err.Error() + " yet; waiting for compose to create it")
		}
		select {
		case <-ctx.Done():
			return "", "", err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var errNoService = errors.New("no such service")

func composeService(ctx context.Context, e Engine, service string) (id, project string, err error) {
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	self, err := os.Hostname()
	if err != nil {
		return "", "", fmt.Errorf("finding devrun's own container: %w", err)
	}
	info, err := e.ContainerInspect(ctx, self, client.ContainerInspectOptions{})
	if err != nil {
		return "", "", fmt.Errorf("run.mode compose runs devrun as a service of a compose project, but devrun found no container of its own (hostname %s): %w", self, err)
	}
	project = info.Container.Config.Labels[labelComposeProject]
	if project == "" {
		return "", "", fmt.Errorf("devrun's container %s belongs to no compose project; run.mode compose is for a devrun service in a compose file", self)
	}
	list, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labelComposeService+"="+service)})
	if err != nil {
		return "", "", fmt.Errorf("listing the compose project's containers: %w", err)
	}
	var others []string
	for _, c := range list.Items {
		if c.Labels[labelComposeProject] == project {
			return c.ID, project, nil
		}
		others = append(others, c.Labels[labelComposeProject])
	}
	if len(others) > 0 {
		return "", "", fmt.Errorf("the service %q belongs to the compose project %q, not to devrun's own project %q: devrun touches only its own project's containers", service, others[0], project)
	}
	return "", "", fmt.Errorf("the compose project %q has no container of service %q (compose.service): %w", project, service, errNoService)
}

// PlacePID1 puts pid1 into dir, the volume that the app's container runs it
// from: a compose file makes the app wait for it (a healthcheck).
func PlacePID1(pid1, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("making the directory shared with the app's container: %w", err)
	}
	return place(pid1, filepath.Join(dir, "pid1"))
}
