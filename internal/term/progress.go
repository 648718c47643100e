package term

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// Progress shows how long builds go: the packages compiled out of those to
// compile, with the one being compiled. On a terminal it is one line,
// redrawn in place and cleared when the builds are done, which every other
// write to the terminal clears first (Wrap); elsewhere (a log file, compose's
// logs) it is a plain line through the logger, at first and then every
// PlainEvery. A build
// shows nothing for its first ShowAfter: the loop's builds take less. It is
// safe for concurrent use; its lifetime is devrun's.
type Progress struct {
	mu     sync.Mutex
	term   io.Writer    // the terminal the line is drawn on; nil for plain lines
	log    *slog.Logger // where plain lines go
	now    func() time.Time
	builds map[string]*building
	shown  bool      // the line is on the terminal
	drawn  time.Time // when the line was last drawn or logged
}

// ShowAfter is how long a build runs before its progress shows.
const ShowAfter = time.Second

// PlainEvery is the time between two plain progress lines.
const PlainEvery = 10 * time.Second

// redrawEvery is the shortest time between two draws of the terminal line.
const redrawEvery = 100 * time.Millisecond

// lineWidth is the longest line drawn: a longer one would wrap, and the
// next draw would clear only its last row.
const lineWidth = 79

type building struct {
	started  time.Time
	compiled int
	total    int // 0 until known
	current  string
}

// NewProgress returns a Progress drawing its line on terminal, or, when
// terminal is nil, logging plain lines to log.
func NewProgress(terminal io.Writer, log *slog.Logger) *Progress {
	return &Progress{term: terminal, log: log, now: time.Now, builds: map[string]*building{}}
}

// Build returns what shows the progress of the builds of the service name
// ("" for the only one), for runner.GoBuild.Progress.
func (p *Progress) Build(name string) *BuildProgress {
	return &BuildProgress{p: p, name: name}
}

// Wrap returns a writer to w that clears the progress line before each
// write, so that nothing written to the terminal lands after it; the line is
// drawn again with the next package. Without a terminal it returns w.
func (p *Progress) Wrap(w io.Writer) io.Writer {
	if p.term == nil {
		return w
	}
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clear()
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// BuildProgress is the progress of one service's builds: a runner.Progress.
type BuildProgress struct {
	p    *Progress
	name string
}

// Compiling records that pkg's compile has started.
func (b *BuildProgress) Compiling(pkg string) {
	b.p.update(b.name, func(s *building) { s.compiled++; s.current = pkg })
}

// ToCompile records how many packages the build compiles in all.
func (b *BuildProgress) ToCompile(n int) {
	b.p.update(b.name, func(s *building) { s.total = n })
}

// Done records that the build has ended, and clears the line when no other
// build runs.
func (b *BuildProgress) Done() {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.builds, b.name)
	if len(p.builds) == 0 {
		p.clear()
		p.drawn = time.Time{}
	}
}

func (p *Progress) update(name string, f func(*building)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	s := p.builds[name]
	if s == nil {
		s = &building{started: now}
		p.builds[name] = s
	}
	f(s)
	if now.Sub(s.started) < ShowAfter {
		return
	}
	if p.term == nil {
		if p.drawn.IsZero() || now.Sub(p.drawn) >= PlainEvery {
			p.drawn = now
			p.log.Info(p.line())
		}
		return
	}
	if p.shown && now.Sub(p.drawn) < redrawEvery {
		return
	}
	p.drawn = now
	line := "devrun: " + p.line()
	if len(line) > lineWidth {
		line = line[:lineWidth-1] + "…"
	}
	fmt.Fprintf(p.term, "\r\x1b[K%s", line)
	p.shown = true
}

// line describes the builds under way, each as "name: 312/1568 packages,
// current/package", or "linking" once all are compiled.
func (p *Progress) line() string {
	names := make([]string, 0, len(p.builds))
	for n := range p.builds {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		s := p.builds[n]
		var b strings.Builder
		if n != "" {
			b.WriteString(n + ": ")
		}
		switch {
		case s.total == 0:
			fmt.Fprintf(&b, "%d packages compiled, now %s", s.compiled, s.current)
		case s.compiled >= s.total:
			fmt.Fprintf(&b, "%d/%d packages compiled, linking", s.compiled, s.total)
		default:
			fmt.Fprintf(&b, "%d/%d packages, now %s", s.compiled, s.total, s.current)
		}
		parts = append(parts, b.String())
	}
	return "building " + strings.Join(parts, "; ")
}

// clear takes the line off the terminal; p.mu is held.
func (p *Progress) clear() {
	if p.shown {
		io.WriteString(p.term, "\r\x1b[K")
		p.shown = false
	}
}
