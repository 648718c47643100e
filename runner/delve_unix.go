//go:build unix

package runner

import (
	"errors"
	"io"
	"syscall"
)

// appOutput gives the app Delve launches devrun's stdout and stderr: dlv
// opens /dev/fd/3 and /dev/fd/4, its own copies of them.
func appOutput(stdout, stderr io.Writer) (*appFiles, error) { return newAppFiles(stdout, stderr) }

// pidAlive reports whether a process pid exists (a zombie does).
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// signalApp sends sig to the app Delve launched: to its process group,
// which Delve makes it the leader of, and so to its children too. It
// reports whether the signal was sent.
func signalApp(pid int, sig syscall.Signal) bool {
	return syscall.Kill(-pid, sig) == nil || syscall.Kill(pid, sig) == nil
}
