// Package config loads devrun's configuration: defaults that make a directory
// with a main package work as it is, overridden by devrun.yaml, then by
// DEVRUN_* environment variables, then by command-line flags.
//
// Every key has one type. A value of the wrong type, out of range or not among
// the allowed ones is an error naming the key, where the value came from, and
// what is allowed; so is a key that devrun does not know. Viper is used
// through a local instance that never leaves this package.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// FileName is the configuration file looked for in the working directory.
const FileName = "devrun.yaml"

// EnvPrefix starts the name of every environment variable devrun reads.
const EnvPrefix = "DEVRUN_"

// Config is devrun's effective configuration.
type Config struct {
	Build     BuildConfig
	Run       RunConfig
	Watch     WatchConfig
	Container ContainerConfig
	Image     ImageConfig
	Compose   ComposeConfig
	Kube      KubeConfig
	Proxy     ProxyConfig
	// Services are the programs of the project that devrun runs side by
	// side, when devrun.yaml has a services map; nil when it has none, and
	// the configuration is the one program's.
	Services []Service

	sources map[string]string // key → where its value came from
}

// BuildConfig says how the app is built.
type BuildConfig struct {
	Package string   // the main package, "." by default
	Command []string // replaces go build when set
	Output  string   // the directory binaries are built into
	Flags   []string
	LDFlags string
	Tags    []string
	Env     []string
	Steps   []Step // generators run before the build
	// Fast adds the dev profile to go build (runner.FastFlags): a build
	// tuned for the loop, not for release.
	Fast bool
	// Parallel is how many services build at once: a number, "0" for one
	// for each CPU.
	Parallel string
}

// RunConfig says how the app runs.
type RunConfig struct {
	Mode        string
	Args        []string
	Env         []string
	StopSignal  string
	StopTimeout time.Duration
	Restart     string
	EnvFile     string // a .env file applied to the app, watched
	// Ready says when a started app counts as ready (tcp:PORT, tcp:HOST:PORT
	// or an http:// URL; "" once started), and ReadyTimeout how long that
	// is waited for.
	Ready        string
	ReadyTimeout time.Duration
	// Debug runs the app under Delve, listening on DebugListen (HOST:PORT),
	// with the dlv binary DebugDlv ("" for dlv on PATH); DebugWait holds
	// each version at its start until a client continues it.
	Debug       bool
	DebugListen string
	DebugDlv    string
	DebugWait   bool
}

// ContainerConfig says how the dev container runs (run.mode: container).
type ContainerConfig struct {
	Image   string
	Ports   []string
	Env     []string
	Volumes []string
	Network string
	User    string
	Sync    string // auto, bind or copy
}

// ComposeConfig says which service the compose sidecar drives.
type ComposeConfig struct {
	Service  string
	MountDir string
}

// KubeConfig says where the dev pod runs (run.mode: kubernetes). The
// cluster is the kubeconfig's, as kubectl finds it (KUBECONFIG).
type KubeConfig struct {
	Context    string // "" for the current context
	Namespace  string // "" for the context's
	Deployment string // an existing Deployment to patch; "" for a dev pod of container.image
	Container  string // the Deployment's app container; "" for its first
}

// ProxyConfig says how devrun's proxy in front of the app runs.
type ProxyConfig struct {
	Listen string        // where the proxy listens; "" for no proxy
	App    string        // the app's address; "" for a port devrun picks and gives the app in PORT
	Wait   time.Duration // how long a request waits for the app during a swap
	Ready  string        // a path that answers 2xx or 3xx once the app is ready; "" for a connection
	Swap   string        // auto, start-first or stop-first
	Reload bool          // put the reload script into HTML pages
	H2C    bool          // speak h2c to the app
}

// StartFirst reports whether each new version starts before the old one
// stops (proxy.swap, with auto resolved).
func (p ProxyConfig) StartFirst() bool {
	return p.Swap == "start-first" || (p.Swap == "auto" && p.App == "")
}

// ImageConfig says how devrun build builds the production image.
type ImageConfig struct {
	Dockerfile string
	Tags       []string
	Args       []string
	Target     string
	Platform   string
	Builder    string // auto, buildkit or classic
	Port       string // "" or a port number
}

