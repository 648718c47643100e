package runner

import (
	"io"
	"syscall"

	"golang.org/x/sys/windows"
)

// appOutput leaves the app Delve launches writing to dlv's own output:
// Windows has no /dev/fd for dlv to open.
func appOutput(io.Writer, io.Writer) (*appFiles, error) { return &appFiles{}, nil }

// pidAlive reports whether a process pid still runs.
func pidAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, 0)
	return err == nil && ev == uint32(windows.WAIT_TIMEOUT)
}

// signalApp sends nothing: Windows has no signals to ask the app to stop;
// Delve, when it ends, kills it.
func signalApp(int, syscall.Signal) bool { return false }
