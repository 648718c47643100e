package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devrun/devrun/config"
	"github.com/devrun/devrun/runner"
)

// The variable the runner marks the app's processes with is one the config
// knows as devrun's own, so a devrun started by the app does not reject it.
func TestInstanceVariableIsKnownToConfig(t *testing.T) {
	if !slices.Contains(config.Internal, runner.InstanceEnv) {
		t.Errorf("config.Internal %v lacks runner.InstanceEnv %s", config.Internal, runner.InstanceEnv)
	}
}

// Ctrl-C stops the services nothing depends on first, together, then
// those they depended on; the stop budget is the longest stop timeout of
// each level, added up.
func TestStopLevels(t *testing.T) {
	svc := func(name string, stop time.Duration, deps ...string) config.Service {
		return config.Service{Name: name, DependsOn: deps, Config: &config.Config{Run: config.RunConfig{StopTimeout: stop}}}
	}
	services := []config.Service{svc("db", time.Second), svc("api", 3*time.Second, "db"), svc("web", 2*time.Second, "api"), svc("cron", 5*time.Second)}
	var units []*unit
	for _, s := range services {
		units = append(units, &unit{svc: s})
	}
	var got []string
	for _, level := range stopLevels(units) {
		var names []string
		for _, u := range level {
			names = append(names, u.svc.Name)
		}
		got = append(got, strings.Join(names, "+"))
	}
	if want := "web+cron api db"; strings.Join(got, " ") != want {
		t.Errorf("stop levels %q, want %q", strings.Join(got, " "), want)
	}
	if got, want := stopTotal(services), 5*time.Second+3*time.Second+time.Second; got != want {
		t.Errorf("stopTotal = %s, want %s", got, want)
	}
}