// WatchConfig says which changes trigger a build.
type WatchConfig struct {
	Paths        []string
	Include      []string
	Exclude      []string
	Debounce     time.Duration
	MaxWait      time.Duration
	Poll         bool
	PollInterval time.Duration
	GitIgnore    bool
	Tests        bool
	Graph        bool   // rebuild only for what the build reads
	Rules        []Rule // what changes to other files do
}

// AddFlags defines a flag on fs for every key, named after it
// (--build.ldflags, --watch.debounce, ...).
func AddFlags(fs *pflag.FlagSet) {
	for _, k := range keys {
		switch k.kind {
		case kBool:
			fs.String(k.name, "", k.help+" (true or false)")
			fs.Lookup(k.name).NoOptDefVal = "true"
		case kList:
			fs.Var(new(words), k.name, k.help+" (space-separated; quote to keep spaces; given again, it adds to the list)")
		default:
			fs.String(k.name, "", k.help)
		}
		if k.alias != "" {
			fs.String(k.alias, "", "same as --"+k.name)
			fs.Lookup(k.alias).NoOptDefVal = fs.Lookup(k.name).NoOptDefVal
		}
	}
}

// words is a list flag's value: the words of each time it is given, in
// order, as one space-separated string (--run.env A=1 --run.env B=2 is
// --run.env 'A=1 B=2').
type words string

func (w *words) String() string { return string(*w) }
func (w *words) Type() string   { return "string" }
func (w *words) Set(s string) error {
	if *w != "" {
		s = string(*w) + " " + s
	}
	*w = words(s)
	return nil
}

// Options says where Load looks.
type Options struct {
	Dir   string         // the project directory; devrun.yaml is looked for here
	File  string         // an explicit config file (--config); it must exist
	Flags *pflag.FlagSet // flags defined by AddFlags; only those set count
}

