package term

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal and returns its terminal side, so
// that the real terminal check runs without a controlling terminal (CI).
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test with: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("cannot unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("cannot number the pseudo-terminal: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open the pseudo-terminal's terminal side: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

func TestPseudoTerminal(t *testing.T) {
	pts := openPTY(t)
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	if !IsColorTerminal(pts) {
		t.Error("a terminal is not taken for one")
	}
	t.Setenv("NO_COLOR", "1")
	if IsColorTerminal(pts) {
		t.Error("NO_COLOR is not respected on a terminal")
	}
}
