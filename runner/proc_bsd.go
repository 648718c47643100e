//go:build unix && !linux

package runner

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}

// groupAlive reports whether a process of the group pgid still exists.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }
