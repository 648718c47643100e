package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// load writes yaml as devrun.yaml (unless empty) and loads it with args as flags.
func load(t *testing.T, yaml string, args ...string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(Options{Dir: dir, Flags: fs})
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Build.Package != "." || c.Run.StopSignal != "SIGTERM" || c.Run.StopTimeout != 5*time.Second ||
		c.Watch.Debounce != 10*time.Millisecond || !c.Watch.GitIgnore || c.Watch.Tests || !slices.Equal(c.Watch.Paths, []string{"."}) {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if got := c.Source("run.restart"); got != "default" {
		t.Errorf("Source = %q, want default", got)
	}
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	t.Setenv("DEVRUN_RUN_STOP_TIMEOUT", "3s")
	t.Setenv("DEVRUN_WATCH_DEBOUNCE", "40ms")
	c, err := load(t, "run:\n  stop_timeout: 2s\n  stop_signal: sigint\nwatch:\n  debounce: 30ms\n  max_wait: 1s\n", "--watch.debounce", "50ms")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key, src string
		ok       bool
	}{
		{"watch.debounce", "flag --watch.debounce", c.Watch.Debounce == 50*time.Millisecond},
		{"run.stop_timeout", "env DEVRUN_RUN_STOP_TIMEOUT", c.Run.StopTimeout == 3*time.Second},
		{"run.stop_signal", FileName, c.Run.StopSignal == "SIGINT"},
		{"watch.max_wait", FileName, c.Watch.MaxWait == time.Second},
		{"run.restart", "default", c.Run.Restart == "never"},
	}
	for _, ch := range checks {
		if got := c.Source(ch.key); got != ch.src || !ch.ok {
			t.Errorf("%s: source %q (want %q), value ok %v", ch.key, got, ch.src, ch.ok)
		}
	}
}

