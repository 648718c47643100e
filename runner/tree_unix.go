//go:build unix

package runner

import (
	"os/exec"
	"sync"
	"sync/atomic"
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
	reaped   atomic.Bool // os/exec has collected the leader's exit
	// groupGone is set once the leader was reaped and its group found
	// empty: the group's number may be another's then, and is never
	// signalled again (the kernel reuses no PID that names a live group).
	groupGone atomic.Bool
}

// starting is held (read) while a tree's leader starts and is registered,
// and (write) while reapOrphans collects orphans: a leader that exits at
// once is never reaped by it before os/exec knows it is its own.
var starting sync.RWMutex

// newTree prepares cmd to start a tree of its own: a new process group,
// and the start's InstanceEnv. cmd.Env must be set. Call it before Start.
func newTree(cmd *exec.Cmd) *tree {
	t := &tree{cmd: cmd, instance: newInstance()}
	cmd.Env = append(cmd.Env, InstanceEnv+"="+t.instance)
	setGroup(cmd)
	return t
}

// start starts cmd, the tree's leader.
func (t *tree) start() error {
	starting.RLock()
	defer starting.RUnlock()
	if err := t.cmd.Start(); err != nil {
		return err
	}
	t.register()
	return nil
}

// waited is called once cmd's Wait has returned.
func (t *tree) waited() {
	t.reaped.Store(true)
	t.unregister()
	if !groupAlive(t.pgid()) {
		t.groupGone.Store(true)
	}
}

// group returns the tree's process group, or -1 once it is gone.
func (t *tree) group() int {
	if t.groupGone.Load() {
		return -1
	}
	return t.pgid()
}

// pgid is the tree's process group: its leader's PID.
func (t *tree) pgid() int { return t.cmd.Process.Pid }

// signal sends sig to every process of the tree, and reports whether it
// found any.
func (t *tree) signal(sig syscall.Signal) bool {
	if !t.reaped.Load() {
		t.cmd.Process.Signal(sig) // the leader, through its pidfd: whatever /proc says
	}
	pgid := t.group()
	ms := members(pgid, t.instance)
	group := false
	for _, m := range ms {
		group = group || pgid > 0 && m.pgid == pgid
	}
	if group {
		syscall.Kill(-pgid, sig) // at once, so that a member forking meanwhile is reached too
	} else if t.reaped.Load() {
		t.groupGone.Store(true)
	}
	for _, m := range ms {
		if !group || m.pgid != pgid {
			syscall.Kill(m.pid, sig)
		}
	}
	return len(ms) > 0
}

// kill kills every process of the tree.
func (t *tree) kill() bool { return t.signal(syscall.SIGKILL) }

// alive reports whether a process of the tree runs (zombies do not count).
func (t *tree) alive() bool { return len(members(t.group(), t.instance)) > 0 }

// release frees what the tree holds once it has ended.
func (t *tree) release() { reapOrphans() }

// A member is a process of a tree.
type member struct{ pid, pgid int }
