// Package term prints devrun's own messages so that they stand apart from
// the app's output: each line starts with "devrun:", coloured by level when
// the output is a terminal and NO_COLOR is not set.
package term

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Handler is a slog.Handler writing one line per record. It is safe for
// concurrent use.
type Handler struct {
	mu    *sync.Mutex
	w     io.Writer
	color bool
	level slog.Leveler
	attrs string
}

// NewLogger returns a logger writing to w, coloured if color is set.
func NewLogger(w io.Writer, color bool) *slog.Logger {
	return slog.New(&Handler{mu: &sync.Mutex{}, w: w, color: color, level: slog.LevelInfo})
}

// IsColorTerminal reports whether w is a terminal that should get colours:
// a character device, with NO_COLOR unset (or empty) and TERM not "dumb".
func IsColorTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && colorAllowed(os.Getenv) && isTerminal(f)
}

// colorAllowed reports whether the environment, read through getenv, lets
// a terminal have colours.
func colorAllowed(getenv func(string) string) bool {
	return getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// isTerminal reports whether f is a character device. Tests replace it to
// check the rest of IsColorTerminal where there is no terminal.
var isTerminal = func(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const (
	reset  = "\x1b[0m"
	cyan   = "\x1b[36m"
	yellow = "\x1b[33m"
	red    = "\x1b[1;31m"
)

// Enabled reports whether level is printed.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle writes r as one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	prefix, color := "devrun: ", cyan
	switch {
	case r.Level >= slog.LevelError:
		prefix, color = "devrun: error: ", red
	case r.Level >= slog.LevelWarn:
		color = yellow
	}
	if h.color {
		b.WriteString(color + prefix + reset)
	} else {
		b.WriteString(prefix)
	}
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs returns a handler that adds attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	for _, a := range attrs {
		h2.attrs += fmt.Sprintf(" %s=%v", a.Key, a.Value)
	}
	return &h2
}

// WithGroup returns h: groups are not shown.
func (h *Handler) WithGroup(string) slog.Handler { return h }
