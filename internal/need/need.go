// Package need lets a test say what it needs from the machine. Without
// it, the test is skipped, saying why: a contributor's laptop may have no
// Docker engine, or no root. Where the environment says it is required
// (TESTS_REQUIRE, a comma-separated list such as docker,root, as CI sets
// it), the test fails instead: CI must not pass by skipping what it is
// there to run.
package need

import (
	"os"
	"strings"
	"testing"
)

// Env is the variable that lists what the tests require.
const Env = "TESTS_REQUIRE"

// Skip skips t, saying why, or fails it when Env names what.
func Skip(t testing.TB, what, why string) {
	t.Helper()
	for _, r := range strings.Split(os.Getenv(Env), ",") {
		if strings.TrimSpace(r) == what {
			t.Fatalf("%s (%s=%s says it must run)", why, Env, os.Getenv(Env))
		}
	}
	t.Skip(why)
}
