package runner

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// setGroup starts cmd in a new process group, so that a Ctrl-C in devrun's
// console does not reach it before devrun decides to stop it.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// job holds every process devrun starts. It is made so that the system
// ends them all when its last handle closes: when devrun exits, even killed.
var job = sync.OnceValue(func() windows.Handle {
	h, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(h, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(h)
		return 0
	}
	return h
})

// tieToDevrun puts the process pid, and so the processes it starts, in
// devrun's job, which ends with devrun: Windows' parent-death signal. A
// process the app starts before this call escapes it.
func tieToDevrun(pid int) {
	j := job()
	if j == 0 {
		return
	}
	p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return
	}
	defer windows.CloseHandle(p)
	windows.AssignProcessToJobObject(j, p)
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
