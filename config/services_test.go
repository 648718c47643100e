package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// A service holds the top level's configuration with its own sections over
// it; its package defaults to cmd/<name> where that is a main package, its
// builds go to a directory of its own, and flags apply to every service.
func TestServicesInheritAndOverride(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"api", "worker"} {
		os.MkdirAll(filepath.Join(dir, "cmd", name), 0o755)
		os.WriteFile(filepath.Join(dir, "cmd", name, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, FileName), []byte(`
run:
  stop_timeout: 2s
  env: [A=1]
services:
  api:
    run: {env: [PORT=8080]}
  worker:
    build: {package: ./cmd/worker, output: out/w}
    run: {stop_timeout: 3s, restart: always}
    depends_on: [api]
`), 0o644)
	c := loadIn(t, dir, "--run.stop_signal", "SIGINT")
	if len(c.Services) != 2 {
		t.Fatalf("%d services, want 2", len(c.Services))
	}
	api, worker := c.Services[0].Config, c.Services[1].Config
	checks := []struct {
		what string
		ok   bool
	}{
		{"api's package from cmd/api", api.Build.Package == "./cmd/api"},
		{"api's output of its own", api.Build.Output == filepath.Join(".devrun/bin", "api")},
		{"api's env its own", strings.Join(api.Run.Env, " ") == "PORT=8080"},
		{"api's stop timeout the top level's", api.Run.StopTimeout == 2*time.Second},
		{"the flag over every service", api.Run.StopSignal == "SIGINT" && worker.Run.StopSignal == "SIGINT"},
		{"worker's own stop timeout", worker.Run.StopTimeout == 3*time.Second},
		{"worker's own output", worker.Build.Output == "out/w"},
		{"worker's env the top level's", strings.Join(worker.Run.Env, " ") == "A=1"},
		{"worker depends on api", strings.Join(c.Services[1].DependsOn, " ") == "api"},
		{"the source names the service", worker.Source("run.stop_timeout") == "devrun.yaml (services.worker)"},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: api %+v, worker %+v", ch.what, api, worker)
		}
	}
}

