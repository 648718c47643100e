package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/session"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
)

// Engine is the part of the Docker client that Build uses.
type Engine interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	ImageBuild(ctx context.Context, context io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	DialHijack(ctx context.Context, url, proto string, meta map[string][]string) (net.Conn, error)
}

// Builders a build may use.
const (
	BuilderAuto     = "auto"     // BuildKit when the engine has it, else classic
	BuilderBuildKit = "buildkit" // BuildKit, through a session
	BuilderClassic  = "classic"  // the classic builder: no cache mounts
)

// BuildOptions says what to build.
type BuildOptions struct {
	Engine     Engine
	Dir        string            // the build context
	Dockerfile string            // relative to Dir; default "Dockerfile"
	Tags       []string          // name:tag references
	Args       map[string]string // build arguments
	Target     string            // the stage to build; default the last
	Platform   string            // such as linux/amd64; default the engine's
	Labels     map[string]string
	Builder    string       // BuilderAuto, BuilderBuildKit or BuilderClassic
	Progress   io.Writer    // step-by-step progress
	Log        *slog.Logger // devrun's own messages; default: discarded
}

// A Result describes a built image.
type Result struct {
	ID      string
	Tags    []string
	Size    int64
	Builder string
	Steps   []Step // BuildKit's steps, in the order they finished
}

// A Step is one finished BuildKit step.
type Step struct {
	Name     string
	Cached   bool
	Duration time.Duration
}

// Build builds the image and returns what was built.
func Build(ctx context.Context, o BuildOptions) (Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Dockerfile == "" {
		o.Dockerfile = "Dockerfile"
	}
	df, err := os.ReadFile(filepath.Join(o.Dir, o.Dockerfile))
	if err != nil {
		return Result{}, fmt.Errorf("reading the Dockerfile: %w; 'devrun init' writes one", err)
	}
	if err := checkDockerfile(df); err != nil {
		return Result{}, fmt.Errorf("%s does not parse: %w", o.Dockerfile, err)
	}
	buildCtx, err := Context(o.Dir, o.Dockerfile)
	if err != nil {
		return Result{}, err
	}
	if files, err := Files(buildCtx); err == nil {
		if s := Secrets(files); len(s) > 0 {
			o.Log.Warn(fmt.Sprintf("the build context holds what looks like secrets: %s; add them to .dockerignore", strings.Join(s, ", ")))
		}
	}
	builder, err := pickBuilder(ctx, o)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if builder == BuilderBuildKit {
		res, err = buildKit(ctx, o, buildCtx)
	} else {
		o.Log.Warn("building with the classic builder: no BuildKit, so no cache mounts; every change recompiles the module")
		if buildCtx, err = withoutMounts(buildCtx, o.Dockerfile, df); err == nil {
			res, err = classic(ctx, o, buildCtx)
		}
	}
	if err != nil {
		return Result{}, err
	}
	res.Builder = builder
	info, err := o.Engine.ImageInspect(ctx, res.ID)
	if err != nil {
		return Result{}, fmt.Errorf("inspecting the built image: %w", err)
	}
	res.Size, res.Tags = info.Size, info.RepoTags
	return res, nil
}

func pickBuilder(ctx context.Context, o BuildOptions) (string, error) {
	switch o.Builder {
	case BuilderBuildKit, BuilderClassic:
		return o.Builder, nil
	}
	ping, err := o.Engine.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return "", fmt.Errorf("asking the engine which builders it has: %w", err)
	}
	if ping.OSType == "windows" || apiBefore(ping.APIVersion, 1, 39) {
		return BuilderClassic, nil
	}
	return BuilderBuildKit, nil
}

func apiBefore(v string, major, minor int) bool {
	var a, b int
	fmt.Sscanf(v, "%d.%d", &a, &b)
	return a < major || (a == major && b < minor)
}

var cacheMount = regexp.MustCompile(`--mount=\S+\s+(\\\n\s*)?`)

// withoutMounts removes RUN --mount options, which the classic builder
// does not know, from the Dockerfile in the context.
func withoutMounts(buildCtx []byte, dockerfile string, df []byte) ([]byte, error) {
	return replaceFile(buildCtx, path.Clean(filepath.ToSlash(dockerfile)), cacheMount.ReplaceAll(df, nil))
}

// buildKit builds through BuildKit, with a session for the daemon to call back.
func buildKit(ctx context.Context, o BuildOptions, buildCtx []byte) (Result, error) {
	opts, err := o.apiOptions()
	if err != nil {
		return Result{}, err
	}
	sess, err := session.NewSession(ctx, "devrun")
	if err != nil {
		return Result{}, fmt.Errorf("starting a BuildKit session: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go sess.Run(sctx, func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
		return o.Engine.DialHijack(ctx, "/session", proto, meta)
	})
	defer sess.Close()
	opts.Version, opts.SessionID = build.BuilderBuildKit, sess.ID()
	resp, err := o.Engine.ImageBuild(ctx, bytes.NewReader(buildCtx), opts)
	if err != nil {
		return Result{}, fmt.Errorf("building the image: %w", err)
	}
	defer resp.Body.Close()
	p := newProgress(o.Progress)
	return p.read(resp.Body)
}

