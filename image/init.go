// Package image makes the production image: devrun init writes a
// multi-stage Dockerfile and a .dockerignore for the module, and Build sends
// them with the build context to the engine, through BuildKit when the engine
// has it (with cache mounts for Go's module and build caches) and the classic
// builder when not.
package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/devrun/devrun/graph"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// InitOptions says what Init writes.
type InitOptions struct {
	Dir     string // the module's directory
	Package string // the main package, relative to Dir ("." or "./cmd/api")
	Port    int    // the port the app listens on; 0 for none
	Force   bool   // overwrite existing files
	// Config is the devrun.yaml to write, or nil to leave it alone.
	Config []byte
	// Compose also writes docker-compose.yml: the app's service and the
	// devrun sidecar (see examples/compose).
	Compose bool
}

// A Module is what Init reads of go.mod.
type Module struct {
	Path      string // the module path
	GoVersion string // the go directive's major.minor, such as "1.26"
}

// ReadModule reads dir/go.mod.
func ReadModule(dir string) (Module, error) {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return Module{}, fmt.Errorf("reading go.mod: %w", err)
	}
	var m Module
	if r := regexp.MustCompile(`(?m)^module\s+"?([^\s"]+)"?`).FindSubmatch(b); r != nil {
		m.Path = string(r[1])
	}
	if r := regexp.MustCompile(`(?m)^go\s+(\d+)\.(\d+)`).FindSubmatch(b); r != nil {
		m.GoVersion = string(r[1]) + "." + string(r[2])
	}
	if m.Path == "" || m.GoVersion == "" {
		return Module{}, errors.New("reading go.mod: it has no module path or no go directive")
	}
	return m, nil
}

// Name is the image's and the binary's name: the last element of the module
// path, lower-cased as image names must be.
func (m Module) Name() string {
	name := strings.ToLower(path.Base(m.Path))
	name = regexp.MustCompile(`[^a-z0-9._-]+`).ReplaceAllString(name, "-")
	if name == "" || name == "." {
		return "app"
	}
	return name
}

// RuntimeImage is the pinned base of the runtime stage.
const RuntimeImage = "alpine:3.20"

// Init writes Dockerfile, .dockerignore and (when opts.Config is set)
// devrun.yaml into opts.Dir, and returns the names written. It writes
// nothing when a file exists, unless opts.Force is set.
func Init(opts InitOptions) ([]string, error) {
	mod, err := ReadModule(opts.Dir)
	if err != nil {
		return nil, err
	}
	df, err := Dockerfile(mod, opts.Package, opts.Port, needs(opts.Dir))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"Dockerfile": df, ".dockerignore": initDockerignore(opts.Dir, opts.Package)}
	names := []string{"Dockerfile", ".dockerignore"}
	if opts.Config != nil {
		files["devrun.yaml"] = opts.Config
		names = append(names, "devrun.yaml")
	}
	if opts.Compose {
		port := opts.Port
		if port == 0 {
			port = 8080
		}
		files["docker-compose.yml"] = []byte(strings.ReplaceAll(composeText, "8080", fmt.Sprint(port)))
		names = append(names, "docker-compose.yml")
	}
	if !opts.Force {
		var exist []string
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(opts.Dir, n)); err == nil {
				exist = append(exist, n)
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("%s already exist%s; devrun init overwrites nothing without --force", strings.Join(exist, " and "), map[bool]string{true: "s"}[len(exist) == 1])
		}
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(opts.Dir, n), files[n], 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", n, err)
		}
	}
	return names, nil
}

// initDockerignore returns the .dockerignore for the module in dir whose main
// package is pkg: dockerignoreText, and an exception for each path of it
// that leaves out what the build reads (//go:embed dist, or a package
// under tmp): the image build must get every file the go build reads. The
// build graph is asked as the Dockerfile builds (linux, no cgo); when it
// cannot be loaded, the text is written as it is.
func initDockerignore(dir, pkg string) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := graph.Load(ctx, graph.Options{Dir: dir, Package: pkg, Env: []string{"GOOS=linux", "CGO_ENABLED=0"}})
	if err != nil {
		return []byte(dockerignoreText)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return []byte(dockerignoreText)
	}
	patterns, err := ignorefile.ReadAll(strings.NewReader(dockerignoreText))
	if err != nil {
		return []byte(dockerignoreText)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return []byte(dockerignoreText)
	}
	var keep []string
	for f := range g.Files {
		rel, err := filepath.Rel(root, f)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		rel = filepath.ToSlash(rel)
		if ok, _ := pm.MatchesOrParentMatches(rel); !ok {
			continue
		}
		// The shortest path that is left out: dist rather than each file
		// of it.
		parts := strings.Split(rel, "/")
		for i := 1; i <= len(parts); i++ {
			p := strings.Join(parts[:i], "/")
			if ok, _ := pm.Matches(p); ok {
				rel = p
				break
			}
		}
		if !slices.Contains(keep, rel) {
			keep = append(keep, rel)
		}
	}
	if len(keep) == 0 {
		return []byte(dockerignoreText)
	}
	slices.Sort(keep)
	var b strings.Builder
	b.WriteString(dockerignoreText)
	b.WriteString("# Read by the go build (embedded files, packages): never left out.\n")
	for _, k := range keep {
		b.WriteString("!" + k + "\n")
	}
	return []byte(b.String())
}

// runtimeNeeds says what the runtime stage must carry besides the binary.
type runtimeNeeds struct {
	CACerts bool // the app makes TLS connections: net/http, crypto/tls
	TZData  bool // the app loads time zones
}

