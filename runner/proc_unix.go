//go:build unix

package runner

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// setGroup makes cmd the leader of a new process group, so that the group can
// be signalled as one: a `go build` and its compilers, an app and its children.
func setGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)
}

// diskFullErrnos are how the system says that a disk is full.
var diskFullErrnos = []error{syscall.ENOSPC}

// signalGroup sends sig to every process in the group led by pid.
func signalGroup(pid int, sig os.Signal) error {
	if pid <= 0 {
		return errors.New("no process group to signal") // kill(0) and kill(-1) reach far more
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("unsupported signal " + sig.String())
	}
	err := syscall.Kill(-pid, s)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// killGroup kills every process in the group led by pid: a group an
// earlier devrun left, found alive and told from a stranger's (KillLeftover).
func killGroup(pid int) error { return signalGroup(pid, syscall.SIGKILL) }

// asSignal returns sig as the system's signal; SIGTERM for one it lacks.
func asSignal(sig os.Signal) syscall.Signal {
	if s, ok := sig.(syscall.Signal); ok {
		return s
	}
	return syscall.SIGTERM
}
