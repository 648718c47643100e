//go:build unix

package runner

import (
	"os/exec"
	"syscall"
)

// A tree is the processes of one start, the app's or a build's: the
// process group its leader makes and, where the system can tell (Linux),
// every process that carries the start's InstanceEnv or descends from one
// that does. Its methods are safe for concurrent use; they signal only
// processes that they have just found alive and of this start.
type tree struct {
	cmd      *exec.Cmd
	instance string
}

// newTree prepares cmd to start a tree of its own: a new process group,
// and the start's InstanceEnv. cmd.Env must be set. Call it before Start.
func newTree(cmd *exec.Cmd) *tree {
	t := &tree{cmd: cmd, instance: newInstance()}
	cmd.Env = append(cmd.Env, InstanceEnv+"="+t.instance)
	setGroup(cmd)
	return t
}

// started is called once cmd has started; waited once its Wait returned.
func (t *tree) started() { t.register() }
func (t *tree) waited()  { t.unregister() }

// pgid is the tree's process group: its leader's PID.
func (t *tree) pgid() int { return t.cmd.Process.Pid }

// signal sends sig to every process of the tree, and reports whether it
// found any.
func (t *tree) signal(sig syscall.Signal) bool {
	ms := members(t.pgid(), t.instance)
	group := false
	for _, m := range ms {
		group = group || m.pgid == t.pgid()
	}
	if group {
		syscall.Kill(-t.pgid(), sig) // at once, so that a member forking meanwhile is reached too
	}
	for _, m := range ms {
		if m.pgid != t.pgid() {
			syscall.Kill(m.pid, sig)
		}
	}
	return len(ms) > 0
}

// kill kills every process of the tree.
func (t *tree) kill() bool { return t.signal(syscall.SIGKILL) }

// alive reports whether a process of the tree runs (zombies do not count).
func (t *tree) alive() bool { return len(members(t.pgid(), t.instance)) > 0 }

// release frees what the tree holds once it has ended.
func (t *tree) release() { reapOrphans() }

// A member is a process of a tree.
type member struct{ pid, pgid int }
