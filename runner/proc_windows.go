package runner

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/windows"
)

// setGroup starts cmd in a new process group, so that a Ctrl-C in devrun's
// console does not reach it before devrun decides to stop it.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// signalGroup asks the process group of pid to stop: a CTRL_BREAK_EVENT,
// which a Go app receives as os.Interrupt (and which ends one that does not
// catch it). Windows has no other signals; where devrun has no console to
// send the event through, the tree is ended as taskkill /F does.
func signalGroup(pid int, _ os.Signal) error {
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(pid)); err != nil {
		return killGroup(pid)
	}
	return nil
}

// killGroup ends the process tree of pid and returns once it has ended.
func killGroup(pid int) error {
	return exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}

// groupAlive reports false: Windows cannot list a tree whose root has
// exited, and killGroup returns only after the tree has ended. Stop waits for
// the app itself.
func groupAlive(int) bool { return false }

// reapGroup does nothing: Windows has no zombies to collect.
func reapGroup(int) {}
