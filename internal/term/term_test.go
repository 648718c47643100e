package term

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinesArePrefixedAndColouredOnlyWhenAsked(t *testing.T) {
	var plain, color strings.Builder
	NewLogger(&plain, false).Warn("app exited", "code", 3)
	NewLogger(&color, true).Error("build failed")
	if got, want := plain.String(), "devrun: app exited code=3\n"; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
	if got := color.String(); !strings.HasPrefix(got, red+"devrun: error: "+reset) {
		t.Errorf("coloured = %q", got)
	}
}

func TestNoColorAndNonTerminals(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsColorTerminal(f) {
		t.Error("a regular file is taken for a terminal")
	}
	if IsColorTerminal(&strings.Builder{}) {
		t.Error("a buffer is taken for a terminal")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) || err != nil {
		return // no controlling terminal here (CI)
	}
	defer tty.Close()
	t.Setenv("NO_COLOR", "1")
	if IsColorTerminal(tty) {
		t.Error("NO_COLOR is not respected")
	}
}