// classic builds with the classic builder.
func classic(ctx context.Context, o BuildOptions, buildCtx []byte) (Result, error) {
	opts, err := o.apiOptions()
	if err != nil {
		return Result{}, err
	}
	opts.Version = build.BuilderV1
	resp, err := o.Engine.ImageBuild(ctx, bytes.NewReader(buildCtx), opts)
	if err != nil {
		return Result{}, fmt.Errorf("building the image: %w", err)
	}
	defer resp.Body.Close()
	return newProgress(o.Progress).read(resp.Body)
}

func (o BuildOptions) apiOptions() (client.ImageBuildOptions, error) {
	args := map[string]*string{}
	for k, v := range o.Args {
		args[k] = &v
	}
	opts := client.ImageBuildOptions{
		Tags: o.Tags, Dockerfile: filepath.ToSlash(o.Dockerfile), BuildArgs: args,
		Target: o.Target, Labels: o.Labels, Remove: true, ForceRemove: true,
	}
	if o.Platform != "" {
		p, err := parsePlatform(o.Platform)
		if err != nil {
			return client.ImageBuildOptions{}, err
		}
		opts.Platforms = append(opts.Platforms, p)
	}
	return opts, nil
}

// progress reads the engine's build stream and prints the steps.
type progress struct {
	out      io.Writer
	vertices map[string]*controlapi.Vertex
	order    []string
	logs     map[string]*bytes.Buffer
	done     map[string]bool
	steps    []Step
	id       string
}

func newProgress(out io.Writer) *progress {
	if out == nil {
		out = io.Discard
	}
	return &progress{out: out, vertices: map[string]*controlapi.Vertex{}, logs: map[string]*bytes.Buffer{}, done: map[string]bool{}}
}

func (p *progress) read(r io.Reader) (Result, error) {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return Result{}, fmt.Errorf("reading the build's progress: %w", err)
		}
		if err := p.message(m); err != nil {
			return Result{}, err
		}
	}
	if p.id == "" {
		return Result{}, errors.New("the build ended without an image")
	}
	return Result{ID: p.id, Steps: p.steps}, nil
}

func (p *progress) message(m jsonstream.Message) error {
	if m.Error != nil {
		return p.failure(m.Error.Message)
	}
	switch {
	case m.ID == "moby.buildkit.trace" && m.Aux != nil:
		return p.trace(*m.Aux)
	case m.ID == "moby.image.id" && m.Aux != nil:
		var id struct{ ID string }
		json.Unmarshal(*m.Aux, &id)
		p.id = id.ID
	case m.Aux != nil: // the classic builder's image ID
		var id struct{ ID string }
		if json.Unmarshal(*m.Aux, &id) == nil && id.ID != "" {
			p.id = id.ID
		}
	case m.Stream != "":
		io.WriteString(p.out, m.Stream)
	}
	return nil
}

// trace decodes one BuildKit status message and prints the steps it finishes.
func (p *progress) trace(aux json.RawMessage) error {
	var raw []byte
	if err := json.Unmarshal(aux, &raw); err != nil {
		return nil
	}
	var st controlapi.StatusResponse
	if err := proto.Unmarshal(raw, &st); err != nil {
		return nil
	}
	for _, v := range st.Vertexes {
		if _, ok := p.vertices[v.Digest]; !ok {
			p.order = append(p.order, v.Digest)
		}
		p.vertices[v.Digest] = v
		if v.Completed != nil && !p.done[v.Digest] && v.Error == "" {
			p.done[v.Digest] = true
			p.finished(v)
		}
	}
	for _, l := range st.Logs {
		if p.logs[l.Vertex] == nil {
			p.logs[l.Vertex] = &bytes.Buffer{}
		}
		p.logs[l.Vertex].Write(l.Msg)
	}
	return nil
}

func (p *progress) finished(v *controlapi.Vertex) {
	s := Step{Name: v.Name, Cached: v.Cached}
	if v.Started != nil && v.Completed != nil {
		s.Duration = v.Completed.AsTime().Sub(v.Started.AsTime())
	}
	p.steps = append(p.steps, s)
	if strings.HasPrefix(v.Name, "[internal]") {
		return
	}
	status := fmt.Sprintf("%.1fs", s.Duration.Seconds())
	if v.Cached {
		status = "CACHED"
	}
	fmt.Fprintf(p.out, "%-70s %s\n", v.Name, status)
}

// failure describes a failed build: the failing step and its output, which
// BuildKit sends only in its trace.
func (p *progress) failure(msg string) error {
	for _, d := range p.order {
		v := p.vertices[d]
		if v.Error == "" {
			continue
		}
		out := ""
		if l := p.logs[d]; l != nil {
			out = "\n" + strings.TrimRight(l.String(), "\n")
		}
		return fmt.Errorf("building the image: step %s failed: %s%s", v.Name, v.Error, out)
	}
	return fmt.Errorf("building the image: %s", msg)
}

// parsePlatform reads os/arch[/variant], such as linux/arm64/v8, in any case.
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") || strings.ContainsFunc(s, unicode.IsSpace) {
		return ocispec.Platform{}, fmt.Errorf("the platform %q is not os/arch or os/arch/variant, such as linux/amd64 or linux/arm64/v8", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// checkDockerfile parses the Dockerfile as BuildKit's frontend does, so that
// a mistake is reported before anything is sent.
func checkDockerfile(df []byte) error {
	ast, err := parser.Parse(bytes.NewReader(df))
	if err != nil {
		return err
	}
	_, _, err = instructions.Parse(ast.AST, nil)
	return err
}
