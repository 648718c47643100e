package runner

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setGroup starts cmd in a new process group, so that a Ctrl-C in devrun's
// console does not reach it before devrun decides to stop it.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// signalGroup stops the process tree of pid. Windows has no signals to send
// to a tree, so every stop signal ends it as taskkill does.
func signalGroup(pid int, _ os.Signal) error { return killGroup(pid) }

// killGroup ends the process tree of pid and returns once it has ended.
func killGroup(pid int) error {
	return exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}

// groupAlive reports false: killGroup returns only after the tree has ended.
func groupAlive(int) bool { return false }

// reapGroup does nothing: Windows has no zombies to collect.
func reapGroup(int) {}
