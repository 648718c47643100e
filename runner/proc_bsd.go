//go:build unix && !linux

package runner

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}

// groupAlive reports whether a process of the group pgid still exists.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// members returns the tree's process group while it has a process: without
// /proc, a child that leaves the group cannot be found, and outlives the app
// (see the README).
func members(pgid int, _ string) []member {
	if pgid <= 0 || !groupAlive(pgid) {
		return nil
	}
	return []member{{pid: pgid, pgid: pgid}}
}

func (t *tree) register()   {}
func (t *tree) unregister() {}

// reapOrphans does nothing: without a subreaper, the orphans of the app go
// to init, which reaps them.
func reapOrphans() {}

func softParentDeath(*syscall.SysProcAttr) {}
