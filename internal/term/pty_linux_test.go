package term

import (
	"testing"

	"github.com/devrun/devrun/internal/ptytest"
)

func TestPseudoTerminal(t *testing.T) {
	_, pts := ptytest.Open(t)
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
