package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes devrun the parent of the orphans of its descendants
// (PR_SET_CHILD_SUBREAPER) instead of init, so that a process the app
// daemonises (a double fork and setsid, which leaves the app's process group)
// can still be found and stopped with the app.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming the reaper of the app's daemons: %w", err)
	}
	subreaper.Store(true)
	return nil
}

// subreaper is set once devrun is the reaper of its descendants' orphans:
// then they all stay its descendants.
var subreaper atomic.Bool

// stopDaemons kills and reaps the daemons devrun adopted: children it did
// not start (os/exec's children share devrun's session) that started a
// session of their own. It returns how many it killed.
func stopDaemons() int {
	own, err := unix.Getsid(0)
	if err != nil {
		return 0
	}
	n := 0
	for _, pid := range children() {
		sid, state, ok := sessionOf(pid)
		if !ok || sid == own {
			continue
		}
		if state != "Z" {
			syscall.Kill(-pid, syscall.SIGKILL) // its group, which setsid made
			syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
	return n
}

// children lists devrun's child processes.
func children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// sessionOf returns pid's session and state from /proc.
func sessionOf(pid int) (sid int, state string, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 4 {
		return 0, "", false
	}
	sid, err = strconv.Atoi(f[3])
	return sid, f[0], err == nil
}
