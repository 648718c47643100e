package runner

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
)

// StopSignals are the names accepted by ParseSignal.
var StopSignals = []string{"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2"}

// ParseSignal returns the signal named name ("SIGTERM" or "TERM", any case).
// On Windows every signal stops the process tree at once.
func ParseSignal(name string) (os.Signal, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if !slices.Contains(StopSignals, n) {
		return nil, fmt.Errorf("unknown signal %q (use one of %s)", name, strings.Join(StopSignals, ", "))
	}
	return signals[n], nil
}

var signals = map[string]os.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT,
	"SIGHUP": syscall.SIGHUP, "SIGKILL": syscall.SIGKILL,
	"SIGUSR1": sigUSR1, "SIGUSR2": sigUSR2,
}
