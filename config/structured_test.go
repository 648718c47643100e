package config

import (
	"strings"
	"testing"
)

// Rules and steps from devrun.yaml, and rules from a flag; devrun config
// shows them.
func TestRulesAndSteps(t *testing.T) {
	c, err := load(t, `
watch:
  rules:
    - paths: ["templates/**", "config/*.yaml"]
      action: restart
    - path: docs/**
      action: ignore
build:
  steps:
    - run: [templ, generate]
      on: ["**/*.templ"]
    - name: web
      run: npm run build
      on: [web/src/**]
run:
  env_file: .env
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Watch.Rules) != 2 || c.Watch.Rules[0].Action != "restart" || strings.Join(c.Watch.Rules[0].Paths, " ") != "templates/** config/*.yaml" || c.Watch.Rules[1].Paths[0] != "docs/**" {
		t.Errorf("rules %+v", c.Watch.Rules)
	}
	if len(c.Build.Steps) != 2 || c.Build.Steps[0].Name != "templ" || strings.Join(c.Build.Steps[1].Run, " ") != "npm run build" || c.Build.Steps[1].Name != "web" {
		t.Errorf("steps %+v", c.Build.Steps)
	}
	if c.Run.EnvFile != ".env" || !c.Watch.Graph {
		t.Errorf("env_file %q, graph %v", c.Run.EnvFile, c.Watch.Graph)
	}
	var out strings.Builder
	c.Print(&out)
	for _, want := range []string{`watch.rules          [templates/**, config/*.yaml: restart; docs/**: ignore]`, `build.steps          [templ: ["templ" "generate"] on **/*.templ; web: ["npm" "run" "build"] on web/src/**]`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("devrun config lacks %q:\n%s", want, out.String())
		}
	}
	c, err = load(t, "", "--watch.rules", "templates/**=restart 'my docs/**=ignore'")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Watch.Rules) != 2 || c.Watch.Rules[1].Paths[0] != "my docs/**" || c.Watch.Rules[1].Action != "ignore" {
		t.Errorf("rules from a flag %+v", c.Watch.Rules)
	}
}

func TestBadRulesAndSteps(t *testing.T) {
	for _, tc := range []struct{ yaml, flag, want string }{
		{yaml: "watch:\n  rules:\n    - paths: [a]\n      action: sync\n", want: `watch.rules (from devrun.yaml): item 1: action must be one of restart, ignore, rebuild, reload, not "sync"`},
		{yaml: "watch:\n  rules:\n    - action: ignore\n", want: `watch.rules (from devrun.yaml): item 1: paths must name at least one glob`},
		{yaml: "watch:\n  rules:\n    - paths: [a]\n      action: ignore\n      when: now\n", want: `item 1: when: unknown field "when" (a rule has paths and action)`},
		{yaml: "watch:\n  rules: [templates]\n", want: `item 1 must be a mapping`},
		{yaml: "watch:\n  rules:\n    - paths: [\"a/[b\"]\n      action: ignore\n", want: `item 1: paths:`},
		{flag: "templates", want: `watch.rules (from flag --watch.rules): "templates" is not GLOB=ACTION`},
		{flag: "a=sync", want: `action must be one of restart, ignore, rebuild, reload, not "sync"`},
		{yaml: "build:\n  steps:\n    - on: [\"**/*.templ\"]\n", want: `build.steps (from devrun.yaml): item 1: run must name a command`},
		{yaml: "build:\n  steps:\n    - run: [templ, generate]\n", want: `item 1: on must name at least one glob`},
		{yaml: "build:\n  steps:\n    - run: [x]\n      on: [y]\n      shell: true\n", want: `unknown field "shell" (a step has name, run and on)`},
	} {
		var args []string
		if tc.flag != "" {
			args = []string{"--watch.rules", tc.flag}
		}
		_, err := load(t, tc.yaml, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q: %v; want %q", tc.yaml, tc.flag, err, tc.want)
		}
	}
	_, err := load(t, "", "--build.steps", "templ generate")
	if err == nil || !strings.Contains(err.Error(), "build.steps (from flag --build.steps): can only be set in devrun.yaml") {
		t.Errorf("steps from a flag: %v", err)
	}
}
