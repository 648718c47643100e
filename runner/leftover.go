package runner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// KillLeftover kills the app an earlier devrun recorded in pidFile (see
// Host.PIDFile) when that devrun was killed before it could stop it, and
// removes the file. The file holds a line for each process group, "PID
// binary": the app's, or Delve's and then the app's it launched. It kills
// only a process group whose leader still runs the recorded binary, so a
// reused PID is left alone. It reports what it did.
func KillLeftover(pidFile string) (string, error) {
	b, err := os.ReadFile(pidFile)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", pidFile, err)
	}
	defer os.Remove(pidFile)
	var did []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pidText, bin, _ := strings.Cut(strings.TrimSpace(line), " ")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || !groupAlive(pid) || !runs(pid, bin) {
			continue
		}
		if err := killGroup(pid); err != nil {
			return "", fmt.Errorf("stopping what an earlier devrun left running (process group %d): %w", pid, err)
		}
		did = append(did, fmt.Sprintf("process group %d, %s", pid, bin))
	}
	if len(did) == 0 {
		return "", nil
	}
	return "stopped what an earlier devrun left running: " + strings.Join(did, "; "), nil
}

// runs reports whether the group led by pid is still the one devrun
// recorded: its leader runs the binary bin, or its leader is gone while the
// group lives on (the kernel reuses no PID that still names a group). Where
// the system cannot tell, it says no: a process that may not be devrun's is
// never killed.
func runs(pid int, bin string) bool {
	if _, err := os.Stat(procSelf); err != nil {
		return runsPS(pid, bin)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if os.IsNotExist(err) {
		return true // the leader is gone; its group, which groupAlive saw, is ours
	}
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe == bin {
		return true
	}
	resolved, err := filepath.EvalSymlinks(bin)
	return err == nil && resolved == exe
}

// procSelf tells whether the system has /proc; tests change it to take the
// path of the systems without one.
var procSelf = "/proc/self"

// runsPS is runs where there is no /proc (macOS, the BSDs): the leader's
// command line, from ps(1), must start with bin, the path devrun started it
// by. Without /proc a group whose leader is gone cannot be told apart from
// a stranger's, so it is left alone.
func runsPS(pid int, bin string) bool {
	out, err := exec.Command("ps", "-o", "args=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return false
	}
	args := strings.TrimSpace(string(out))
	return args == bin || strings.HasPrefix(args, bin+" ")
}