func TestListsFromYAMLEnvAndFlags(t *testing.T) {
	t.Setenv("DEVRUN_BUILD_COMMAND", `dev 'two words' "say \"hi\""`)
	c, err := load(t, "build:\n  flags: [-race, -v]\nrun:\n  env: [A=1, B=x y]\n", "--run.args", `--name "Ada Lovelace"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		got, want []string
	}{
		{c.Build.Command, []string{"dev", "two words", `say "hi"`}},
		{c.Build.Flags, []string{"-race", "-v"}},
		{c.Run.Env, []string{"A=1", "B=x y"}},
		{c.Run.Args, []string{"--name", "Ada Lovelace"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestBadValuesNameKeyAndSource(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        [2]string
		args       []string
		want       string
	}{
		{name: "bare number", yaml: "watch:\n  debounce: 100\n", want: "watch.debounce (from devrun.yaml): must be a duration with a unit"},
		{name: "bad duration env", env: [2]string{"DEVRUN_RUN_STOP_TIMEOUT", "soon"}, want: `run.stop_timeout (from env DEVRUN_RUN_STOP_TIMEOUT): must be a duration such as 250ms, 5s or 1m, not "soon"`},
		{name: "empty duration env", env: [2]string{"DEVRUN_RUN_STOP_TIMEOUT", ""}, want: `run.stop_timeout (from env DEVRUN_RUN_STOP_TIMEOUT): must be a duration`},
		{name: "out of range", args: []string{"--run.stop_timeout", "0s"}, want: "run.stop_timeout (from flag --run.stop_timeout): must be between 1ms and 1h0m0s, not 0s"},
		{name: "negative", yaml: "watch:\n  debounce: -5ms\n", want: "must be between 0s and 10s, not -5ms"},
		{name: "enum", yaml: "run:\n  restart: maybe\n", want: `run.restart (from devrun.yaml): must be one of never, on-failure, always, not "maybe"`},
		{name: "signal", yaml: "run:\n  stop_signal: SIGSTOP\n", want: `must be one of SIGTERM, SIGINT`},
		{name: "bool", yaml: "watch:\n  poll: sometimes\n", want: `watch.poll (from devrun.yaml): must be true or false, not "sometimes"`},
		{name: "string as number", yaml: "build:\n  ldflags: 5\n", want: "build.ldflags (from devrun.yaml): must be a string, not the number 5 (quote it)"},
		{name: "list item", yaml: "build:\n  tags: [a, 1]\n", want: "build.tags (from devrun.yaml): item 2 must be a string, not the number 1"},
		{name: "list as map", yaml: "run:\n  env:\n    A: b\n", want: "run.env (from devrun.yaml): must be a list of strings, not the mapping"},
		{name: "env entry", yaml: "build:\n  env: [GOOS]\n", want: `build.env (from devrun.yaml): entries must look like KEY=value, not "GOOS"`},
		{name: "empty package", yaml: "build:\n  package: \"\"\n", want: "build.package (from devrun.yaml): must not be empty"},
		{name: "empty paths", yaml: "watch:\n  paths: []\n", want: "watch.paths (from devrun.yaml): must name at least one entry"},
		{name: "unclosed quote", args: []string{"--build.flags", `-ldflags "-s`}, want: `build.flags (from flag --build.flags): has an unclosed " quote`},
		{name: "unknown key", yaml: "watch:\n  debounse: 1s\n", want: "watch.debounse (in devrun.yaml): unknown key (did you mean watch.debounce?)"},
		{name: "unknown far key", yaml: "colour: red\n", want: "colour (in devrun.yaml): unknown key; see 'devrun config'"},
		{name: "section as value", yaml: "watch: yes\n", want: "watch (in devrun.yaml): must be a section of keys, such as watch.paths"},
		{name: "unknown env", env: [2]string{"DEVRUN_RUN_STOP_TIMOUT", "1s"}, want: "DEVRUN_RUN_STOP_TIMOUT (in the environment): unknown variable (did you mean DEVRUN_RUN_STOP_TIMEOUT?)"},
		{name: "cross check", yaml: "watch:\n  debounce: 2s\n  max_wait: 1s\n", want: "watch.max_wait (from devrun.yaml) is 1s, shorter than watch.debounce (from devrun.yaml), 2s"},
		{name: "bad yaml", yaml: "build: [\n", want: "reading "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env[0] != "" {
				t.Setenv(tc.env[0], tc.env[1])
			}
			_, err := load(t, tc.yaml, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	_, err := load(t, "run:\n  restart: x\n  stop_signal: y\nwatch:\n  poll: z\n")
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("got %v, want three problems, one per line", err)
	}
}

func TestMissingExplicitFile(t *testing.T) {
	_, err := Load(Options{Dir: t.TempDir(), File: "nope.yaml"})
	if err == nil || !strings.Contains(err.Error(), "config file: ") {
		t.Errorf("got %v", err)
	}
}

func TestMainPackageDetection(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	write("lib.go", "package lib\n")
	write("cmd/api/main.go", "package main\n")
	write("cmd/tool/x_test.go", "package main\n")
	if got := mainPackage(dir); got != "./cmd/api" {
		t.Errorf("mainPackage = %q, want ./cmd/api", got)
	}
	write("cmd/tool/main.go", "package main\n")
	if got := mainPackage(dir); got != "." {
		t.Errorf("with two candidates mainPackage = %q, want .", got)
	}
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"", "a b", `"a b" 'c d'`, `a\ b`, `"unclosed`, `'x"y'`, "tab\tsep\nline"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitWords(s)
		if err != nil {
			if !strings.Contains(err.Error(), "unclosed") {
				t.Errorf("unexpected error %v", err)
			}
			return
		}
		for _, w := range words {
			if !strings.ContainsAny(s, "'\"\\") && strings.ContainsAny(w, " \t\n") {
				t.Errorf("word %q holds a separator though %q has no quotes", w, s)
			}
		}
	})
}