// Every mistake inside a service is named by its full path and the file.
func TestServiceErrorsNameTheFullKey(t *testing.T) {
	_, err := load(t, `
services:
  api:
    bild: {package: ./cmd/api}
    run: {stop_timeout: 3x}
    watch: {debounce: 1s}
    depends_on: [nope]
  Bad Name: {}
  worker: [x]
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"services.api.bild.package (in devrun.yaml): unknown key (did you mean services.api.build.package?)",
		`services.api.run.stop_timeout (in devrun.yaml): must be a duration such as 250ms, 5s or 1m, not "3x"`,
		"services.api.watch.debounce (in devrun.yaml): set at the top level only",
		`services.api.depends_on (in devrun.yaml): no service "nope"`,
		`services.bad name (in devrun.yaml): a service name is lower-case letters, digits, _ and -, not "bad name"`,
		"services.worker (in devrun.yaml): must be a section",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	_, err = load(t, "services:\n  a: {depends_on: [b]}\n  b: {depends_on: [c]}\n  c: {depends_on: [a]}\n")
	if err == nil || !strings.Contains(err.Error(), "depends_on goes round in a circle: a → b → c → a") {
		t.Errorf("a cycle: %v", err)
	}
	_, err = load(t, "services: [api, worker]\n")
	if err == nil || !strings.Contains(err.Error(), "services (in devrun.yaml): must be a map of service names") {
		t.Errorf("a list of services: %v", err)
	}
}

// Services start after those they depend on; naming some selects them
// and what they depend on.
func TestStartOrderAndSelect(t *testing.T) {
	c, err := load(t, "services:\n  web: {depends_on: [api]}\n  api: {depends_on: [db]}\n  db: {}\n  cron: {}\n")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ss []Service) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, " ")
	}
	if got := names(StartOrder(c.Services)); got != "cron db api web" {
		t.Errorf("StartOrder = %s", got)
	}
	if got, err := Select(c.Services, []string{"web"}); err != nil || names(got) != "db api web" {
		t.Errorf("Select(web) = %s, %v", names(got), err)
	}
	if _, err := Select(c.Services, []string{"wbe"}); err == nil || !strings.Contains(err.Error(), "no service wbe in devrun.yaml; the services are api, cron, db, web") {
		t.Errorf("Select(wbe): %v", err)
	}
}

// loadIn loads the configuration of dir with args as flags.
func loadIn(t *testing.T, dir string, args ...string) *Config {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{Dir: dir, Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// In the compose sidecar, --service api,worker makes a service of each,
// each with a directory of its own in the shared volume; services of a
// services map drive the compose service of their name; two that would
// share one are refused.
func TestComposeServices(t *testing.T) {
	c, err := load(t, "", "--mode", "compose", "--service", "api,worker")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 2 {
		t.Fatalf("%d services, want 2", len(c.Services))
	}
	for i, name := range []string{"api", "worker"} {
		sc := c.Services[i].Config
		if c.Services[i].Name != name || sc.Compose.Service != name || sc.Compose.MountDir != "/devrun/"+name || sc.Build.Output != filepath.Join(".devrun/bin", name) {
			t.Errorf("service %d: %s, compose %+v, output %s", i, c.Services[i].Name, sc.Compose, sc.Build.Output)
		}
	}
	c, err = load(t, "run:\n  mode: compose\nservices:\n  api: {}\n  worker: {compose: {mount_dir: /w}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if a, w := c.Services[0].Config.Compose, c.Services[1].Config.Compose; a.Service != "api" || a.MountDir != "/devrun/api" || w.Service != "worker" || w.MountDir != "/w" {
		t.Errorf("api %+v, worker %+v", a, w)
	}
	_, err = load(t, "run:\n  mode: compose\nservices:\n  api: {compose: {service: app}}\n  worker: {compose: {service: app}}\n")
	if err == nil || !strings.Contains(err.Error(), `services.worker.compose.service (from devrun.yaml (services.worker)): "app" is services.api's too; each service needs its own`) {
		t.Errorf("two services on one compose service: %v", err)
	}
	if _, err = load(t, "", "--service", "api,Bad Name"); err == nil || !strings.Contains(err.Error(), "compose.service (from flag --service)") {
		t.Errorf("a bad name in --service: %v", err)
	}
}

// Two services in dev containers cannot publish one host port, nor can
// --service name one service twice.
func TestServicesShareNoPortOrService(t *testing.T) {
	_, err := load(t, "run:\n  mode: container\ncontainer:\n  ports: [\"8080:8080\"]\nservices:\n  api: {}\n  worker: {}\n")
	if err == nil || !strings.Contains(err.Error(), `services.worker.container.ports (from devrun.yaml): "8080:8080" publishes host port 8080, as services.api does`) {
		t.Errorf("one host port for two containers: %v", err)
	}
	if _, err := load(t, "run:\n  mode: container\nservices:\n  api: {container: {ports: [\"8080:8080\"]}}\n  worker: {container: {ports: [\"8081:8080\"]}}\n"); err != nil {
		t.Errorf("ports of their own: %v", err)
	}
	if _, err := load(t, "", "--mode", "compose", "--service", "api,api"); err == nil || !strings.Contains(err.Error(), `compose.service (from flag --service): "api" is named twice`) {
		t.Errorf("--service api,api: %v", err)
	}
}

// build.parallel is a number as YAML writes it, or a string; 0 is one
// build for each CPU; others are refused, naming the key.
func TestBuildParallel(t *testing.T) {
	for _, ok := range []string{"build: {parallel: 2}\n", "build: {parallel: \"3\"}\n", "build: {parallel: 0}\n"} {
		if _, err := load(t, ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"build: {parallel: -1}\n", "build: {parallel: 65}\n", "build: {parallel: x}\n"} {
		if _, err := load(t, bad); err == nil || !strings.Contains(err.Error(), "build.parallel (from devrun.yaml): must be a number from 1 to 64, or 0") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
