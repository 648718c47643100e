//go:build unix

package runner

import "syscall"

const (
	sigUSR1 = syscall.SIGUSR1
	sigUSR2 = syscall.SIGUSR2
)
