package term

import (
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

func TestNonTerminals(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	if IsColorTerminal(f) {
		t.Error("a regular file is taken for a terminal")
	}
	if IsColorTerminal(&strings.Builder{}) {
		t.Error("a buffer is taken for a terminal")
	}
}

// TestNoColorAndDumbTerminals runs everywhere, a terminal or not: the
// terminal check is replaced by one that takes the file for a terminal.
func TestNoColorAndDumbTerminals(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	orig := isTerminal
	t.Cleanup(func() { isTerminal = orig })
	isTerminal = func(g *os.File) bool { return g == f }
	for _, tc := range []struct {
		noColor, term string
		want          bool
	}{
		{"", "xterm-256color", true},
		{"", "", true},
		{"1", "xterm", false},
		{"0", "xterm", false}, // any value but the empty one, as no-color.org says
		{"", "dumb", false},
	} {
		t.Setenv("NO_COLOR", tc.noColor)
		t.Setenv("TERM", tc.term)
		if got := IsColorTerminal(f); got != tc.want {
			t.Errorf("NO_COLOR=%q TERM=%q: IsColorTerminal = %v, want %v", tc.noColor, tc.term, got, tc.want)
		}
	}
	if IsColorTerminal(&strings.Builder{}) {
		t.Error("a buffer is taken for a terminal")
	}
}

// Each line of a service's output starts with its name, padded to the
// longest; a line written in pieces gets one prefix, and nothing waits for
// the end of a line.
func TestPrefixers(t *testing.T) {
	var b strings.Builder
	ps := NewPrefixers(&b, false, "api", "worker")
	ps[0].Write([]byte("one\ntw"))
	if got := b.String(); got != "api    | one\napi    | tw" {
		t.Errorf("a line without its end was held back: %q", got)
	}
	ps[0].Write([]byte("o\n"))
	ps[1].Write([]byte("x\n\ny\n"))
	want := "api    | one\napi    | two\nworker | x\nworker | \nworker | y\n"
	if got := b.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A named logger's lines name the service after devrun's prefix.
func TestNamed(t *testing.T) {
	var b strings.Builder
	Named(NewLogger(&b, false), "api", 6).Info("started")
	if got := b.String(); got != "devrun: api:    started\n" {
		t.Errorf("got %q", got)
	}
}
