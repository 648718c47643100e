package main

import (
	"slices"
	"testing"

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
