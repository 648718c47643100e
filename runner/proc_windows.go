package runner

import (
	"errors"
	"os"
	"os/exec"
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

// A tree is the processes of one start, the app's or a build's: a job
// object of its own, which every process the leader starts joins, and which
// the system ends when its last handle closes, so when devrun exits, even
// killed. devrun acts on the job through its handle, never by a PID, which
// Windows reuses at once. A process the leader starts before it joins the
// job (in the moment after its start) escapes it. Its methods are safe for
// concurrent use.
type tree struct {
	cmd      *exec.Cmd
	instance string
	job      windows.Handle // 0 when the system refused one
	once     sync.Once      // release
}

// newTree prepares cmd to start a tree of its own. cmd.Env must be set.
// Call it before Start.
func newTree(cmd *exec.Cmd) *tree {
	t := &tree{cmd: cmd, instance: newInstance()}
	cmd.Env = append(cmd.Env, InstanceEnv+"="+t.instance)
	setGroup(cmd)
	h, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return t
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(h, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(h)
		return t
	}
	t.job = h
	return t
}

// start starts cmd, the tree's leader, and puts it, and so the processes
// it starts, in the job.
func (t *tree) start() error {
	if err := t.cmd.Start(); err != nil {
		return err
	}
	t.assign()
	return nil
}

func (t *tree) assign() {
	if t.job == 0 {
		return
	}
	p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(t.cmd.Process.Pid))
	if err != nil {
		return
	}
	defer windows.CloseHandle(p)
	windows.AssignProcessToJobObject(t.job, p)
}

func (t *tree) waited() {}

// signal ends the tree: Windows has no signal that a console app that
// ignores it could not also leave its children running with.
func (t *tree) signal(syscall.Signal) bool { return t.kill() }

// kill ends every process of the job, and the leader through the handle
// os/exec holds (it may not have joined the job yet).
func (t *tree) kill() bool {
	alive := t.alive()
	if t.job != 0 {
		windows.TerminateJobObject(t.job, 1)
	}
	t.cmd.Process.Kill()
	return alive
}

// alive reports whether a process of the job runs.
func (t *tree) alive() bool {
	if t.job == 0 {
		return false
	}
	var info basicAccounting
	if err := windows.QueryInformationJobObject(t.job, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil); err != nil {
		return false
	}
	return info.ActiveProcesses > 0
}

// release ends what is left of the job and closes it, once; the tree is
// not used after.
func (t *tree) release() {
	t.once.Do(func() {
		if t.job != 0 {
			windows.TerminateJobObject(t.job, 1)
			windows.CloseHandle(t.job)
		}
	})
}

// asSignal returns the signal a stop sends; on Windows a stop ends the tree.
func asSignal(os.Signal) syscall.Signal { return syscall.SIGKILL }

// groupAlive reports false: a leftover of a killed devrun ended with its
// job, and Windows reuses PIDs: a recorded PID names no process of devrun's.
func groupAlive(int) bool { return false }

// killGroup is never called on Windows (groupAlive reports false).
func killGroup(int) error { return errors.New("no process groups on Windows") }

// basicAccounting is JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, which
// golang.org/x/sys/windows does not define.
type basicAccounting struct {
	TotalUserTime, TotalKernelTime                       int64
	ThisPeriodTotalUserTime, ThisPeriodTotalKernelTime   int64
	TotalPageFaultCount, TotalProcesses, ActiveProcesses uint32
	TotalTerminatedProcesses                             uint32
}

func softParentDeath(*syscall.SysProcAttr) {}
