package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"time"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/kube"
	"github.com/devrun/devrun/pid1"
	"github.com/devrun/devrun/runner"
)

// kubeStarter connects to the kubeconfig's cluster and prepares the dev
// pod's runner. It returns the nodes' platform, which the app must be
// built for, and a function that removes the dev pod. service names the
// service of devrun.yaml's services it is for ("" for the one app).
func kubeStarter(ctx context.Context, c *config.Config, log *slog.Logger, stdout, stderr io.Writer, deadline func() time.Time, service string) (_ *kube.Runner, pf platform, _ func(), _ error) {
	cl, err := kube.Connect(c.Kube.Context, c.Kube.Namespace)
	if err != nil {
		return nil, pf, nil, err
	}
	goarch, note, err := cl.Platform(ctx)
	if err != nil {
		return nil, pf, nil, err
	}
	if note != "" {
		log.Warn(note)
	}
	pf = platform{"linux", goarch}
	pid1Bin, err := pid1.Build(ctx, cacheDir(), pf.goos, pf.goarch)
	if err != nil {
		return nil, pf, nil, err
	}
	project, err := filepath.Abs(".")
	if err != nil {
		return nil, pf, nil, err
	}
	sig, err := runner.ParseSignal(c.Run.StopSignal)
	if err != nil {
		return nil, pf, nil, err
	}
	var fwds []kube.Forward
	for _, s := range c.Container.Ports {
		p, err := config.ParsePort(s)
		if err != nil {
			return nil, pf, nil, fmt.Errorf("container.ports: %w", err)
		}
		if p.Proto != "tcp" {
			return nil, pf, nil, fmt.Errorf("container.ports: %q: Kubernetes forwards TCP ports only", s)
		}
		fwds = append(fwds, kube.Forward{Address: p.IP.String(), Local: p.Host, Remote: p.Container})
	}
	r, err := kube.New(kube.Options{
		Client:      cl,
		Project:     project,
		Service:     service,
		Image:       c.Container.Image,
		Deployment:  c.Kube.Deployment,
		Container:   c.Kube.Container,
		Args:        c.Run.Args,
		Env:         append(append([]string{}, c.Run.Env...), c.Container.Env...),
		Ports:       fwds,
		PID1:        pid1Bin,
		GOARCH:      goarch,
		StopSignal:  int(sig.(syscall.Signal)),
		StopTimeout: c.Run.StopTimeout,
		Stdout:      stdout,
		Stderr:      stderr,
		Log:         log,
	})
	if err != nil {
		return nil, pf, nil, err
	}
	if err := r.Prepare(ctx); err != nil {
		return nil, pf, nil, err
	}
	closeFn := func() {
		ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), later(deadline(), time.Now().Add(3*time.Second)))
		defer cancel()
		if err := r.Close(ctx); err != nil {
			log.Error(err.Error())
		}
	}
	what := c.Container.Image
	if c.Kube.Deployment != "" {
		what = "the Deployment " + c.Kube.Deployment
	}
	log.Info(fmt.Sprintf("kubernetes mode: %s in namespace %s of context %s (%s), nodes %s/%s", what, cl.Namespace, cl.Context, cl.Server, pf.goos, pf.goarch))
	return r, pf, closeFn, nil
}
