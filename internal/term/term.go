// Package term prints devrun's own messages so that they stand apart from
// the app's output: each line starts with "devrun:", coloured by level when
// the output is a terminal and NO_COLOR is not set.
package term

import (
	"bytes"
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
	name  string // the service the lines are about, padded; "" for none
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

// IsTerminal reports whether w is a terminal that can redraw a line: a
// character device, with TERM not "dumb".
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("TERM") != "dumb" && isTerminal(f)
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
	prefix, color := "devrun: "+h.name, cyan
	switch {
	case r.Level >= slog.LevelError:
		prefix, color = "devrun: "+h.name+"error: ", red
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

// Named returns a logger whose lines name the service after devrun's own
// prefix ("devrun: api:    started in 812ms"), the name padded to width;
// log's handler must be a *Handler, or the name becomes an attribute.
func Named(log *slog.Logger, name string, width int) *slog.Logger {
	h, ok := log.Handler().(*Handler)
	if !ok {
		return log.With("service", name)
	}
	h2 := *h
	h2.name = fmt.Sprintf("%-*s ", width+1, name+":")
	return slog.New(&h2)
}

// serviceColors are the colours of the services' prefixes, in turn.
var serviceColors = []string{"\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[33m", "\x1b[36m", "\x1b[92m", "\x1b[95m", "\x1b[94m"}

// Prefixer writes what it is given to w with every line started by a
// prefix, as compose and foreman show several services' output: "api    | ".
// It holds nothing back: a line without its end yet is written at once,
// its prefix before it. Writes through Prefixers that share a mutex
// (NewPrefixers) never interleave within one Write. It is safe for
// concurrent use.
type Prefixer struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	mid    bool // the last write ended inside a line
}

// NewPrefixers returns, for each of names, a Prefixer to w whose prefix is
// the name padded to the longest and " | ", coloured in turn when color is
// set.
func NewPrefixers(w io.Writer, color bool, names ...string) []*Prefixer {
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	mu := &sync.Mutex{}
	out := make([]*Prefixer, len(names))
	for i, n := range names {
		p := fmt.Sprintf("%-*s | ", width, n)
		if color {
			p = serviceColors[i%len(serviceColors)] + p + reset
		}
		out[i] = &Prefixer{mu: mu, w: w, prefix: []byte(p)}
	}
	return out
}

// Write writes b, each line of it after the prefix.
func (p *Prefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf []byte
	rest := b
	for len(rest) > 0 {
		if !p.mid {
			buf = append(buf, p.prefix...)
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			buf = append(buf, rest...)
			p.mid = true
			break
		}
		buf = append(buf, rest[:i+1]...)
		rest = rest[i+1:]
		p.mid = false
	}
	if _, err := p.w.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