// needs looks through the module's Go files for what the app needs at run time.
func needs(dir string) runtimeNeeds {
	var n runtimeNeeds
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || (d.IsDir() && p != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor" || d.Name() == "testdata")) {
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n.CACerts = n.CACerts || bytes.Contains(src, []byte(`"net/http"`)) || bytes.Contains(src, []byte(`"crypto/tls"`))
		n.TZData = n.TZData || bytes.Contains(src, []byte("time.LoadLocation"))
		return nil
	})
	return n
}

// Dockerfile returns the multi-stage Dockerfile for the module's main
// package pkg, exposing port unless it is 0.
func Dockerfile(mod Module, pkg string, port int, n runtimeNeeds) ([]byte, error) {
	var buf bytes.Buffer
	err := dockerfileTemplate.Execute(&buf, map[string]any{
		"GoImage": "golang:" + mod.GoVersion + "-alpine", "Runtime": RuntimeImage,
		"Name": mod.Name(), "Package": pkg, "Port": port, "Needs": n,
		"CacheID": mod.Name(),
	})
	return buf.Bytes(), err
}

var dockerfileTemplate = template.Must(template.New("Dockerfile").Parse(`# Written by devrun init: a multi-stage build, the Go toolchain in the first
# stage, only the binary in the second. Build it with 'devrun build'.

# The base images are build arguments so that a mirror or a local copy can
# stand in: devrun build --build-arg GO_IMAGE=registry.example/golang:...
ARG GO_IMAGE={{.GoImage}}
ARG RUNTIME_IMAGE={{.Runtime}}

# The builder: the go directive of go.mod picks the Go version.
FROM ${GO_IMAGE} AS build
WORKDIR /src
# A static binary, for any Linux, built by this toolchain only.
ENV CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local

# go.mod and go.sum first: the download layer is reused until they change.
COPY go.* ./
# The module cache is a BuildKit cache mount, kept between builds.
RUN --mount=type=cache,id={{.CacheID}}-gomod,target=/go/pkg/mod \
    go mod download

# Then the source; .dockerignore keeps .git, secrets and editor files out.
COPY . .
# The build cache is a cache mount too, so a one-line change compiles one
# package, not the world. -trimpath and -s -w: no local paths, no debug info.
RUN --mount=type=cache,id={{.CacheID}}-gomod,target=/go/pkg/mod \
    --mount=type=cache,id={{.CacheID}}-gobuild,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w"{{if .Needs.TZData}} -tags timetzdata{{end}} -o /out/{{.Name}} {{.Package}}

# The runtime: a pinned Alpine release, not latest, holding only the binary.
FROM ${RUNTIME_IMAGE}
{{- if .Needs.CACerts}}
# CA certificates, for the TLS connections the app makes.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
{{- end}}
{{- if .Needs.TZData}}
# Time zones are built into the binary (-tags timetzdata): no tzdata package.
{{- end}}
COPY --from=build /out/{{.Name}} /usr/local/bin/{{.Name}}
# Not root: nobody's numeric IDs, which need no /etc/passwd entry.
USER 65534:65534
{{- if .Port}}
# The port the app listens on.
EXPOSE {{.Port}}
{{- end}}
# Exec form: the app is PID 1 and gets the stop signal, no shell between.
CMD ["/usr/local/bin/{{.Name}}"]
`))

const dockerignoreText = `# Written by devrun init: what never goes into the build context.
# Version control, devrun's own builds, editors and OS files.
.git
.gitignore
.devrun
**/*.swp
**/*~
**/.DS_Store
.idea
.vscode
# Secrets: environment files, keys and certificates.
**/.env
**/.env.*
**/*.pem
**/*.key
**/id_rsa*
# Tests and their data are not part of the binary.
**/*_test.go
**/testdata
# Build outputs and dependencies of other toolchains.
node_modules
dist
tmp
`

const composeText = `# Written by devrun init --compose: the dev loop inside compose.
# 'docker compose up' (or docker-compose up): the devrun sidecar watches this
# directory, builds the app, puts the binary in the shared volume and has the
# app's container run it, on every save. 'docker compose down -v' removes all.
services:
  app:
    image: ${APP_IMAGE:-alpine:3.20}
    # pid1, placed in the volume by devrun, runs and swaps the app.
    entrypoint: ["/devrun/pid1", "-stop-timeout", "5s", "--", "/devrun/app"]
    ports:
      - "127.0.0.1:${APP_PORT:-8080}:8080"   # this machine only
    volumes:
      - bin:/devrun:ro
    depends_on:
      devrun:
        condition: service_healthy     # pid1 is in place
  devrun:
    # devrun's own image: 'devrun build -t devrun:latest' in devrun's repository.
    image: ${SIDECAR_IMAGE:-devrun:latest}
    command: ["up", "--mode", "compose", "--service", "app"]
    user: "${SIDECAR_UID:-1000}"
    group_add: ["${DOCKER_GID:-999}"]        # the group owning the engine's socket
    volumes:
      - ${SRC_DIR:-.}:/src
      - bin:/devrun
      # The sidecar drives the engine: it touches only this project's containers.
      - /var/run/docker.sock:/var/run/docker.sock
      - go-cache:/home/devrun/.cache
      - go-mod:/home/devrun/go
    healthcheck:
      test: ["CMD", "test", "-x", "/devrun/pid1"]
      interval: 1s
      retries: 120
volumes:
  bin:
  go-cache:       # the build cache: restarts of the sidecar stay fast
  go-mod:         # the module cache
`
