package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/docker"
	"github.com/devrun/devrun/image"
	"github.com/devrun/devrun/internal/term"
)

func newInit(g *globals, stdout io.Writer) *cobra.Command {
	var force, compose bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a production Dockerfile, a .dockerignore and a devrun.yaml for the module",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load(cmd)
			if err != nil {
				return err
			}
			port, _ := strconv.Atoi(c.Image.Port)
			pkg, services := c.Build.Package, []string(nil)
			if mains := config.MainPackages("."); len(c.Services) == 0 && c.Source("build.package") == "default" && !config.IsMain(".") && len(mains) > 1 {
				// Several programs: devrun.yaml runs them as services, and
				// the Dockerfile builds the first (build.package says which).
				pkg, services = mains[0], mains
			}
			written, err := image.Init(image.InitOptions{Dir: ".", Package: pkg, Port: port, Force: force, Config: starterConfig(c, pkg, services), Compose: compose})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "devrun: wrote %s; build the image with 'devrun build'\n", strings.Join(written, ", "))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	cmd.Flags().BoolVar(&compose, "compose", false, "also write docker-compose.yml: the app and the devrun sidecar")
	return cmd
}

// starterConfig is the devrun.yaml devrun init writes: the values that
// differ from the defaults, and the rest as comments; with several main
// packages (./cmd/api, ./cmd/worker), a service for each.
func starterConfig(c *config.Config, pkg string, mains []string) []byte {
	port := c.Image.Port
	if port == "" {
		port = "8080"
	}
	// Services each publish ports of their own: none at the top level.
	ports := `  ports: ["` + port + `:` + port + `"]
`
	if len(mains) > 0 {
		ports = "  # ports: each service's own, in its container section\n"
	}
	text := `# devrun's configuration; 'devrun config' shows every key and where its value comes from.
build:
  package: ` + pkg + `      # what devrun build puts in the image; devrun up runs the services below
run:
  mode: host            # or container: the app in a dev container, swapped in place
  stop_timeout: 5s
container:
  image: alpine:3.20
` + ports + `image:
  port: ` + port + `
`
	if len(mains) == 0 {
		return []byte(strings.Replace(text, "      # what devrun build puts in the image; devrun up runs the services below", "", 1))
	}
	text += `# The module's programs, run side by side by devrun up, each rebuilt when
# its own program changes ('devrun up NAME' runs some). Each may hold build,
# run, container and compose sections of its own over the ones above, and
# depends_on: [NAME] with run.ready (tcp:PORT or an http:// URL).
services:
`
	for _, m := range mains {
		name := path.Base(m)
		text += "  " + name + ":\n    build: {package: " + m + "}\n"
	}
	return []byte(text)
}

func newBuild(g *globals, stdout, stderr io.Writer) *cobra.Command {
	var tags, args []string
	var smoke bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the production image from the Dockerfile, through the Engine API",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.load(cmd)
			if err != nil {
				return err
			}
			log, _, closeLog, err := g.logger(stderr, term.IsColorTerminal(stderr))
			if err != nil {
				return err
			}
			defer closeLog()
			c.Image.Tags = append(c.Image.Tags, tags...)
			c.Image.Args = append(c.Image.Args, args...)
			res, err := buildImage(cmd.Context(), c, stdout, log)
			if err != nil {
				return err
			}
			if smoke {
				return smokeTest(cmd.Context(), c, res, log)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&tags, "tag", "t", nil, "a name:tag for the image (repeatable; replaces the default tags)")
	cmd.Flags().StringArrayVar(&args, "build-arg", nil, "a KEY=value build argument (repeatable)")
	cmd.Flags().BoolVar(&smoke, "smoke", false, "run the new image briefly and check that it stays up and answers")
	return cmd
}

func buildImage(ctx context.Context, c *config.Config, stdout io.Writer, log *slog.Logger) (image.Result, error) {
	engine, err := docker.Connect(ctx)
	if err != nil {
		return image.Result{}, err
	}
	defer engine.Close()
	mod, err := image.ReadModule(".")
	if err != nil { // a context that is not a Go module builds all the same
		wd, _ := os.Getwd()
		mod = image.Module{Path: filepath.Base(wd)}
	}
	rev := gitRevision()
	tags := c.Image.Tags
	if len(tags) == 0 {
		tags = []string{mod.Name() + ":" + rev.tag, mod.Name() + ":latest"}
	}
	labels := map[string]string{"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339)}
	if src := rev.source(mod.Path); src != "" {
		labels["org.opencontainers.image.source"] = src
	}
	if rev.full != "" {
		labels["org.opencontainers.image.revision"] = rev.full
	}
	buildArgs := map[string]string{}
	for _, a := range c.Image.Args {
		k, v, _ := strings.Cut(a, "=")
		buildArgs[k] = v
	}
	start := time.Now()
	res, err := image.Build(ctx, image.BuildOptions{
		Engine: engine, Dir: ".", Dockerfile: c.Image.Dockerfile, Tags: tags, Args: buildArgs,
		Target: c.Image.Target, Platform: c.Image.Platform, Labels: labels, Builder: c.Image.Builder,
		Progress: stdout, Log: log,
	})
	if err != nil {
		return image.Result{}, err
	}
	fmt.Fprintf(stdout, "devrun: built %s in %s with %s: %s, %.1f MB\n", shortID(res.ID), time.Since(start).Round(10*time.Millisecond), res.Builder, strings.Join(res.Tags, ", "), float64(res.Size)/1e6)
	return res, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// revision is what git says of the working tree.
type revision struct {
	tag, full, remote string
}

func gitRevision() revision {
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	r := revision{full: git("rev-parse", "HEAD"), remote: git("config", "--get", "remote.origin.url")}
	short := git("rev-parse", "--short", "HEAD")
	if short == "" {
		r.tag = "dev"
		return r
	}
	r.tag = short
	if git("status", "--porcelain") != "" {
		r.tag += "-dirty"
	}
	return r
}

func (r revision) source(module string) string {
	if r.remote != "" || !strings.Contains(module, ".") {
		return r.remote
	}
	return "https://" + module
}

// smokeTest runs the new image briefly: it must stay up, and answer HTTP on
// image.port when one is set.
func smokeTest(ctx context.Context, c *config.Config, res image.Result, log *slog.Logger) error {
	engine, err := docker.Connect(ctx)
	if err != nil {
		return err
	}
	defer engine.Close()
	port, _ := strconv.Atoi(c.Image.Port)
	r, err := image.Smoke(ctx, engine, res.ID, port, 3*time.Second)
	if err != nil {
		return err
	}
	log.Info("smoke test passed: " + r)
	return nil
}
