package runner

import "syscall"

// Windows has no user signals; the names are accepted so that one devrun.yaml
// serves every platform.
const (
	sigUSR1 = syscall.SIGTERM
	sigUSR2 = syscall.SIGTERM
)
