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

// diskFullErrnos are how the system says that a disk is full.
var diskFullErrnos = []error{windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL}

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

// signalGroup ends the process tree of pid as taskkill /T /F does. A
// CTRL_BREAK_EVENT would let a Go app stop gracefully, but the children that
// ignore it could not be found once the app has gone (Windows lists no tree
// whose root has exited), and would keep the app's port.
func signalGroup(pid int, _ os.Signal) error { return killGroup(pid) }

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
