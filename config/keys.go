package config

import (
	"time"
)

// kind is the type of a key's value.
type kind int

const (
	kString kind = iota
	kList
	kDuration
	kBool
	kEnum
	kPort  // a number (a port, a count), given as a number or a string; stored as a string
	kRules // watch.rules: a list of {paths, action}
	kSteps // build.steps: a list of {name, run, on}, in devrun.yaml only
)

// key describes one configuration key: its type, default, allowed values and
// where its value lives in a Config.
type key struct {
	name    string
	kind    kind
	def     any
	allowed []string          // for kEnum
	norm    func(any) any     // normalises a parsed value before check, if set
	check   func(any) string  // further validation; "" when valid
	help    string            // the flag's usage
	field   func(*Config) any // a pointer to the key's field
	alias   string            // a shorter flag for the key, if any
}

// StopSignals are the names accepted for run.stop_signal.
var StopSignals = []string{"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2"}

// keys lists every configuration key, in the order `devrun config` prints them.
var keys = []key{
	{name: "build.package", kind: kString, def: ".", check: both(nonEmpty, packagePath), help: "the main package to build", field: func(c *Config) any { return &c.Build.Package }},
	{name: "build.command", kind: kList, def: []string{}, check: commandLine, help: "a build command replacing go build; {out} is the output path", field: func(c *Config) any { return &c.Build.Command }},
	{name: "build.output", kind: kString, def: ".devrun/bin", check: nonEmpty, help: "the directory binaries are built into", field: func(c *Config) any { return &c.Build.Output }},
	{name: "build.steps", kind: kSteps, def: []Step{}, help: "generators run before the build when their files change, and at start: a list of {name, run, on} in devrun.yaml", field: func(c *Config) any { return &c.Build.Steps }},
	{name: "build.flags", kind: kList, def: []string{}, help: "further go build flags", field: func(c *Config) any { return &c.Build.Flags }},
	{name: "build.ldflags", kind: kString, def: "", help: "go build -ldflags", field: func(c *Config) any { return &c.Build.LDFlags }},
	{name: "build.tags", kind: kList, def: []string{}, help: "go build -tags", field: func(c *Config) any { return &c.Build.Tags }},
	{name: "build.fast", kind: kBool, def: true, help: "build for the loop: no DWARF (-ldflags=-w) and no VCS stamp (-buildvcs=false), each unless set in build.flags, build.ldflags or GOFLAGS (false: go build's defaults)", field: func(c *Config) any { return &c.Build.Fast }},
	{name: "build.parallel", kind: kPort, def: "0", check: parallelBuilds, help: "how many services build at once (0: one for each CPU)", field: func(c *Config) any { return &c.Build.Parallel }},
	{name: "build.env", kind: kList, def: []string{}, check: envList, help: "KEY=value entries for the build", field: func(c *Config) any { return &c.Build.Env }},

	{name: "run.mode", kind: kEnum, def: "host", allowed: []string{"host", "container", "compose", "kubernetes"}, alias: "mode", help: "where the app runs: host, container, compose (devrun as a compose sidecar), or kubernetes (a dev pod of container.image in the kubeconfig's cluster)", field: func(c *Config) any { return &c.Run.Mode }},
	{name: "run.args", kind: kList, def: []string{}, help: "arguments for the app (or after --)", field: func(c *Config) any { return &c.Run.Args }},
	{name: "run.env", kind: kList, def: []string{}, check: envList, help: "KEY=value entries for the app", field: func(c *Config) any { return &c.Run.Env }},
	{name: "run.stop_signal", kind: kEnum, def: "SIGTERM", allowed: StopSignals, help: "the signal that asks the app to stop", field: func(c *Config) any { return &c.Run.StopSignal }},
	{name: "run.stop_timeout", kind: kDuration, def: 5 * time.Second, check: between(time.Millisecond, time.Hour), help: "how long a stop waits before it kills", field: func(c *Config) any { return &c.Run.StopTimeout }},
	{name: "run.env_file", kind: kString, def: "", help: "a .env file (KEY=value lines, as compose reads them) for the app; a change restarts it", field: func(c *Config) any { return &c.Run.EnvFile }},
	{name: "run.ready", kind: kString, def: "", check: readyOrEmpty, help: "when a started app counts as ready, for the services that depend on it: tcp:PORT, tcp:HOST:PORT or an http:// URL (default: once started)", field: func(c *Config) any { return &c.Run.Ready }},
	{name: "run.ready_timeout", kind: kDuration, def: 30 * time.Second, check: between(time.Millisecond, time.Hour), help: "how long run.ready is waited for before what depends on the app starts anyway", field: func(c *Config) any { return &c.Run.ReadyTimeout }},
	{name: "run.restart", kind: kEnum, def: "never", allowed: []string{"never", "on-failure", "always"}, help: "what to do when the app exits by itself", field: func(c *Config) any { return &c.Run.Restart }},

	{name: "run.debug", kind: kBool, def: false, alias: "debug", help: "run the app under Delve, built for debugging (-gcflags=all=-N -l, with DWARF), a new Delve on run.debug_listen for every version", field: func(c *Config) any { return &c.Run.Debug }},
	{name: "run.debug_listen", kind: kPort, def: "127.0.0.1:2345", check: both(nonEmpty, fixedAddr), help: "where Delve listens for the editor (its JSON-RPC API and DAP): HOST:PORT, or a port on 127.0.0.1", field: func(c *Config) any { return &c.Run.DebugListen }},
	{name: "run.debug_dlv", kind: kString, def: "", help: "the dlv binary (default: dlv on PATH)", field: func(c *Config) any { return &c.Run.DebugDlv }},
	{name: "run.debug_wait", kind: kBool, def: false, help: "with run.debug: hold each version before its first instruction until the editor attaches and continues it (to debug start-up code)", field: func(c *Config) any { return &c.Run.DebugWait }},

	{name: "watch.paths", kind: kList, def: []string{"."}, check: both(nonEmptyList, nonEmptyEntries), help: "directories to watch", field: func(c *Config) any { return &c.Watch.Paths }},
	{name: "watch.graph", kind: kBool, def: true, help: "rebuild only for what the build reads, as the go command knows it (false: for any change not ignored)", field: func(c *Config) any { return &c.Watch.Graph }},
	{name: "watch.rules", kind: kRules, def: []Rule{}, help: "what changes to files the build does not read do: GLOB=restart|ignore|rebuild|reload words (reload: a file the app serves from disk; pages through the proxy reload, or restyle for a stylesheet), or a list of {paths, action} in devrun.yaml", field: func(c *Config) any { return &c.Watch.Rules }},
	{name: "watch.include", kind: kList, def: []string{}, check: globList, help: "only files matching these globs trigger a build", field: func(c *Config) any { return &c.Watch.Include }},
	{name: "watch.exclude", kind: kList, def: []string{}, check: globList, help: "globs of files and directories to ignore", field: func(c *Config) any { return &c.Watch.Exclude }},
	{name: "watch.debounce", kind: kDuration, def: 10 * time.Millisecond, check: between(0, 10*time.Second), help: "how long the tree must be quiet before a build", field: func(c *Config) any { return &c.Watch.Debounce }},
	{name: "watch.max_wait", kind: kDuration, def: 500 * time.Millisecond, check: between(time.Millisecond, time.Minute), help: "the longest a build waits for the tree to go quiet", field: func(c *Config) any { return &c.Watch.MaxWait }},
	{name: "watch.poll", kind: kBool, def: false, help: "scan the tree instead of using file events", field: func(c *Config) any { return &c.Watch.Poll }},
	{name: "watch.poll_interval", kind: kDuration, def: 500 * time.Millisecond, check: between(10*time.Millisecond, time.Hour), help: "the time between two scans when polling", field: func(c *Config) any { return &c.Watch.PollInterval }},
	{name: "watch.gitignore", kind: kBool, def: true, help: "ignore what .gitignore files ignore", field: func(c *Config) any { return &c.Watch.GitIgnore }},
	{name: "watch.tests", kind: kBool, def: false, help: "rebuild on changes to _test.go files", field: func(c *Config) any { return &c.Watch.Tests }},

	{name: "proxy.listen", kind: kString, def: "", check: addrOrEmpty, help: "where devrun's proxy in front of the app listens, such as 127.0.0.1:3000 (a bare port is on 127.0.0.1); requests wait during a swap instead of failing", field: func(c *Config) any { return &c.Proxy.Listen }},
	{name: "proxy.app", kind: kString, def: "", check: addrOrEmpty, help: "the address the proxy forwards to (default: a free port on 127.0.0.1 that devrun gives the app in PORT)", field: func(c *Config) any { return &c.Proxy.App }},
	{name: "proxy.ready", kind: kString, def: "", check: pathOrEmpty, help: "a path of the app that answers 2xx or 3xx once a new version is ready, such as /healthz (default: once it accepts a connection)", field: func(c *Config) any { return &c.Proxy.Ready }},
	{name: "proxy.swap", kind: kEnum, def: "auto", allowed: []string{"auto", "start-first", "stop-first"}, help: "start-first: start each new version on a port of its own while the old one serves, switch once it answers, then stop the old one (no downtime; the app must listen on $PORT and be able to run twice); stop-first: stop the old one, then start the new one; auto: start-first where devrun chooses the app's port", field: func(c *Config) any { return &c.Proxy.Swap }},
	{name: "proxy.h2c", kind: kBool, def: false, help: "speak HTTP/2 without TLS (h2c) to the app, for an app that speaks only that, such as a gRPC server (default: HTTP/1.1)", field: func(c *Config) any { return &c.Proxy.H2C }},
	{name: "proxy.reload", kind: kBool, def: true, help: "put devrun's reload script into HTML pages: they reload once a new version answers, show a failed build's errors, and restyle when a stylesheet changes", field: func(c *Config) any { return &c.Proxy.Reload }},
	{name: "proxy.wait", kind: kDuration, def: 30 * time.Second, check: between(time.Millisecond, time.Hour), help: "how long a request through the proxy waits for the app", field: func(c *Config) any { return &c.Proxy.Wait }},

	{name: "compose.service", kind: kString, def: "app", check: serviceName, alias: "service", help: "the compose service the sidecar swaps the app in (run.mode compose)", field: func(c *Config) any { return &c.Compose.Service }},
	{name: "compose.mount_dir", kind: kString, def: "/devrun", check: nonEmpty, help: "where the sidecar sees the volume mounted at /devrun in the app's container", field: func(c *Config) any { return &c.Compose.MountDir }},

	{name: "kube.context", kind: kString, def: "", help: "the kubeconfig context run.mode kubernetes uses (default: the current context)", field: func(c *Config) any { return &c.Kube.Context }},
	{name: "kube.namespace", kind: kString, def: "", check: dnsLabelOrEmpty, help: "the namespace of the dev pod (default: the context's, or default)", field: func(c *Config) any { return &c.Kube.Namespace }},
	{name: "kube.deployment", kind: kString, def: "", check: dnsSubdomainOrEmpty, help: "an existing Deployment to run the app in, patched while devrun runs and put back at exit, in place of a dev pod of container.image", field: func(c *Config) any { return &c.Kube.Deployment }},
	{name: "kube.container", kind: kString, def: "", check: dnsLabelOrEmpty, help: "the container of kube.deployment that runs the app (default: its first)", field: func(c *Config) any { return &c.Kube.Container }},

	{name: "image.dockerfile", kind: kString, def: "Dockerfile", check: nonEmpty, help: "the Dockerfile devrun build uses", field: func(c *Config) any { return &c.Image.Dockerfile }},
	{name: "image.tags", kind: kList, def: []string{}, check: imageRefs(false), help: "the image's tags (default: NAME:<git short sha>[-dirty] and NAME:latest)", field: func(c *Config) any { return &c.Image.Tags }},
	{name: "image.args", kind: kList, def: []string{}, check: envList, help: "build arguments, KEY=value", field: func(c *Config) any { return &c.Image.Args }},
	{name: "image.target", kind: kString, def: "", check: stageOrEmpty, help: "the stage to build (default: the last)", field: func(c *Config) any { return &c.Image.Target }},
	{name: "image.platform", kind: kString, def: "", norm: lower, check: platformOrEmpty, help: "the platform to build for, os/arch[/variant] (default: the engine's)", field: func(c *Config) any { return &c.Image.Platform }},
	{name: "image.builder", kind: kEnum, def: "auto", allowed: []string{"auto", "buildkit", "classic"}, help: "the engine's builder: BuildKit (cache mounts) or classic", field: func(c *Config) any { return &c.Image.Builder }},
	{name: "image.port", kind: kPort, def: "", check: portOrEmpty, help: "the port the app listens on: EXPOSE in devrun init, checked by devrun build --smoke", field: func(c *Config) any { return &c.Image.Port }},

	{name: "container.image", kind: kString, def: "alpine:3.20", check: both(nonEmpty, imageRefs(true)), help: "the image the dev container runs (never pulled)", field: func(c *Config) any { return &c.Container.Image }},
	{name: "container.ports", kind: kList, def: []string{}, check: portList, help: "published ports: PORT, HOST:CONTAINER, IP:HOST:CONTAINER or [IPv6]:HOST:CONTAINER, optionally /tcp or /udp (127.0.0.1 unless an IP is given)", field: func(c *Config) any { return &c.Container.Ports }},
	{name: "container.env", kind: kList, def: []string{}, check: envList, help: "KEY=value entries for the app in the container", field: func(c *Config) any { return &c.Container.Env }},
	{name: "container.volumes", kind: kList, def: []string{}, check: volumeList, help: "further bind mounts, SRC:DST[:ro]", field: func(c *Config) any { return &c.Container.Volumes }},
	{name: "container.network", kind: kString, def: "", check: networkOrEmpty, help: "the network the dev container joins", field: func(c *Config) any { return &c.Container.Network }},
	{name: "container.user", kind: kString, def: "", check: userOrEmpty, help: "the user the app runs as (default: your UID:GID)", field: func(c *Config) any { return &c.Container.User }},
	{name: "container.sync", kind: kEnum, def: "auto", allowed: []string{"auto", "bind", "copy"}, help: "how binaries reach the container: a bind mount, or a copy through the API (auto: copy for remote engines)", field: func(c *Config) any { return &c.Container.Sync }},
}