// Load reads the configuration. Its error lists every problem found.
func Load(opts Options) (*Config, error) {
	v := viper.New()
	v.AllowEmptyEnv(true) // DEVRUN_X= is a value, checked like any other
	file, err := configFile(opts)
	if err != nil {
		return nil, err
	}
	var errs []error
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("reading %s: %s", file, oneLine(err.Error()))
		}
		errs = append(errs, unknownFileKeys(v, file)...)
	}
	errs = append(errs, unknownEnv()...)
	c := &Config{sources: map[string]string{}}
	for _, k := range keys {
		v.SetDefault(k.name, k.def)
		_ = v.BindEnv(k.name, envName(k.name))
		if f := flag(opts.Flags, k.name); f != nil {
			_ = v.BindPFlag(k.name, f)
		}
		if a := flag(opts.Flags, k.alias); a != nil && a.Changed {
			v.Set(k.name, a.Value.String())
		}
		src := source(v, opts.Flags, k, file)
		c.sources[k.name] = src
		if err := k.set(c, v.Get(k.name)); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %w", k.name, src, err))
		}
	}
	if c.sources["build.package"] == "default" {
		if pkg := mainPackage(opts.Dir); pkg != "." {
			c.Build.Package = pkg
			c.sources["build.package"] = "default (the only main package)"
		}
	}
	errs = append(errs, c.crossCheck(opts.Dir)...)
	if file != "" && v.InConfig("services") {
		var serrs []error
		c.Services, serrs = loadServices(v, file, opts.Dir, c)
		errs = append(errs, serrs...)
	} else if strings.Contains(c.Compose.Service, ",") {
		var serrs []error
		c.Services, serrs = composeServices(c, opts.Dir)
		errs = append(errs, serrs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func configFile(opts Options) (string, error) {
	if opts.File != "" {
		if _, err := os.Stat(opts.File); err != nil {
			return "", fmt.Errorf("config file: %w", err)
		}
		return opts.File, nil
	}
	p := filepath.Join(opts.Dir, FileName)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", nil
}

func flag(fs *pflag.FlagSet, name string) *pflag.Flag {
	if fs == nil {
		return nil
	}
	return fs.Lookup(name)
}

// envName is the environment variable of a key: build.ldflags → DEVRUN_BUILD_LDFLAGS.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// source says where the value of key comes from, following viper's precedence.
func source(v *viper.Viper, fs *pflag.FlagSet, k key, file string) string {
	if f := flag(fs, k.alias); k.alias != "" && f != nil && f.Changed {
		return "flag --" + k.alias
	}
	key := k.name
	if f := flag(fs, key); f != nil && f.Changed {
		return "flag --" + key
	}
	if _, ok := os.LookupEnv(envName(key)); ok {
		return "env " + envName(key)
	}
	if file != "" && v.InConfig(key) {
		return filepath.Base(file)
	}
	return "default"
}

// unknownFileKeys reports the keys of the file that devrun does not know.
func unknownFileKeys(v *viper.Viper, file string) []error {
	known := map[string]bool{}
	sections := map[string]bool{}
	for _, k := range keys {
		known[k.name] = true
		sections[strings.Split(k.name, ".")[0]] = true
	}
	var errs []error
	for _, k := range v.AllKeys() {
		switch {
		case k == "services" || strings.HasPrefix(k, "services."): // loadServices checks them
		case known[k]:
		case sections[k]:
			errs = append(errs, fmt.Errorf("%s (in %s): must be a section of keys, such as %s", k, filepath.Base(file), example(k)))
		default:
			errs = append(errs, fmt.Errorf("%s (in %s): unknown key%s", k, filepath.Base(file), suggest(k)))
		}
	}
	return errs
}

// Internal are the DEVRUN_ variables devrun sets itself and reads as no
// key: DEVRUN_INSTANCE marks the processes of one start of the app (see
// runner.InstanceEnv), so a devrun that the app runs inherits it.
var Internal = []string{"DEVRUN_INSTANCE"}

// unknownEnv reports DEVRUN_ variables that name no key; empty ones count as unset.
func unknownEnv() []error {
	known := map[string]bool{}
	for _, name := range Internal {
		known[name] = true
	}
	for _, k := range keys {
		known[envName(k.name)] = true
	}
	var errs []error
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && val != "" {
			errs = append(errs, fmt.Errorf("%s (in the environment): unknown variable%s", name, suggestEnv(name)))
		}
	}
	return errs
}

func example(section string) string {
	for _, k := range keys {
		if strings.HasPrefix(k.name, section+".") {
			return k.name
		}
	}
	return section + ".…"
}

// crossCheck validates what involves more than one key, or the project
// directory dir.
func (c *Config) crossCheck(dir string) []error {
	var errs []error
	if msg := outputDir(c.Build.Output, dir); msg != "" {
		errs = append(errs, fmt.Errorf("build.output (from %s): %s", c.sources["build.output"], msg))
	}
	if c.Proxy.Listen != "" && c.Proxy.App == "" && c.Run.Mode != "host" {
		errs = append(errs, fmt.Errorf("proxy.app (from %s): must name the address the app is published on, such as 127.0.0.1:8080, with run.mode %s (from %s): devrun chooses the app's port on the host only",
			c.sources["proxy.app"], c.Run.Mode, c.sources["run.mode"]))
	}
	if c.Proxy.Swap == "start-first" && c.Proxy.App != "" {
		errs = append(errs, fmt.Errorf("proxy.swap (from %s): start-first gives each version a port of its own in PORT, and proxy.app (from %s) fixes the app's address: remove proxy.app, or use stop-first",
			c.sources["proxy.swap"], c.sources["proxy.app"]))
	}
	if c.Run.Debug && c.Proxy.Swap == "start-first" {
		errs = append(errs, fmt.Errorf("proxy.swap (from %s): start-first runs two versions at once, and run.debug (from %s) has one Delve address for the editor: use stop-first (auto is stop-first under run.debug)",
			c.sources["proxy.swap"], c.sources["run.debug"]))
	}
	if c.Run.Debug && c.Run.Mode == "compose" {
		errs = append(errs, fmt.Errorf("run.debug (from %s): not in run.mode compose (from %s) yet: run the app under Delve with run.mode host or container",
			c.sources["run.debug"], c.sources["run.mode"]))
	}
	if c.Run.Debug && c.Run.Mode == "kubernetes" {
		errs = append(errs, fmt.Errorf("run.debug (from %s): not in run.mode kubernetes (from %s) yet: run the app under Delve with run.mode host or container",
			c.sources["run.debug"], c.sources["run.mode"]))
	}
	if c.Kube.Deployment != "" && c.Run.Mode != "kubernetes" {
		errs = append(errs, fmt.Errorf("kube.deployment (from %s): only in run.mode kubernetes, and run.mode is %s (from %s)", c.sources["kube.deployment"], c.Run.Mode, c.sources["run.mode"]))
	}
	if c.Kube.Container != "" && c.Kube.Deployment == "" {
		errs = append(errs, fmt.Errorf("kube.container (from %s): names a container of kube.deployment, which is not set", c.sources["kube.container"]))
	}
	if c.Run.Mode == "kubernetes" {
		for _, k := range []struct {
			key string
			set bool
		}{{"container.volumes", len(c.Container.Volumes) > 0}, {"container.network", c.Container.Network != ""}, {"container.user", c.Container.User != ""}} {
			if k.set {
				errs = append(errs, fmt.Errorf("%s (from %s): not in run.mode kubernetes (from %s): the dev pod has the image's user and the cluster's network; use run.mode container, or unset it",
					k.key, c.sources[k.key], c.sources["run.mode"]))
			}
		}
	}
	if c.Watch.MaxWait < c.Watch.Debounce {
		errs = append(errs, fmt.Errorf("watch.max_wait (from %s) is %s, shorter than watch.debounce (from %s), %s: it must be at least as long",
			c.sources["watch.max_wait"], c.Watch.MaxWait, c.sources["watch.debounce"], c.Watch.Debounce))
	}
	return errs
}

// outputDir checks that out, build.output, is a directory of its own: not
// the project directory dir nor one above it, which would put the builds,
// and the files devrun keeps beside them, among the sources. It returns ""
// when out is fine, or empty (nonEmpty has said so).
func outputDir(out, dir string) string {
	if strings.TrimSpace(out) == "" {
		return ""
	}
	if dir == "" {
		dir = "."
	}
	p := out
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	absOut, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(absOut, absDir)
	if err != nil { // another volume
		return ""
	}
	if realOut, err := filepath.EvalSymlinks(absOut); err == nil && leaves(rel) {
		if realDir, err := filepath.EvalSymlinks(absDir); err == nil {
			if r, err := filepath.Rel(realOut, realDir); err == nil && !leaves(r) { // a symbolic link to the project or above
				rel, absOut = r, realOut
			}
		}
	}
	const want = "it must be a directory of its own, such as .devrun/bin, inside the project or outside it"
	switch {
	case rel == ".":
		return fmt.Sprintf("%q is the project directory itself (%s); %s", out, absDir, want)
	case !leaves(rel):
		return fmt.Sprintf("%q is %s, above the project directory %s; %s", out, absOut, absDir, want)
	}
	return ""
}

// leaves reports whether rel, the project directory made relative to the
// output directory, leads out of it: the project is not at or below it.
func leaves(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Source says where the value of key came from: "default", the config
// file's name, "env DEVRUN_…" or "flag --…".
func (c *Config) Source(key string) string { return c.sources[key] }

// Print writes every key with its value and source, one per line.
func (c *Config) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.name, format(k.field(c)), c.sources[k.name])
	}
	// A service's keys where they are not the top level's.
	for _, sv := range c.Services {
		p := "services." + sv.Name + "."
		fmt.Fprintf(tw, "%sdepends_on\t%s\t%s\n", p, format(&sv.DependsOn), sv.dependsSource)
		for _, k := range keys {
			val, top := format(k.field(sv.Config)), format(k.field(c))
			if val != top || sv.Config.sources[k.name] != c.sources[k.name] {
				fmt.Fprintf(tw, "%s%s\t%s\t%s\n", p, k.name, val, sv.Config.sources[k.name])
			}
		}
	}
	return tw.Flush()
}

func format(p any) string {
	switch v := p.(type) {
	case *[]string:
		if len(*v) == 0 {
			return "[]"
		}
		q := make([]string, len(*v))
		for i, s := range *v {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case *string:
		return fmt.Sprintf("%q", *v)
	case *time.Duration:
		return v.String()
	case *bool:
		return fmt.Sprint(*v)
	case *[]Rule:
		return formatRules(*v)
	case *[]Step:
		return formatSteps(*v)
	}
	return fmt.Sprint(p)
}

// oneLine folds a multi-line message (the YAML parser's) into one line.
func oneLine(s string) string {
	fields := strings.Split(s, "\n")
	for i, f := range fields {
		fields[i] = strings.TrimSpace(f)
	}
	return strings.Join(fields, " ")
}
