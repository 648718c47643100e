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

// tieToDevrun does nothing on Unix: on Linux the parent-death signal set at
// start ends the process with devrun; elsewhere the next devrun up stops
// what a killed devrun left (KillLeftover).
func tieToDevrun(int) {}

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

// killGroup kills every process in the group led by pid.
func killGroup(pid int) error { return signalGroup(pid, syscall.SIGKILL) }

// reapGroup collects the exited processes of group pgid that devrun
// adopted as their subreaper (the members of a killed build or app whose
// leader died first). Waiting on the group, not on any child, leaves the
// children os/exec waits for alone.
func reapGroup(pgid int) {
	if pgid <= 0 {
		return
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