// FuzzLoad feeds arbitrary devrun.yaml files to Load: it never panics, and
// every rejection names the file or a key.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"", "build:\n  ldflags: -s -w\n", "watch:\n  debounce: 5\n", "run: [1, 2]\n", "x: y\n",
		"watch:\n  paths: [a, b]\n  poll: true\n", "build: {tags: {a: b}}\n", "\t:", "run:\n  stop_timeout: 1h1h\n",
		"container:\n  ports: ['[::1]', '[::1', '[::1]:', '[::1]:80', ':80', '80:', '1.2.3.4:80:80/sctp', '80/tcp/udp', '0', '99999', 'a:b:c:d']\n",
		"container:\n  ports: '[::1]:8080:80 8080'\n  volumes: ['C:\\x:/y', './a:/b', '/a:/b:ro,rw', '/a:/devrun']\n",
		"image:\n  platform: Linux/AMD64\n", "image:\n  platform: linux/\n", "image:\n  platform: [linux, amd64]\n",
		"container:\n  user: 'a b'\n  network: 'my net'\n  env: ['=x', ' A=1']\n", "build:\n  output: .\n", "build:\n  output: ..\n",
		"run:\n  args: [\"\\0\"]\n", "watch:\n  include: ['[']\n",
		"services:\n  api: {run: {stop_timeout: 2s}, depends_on: [w]}\n  w: {build: {output: ..}}\n", "services:\n  a: 1\n  b: {watch: {debounce: 1s}, c: {d: e}}\n",
		"services: [a]\n", "services:\n  a: {depends_on: a}\n", "services:\n  A B: {run: {mode: x}}\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	file := filepath.Join(dir, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, yaml string) {
		if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Options{Dir: dir, File: file})
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.Contains(line, "fuzz.yaml") && !strings.Contains(line, " (from ") {
				t.Errorf("an error line names neither the file nor a key: %q", line)
			}
		}
	})
}

// The variables devrun sets for the processes it starts are no mistake of
// the user's: a devrun the app runs inherits DEVRUN_INSTANCE.
func TestInternalVariablesAreNotUnknown(t *testing.T) {
	t.Setenv("DEVRUN_INSTANCE", "123.4.abcd")
	if _, err := Load(Options{Dir: t.TempDir()}); err != nil {
		t.Errorf("Load with DEVRUN_INSTANCE set: %v", err)
	}
}

// A list flag given again adds to the list, as docker run -e does; the
// first replaces the default. proxy.swap and proxy.ready take what users
// type, and say what is wrong with the rest.
func TestListFlagsAddUp(t *testing.T) {
	c, err := load(t, "", "--run.env", "A=1", "--run.env", `B="2 3"`, "--watch.paths", "cmd", "--watch.paths", "internal")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Run.Env, "|"); got != "A=1|B=2 3" {
		t.Errorf("run.env %q", got)
	}
	if got := strings.Join(c.Watch.Paths, "|"); got != "cmd|internal" {
		t.Errorf("watch.paths %q", got)
	}
	for _, bad := range [][]string{
		{"--proxy.swap", "overlap"},
		{"--proxy.ready", "healthz"},
		{"--proxy.listen", "3000", "--proxy.app", "8080", "--proxy.swap", "start-first"},
	} {
		if _, err := load(t, "", bad...); err == nil || !strings.Contains(err.Error(), bad[len(bad)-2][2:]) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The debugging keys take what users type: --debug alone, before another
// flag too; an address with a fixed port; and refuse what cannot work,
// naming the key and where its value came from.
func TestDebugKeys(t *testing.T) {
	c, err := load(t, "", "--debug", "--run.env", "A=1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Run.Debug || c.Run.DebugListen != "127.0.0.1:2345" || c.Run.DebugWait || len(c.Run.Env) != 1 {
		t.Errorf("--debug: %+v", c.Run)
	}
	if c, err := load(t, "run:\n  debug: true\n  debug_listen: 4000\n  debug_wait: true\n"); err != nil || Addr(c.Run.DebugListen) != "127.0.0.1:4000" || !c.Run.DebugWait {
		t.Errorf("debug_listen 4000: %v %+v", err, c)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--run.debug_listen", "0"}, "run.debug_listen (from flag --run.debug_listen): must have a fixed port"},
		{[]string{"--run.debug_listen", "127.0.0.1:0"}, "fixed port"},
		{[]string{"--run.debug_listen", "localhost"}, "must be HOST:PORT or a port"},
		{[]string{"--run.debug_listen", ""}, "run.debug_listen"},
		{[]string{"--debug=maybe"}, "run.debug (from flag --debug): must be true or false"},
		{[]string{"--debug", "--proxy.listen", "3000", "--proxy.swap", "start-first"}, "proxy.swap (from flag --proxy.swap): start-first"},
		{[]string{"--debug", "--mode", "compose"}, "run.debug (from flag --debug): not in run.mode compose"},
	} {
		if _, err := load(t, "", bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.args, err, bad.want)
		}
	}
}
