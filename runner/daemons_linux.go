package runner

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

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
	reapOnExit()
	return nil
}

// subreaper is set once devrun is the reaper of its descendants' orphans:
// then they all stay its descendants.
var subreaper atomic.Bool

// stopDaemons kills and reaps the daemons devrun adopted: children it did
// not start (os/exec's children share devrun's session, and are left to
// os/exec, whatever session they moved to) that started a session of their
// own. It returns how many it killed. It never waits long: a daemon it
// may not signal (a setuid one) is left.
func stopDaemons() int {
	own, err := unix.Getsid(0)
	if err != nil {
		return 0
	}
	starting.Lock()
	defer starting.Unlock()
	n := 0
	for _, pid := range children() {
		if _, ok := leaders.Load(pid); ok {
			continue
		}
		sid, state, ok := sessionOf(pid)
		if !ok || sid == own {
			continue
		}
		if state != "Z" {
			syscall.Kill(-pid, syscall.SIGKILL) // its group, which setsid made
			if syscall.Kill(pid, syscall.SIGKILL) != nil {
				continue
			}
			n++
		}
		for i := 0; i < 200; i++ {
			var ws syscall.WaitStatus
			if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got != 0 || err != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return n
}

// reapOnExit collects adopted orphans as they exit, so that an app that
// leaves exited children behind (sh -c 'x &' for each request) does not
// fill the process table with zombies between two stops.
func reapOnExit() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	go func() {
		for range ch {
			reapOrphans()
		}
	}()
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
