package term

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a time that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestProgressLineOnATerminal(t *testing.T) {
	var screen bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	p := NewProgress(&screen, nil)
	p.now = c.now
	b := p.Build("")
	b.Compiling("fmt")
	if screen.Len() != 0 {
		t.Fatalf("a build's first second drew %q", screen.String())
	}
	c.advance(ShowAfter)
	b.ToCompile(5)
	if got, want := screen.String(), "\r\x1b[Kdevrun: building 1/5 packages, now fmt"; got != want {
		t.Fatalf("drew %q, want %q", got, want)
	}
	screen.Reset()
	b.Compiling("os") // within redrawEvery of the last draw: not drawn
	c.advance(redrawEvery)
	b.Compiling("net/http")
	if got, want := screen.String(), "\r\x1b[Kdevrun: building 3/5 packages, now net/http"; got != want {
		t.Fatalf("drew %q, want %q", got, want)
	}
	// Another write clears the line first; the next package draws it again.
	out := p.Wrap(&screen)
	screen.Reset()
	out.Write([]byte("app: hello\n"))
	if got, want := screen.String(), "\r\x1b[Kapp: hello\n"; got != want {
		t.Fatalf("a write with the line shown wrote %q, want %q", got, want)
	}
	screen.Reset()
	c.advance(time.Millisecond) // redraws are not held back when the line is off
	b.Compiling("example.com/app")
	if got, want := screen.String(), "\r\x1b[Kdevrun: building 4/5 packages, now example.com/app"; got != want {
		t.Fatalf("drew %q, want %q", got, want)
	}
	screen.Reset()
	c.advance(redrawEvery)
	b.ToCompile(4) // the count was high: all are compiled, the link runs
	if got, want := screen.String(), "\r\x1b[Kdevrun: building 4/4 packages compiled, linking"; got != want {
		t.Fatalf("drew %q, want %q", got, want)
	}
	screen.Reset()
	b.Done()
	if got, want := screen.String(), "\r\x1b[K"; got != want {
		t.Fatalf("Done wrote %q, want the line cleared", got)
	}
	screen.Reset()
	out.Write([]byte("x\n"))
	if got := screen.String(); got != "x\n" {
		t.Fatalf("a write with no line shown wrote %q", got)
	}
}

func TestProgressPlainLines(t *testing.T) {
	var log bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	p := NewProgress(nil, slog.New(&Handler{mu: new(sync.Mutex), w: &log, level: slog.LevelInfo}))
	p.now = c.now
	if w := p.Wrap(&log); w != &log {
		t.Errorf("Wrap without a terminal returned another writer")
	}
	api, web := p.Build("api"), p.Build("web")
	api.Compiling("fmt")
	c.advance(ShowAfter)
	web.Compiling("strings")
	api.Compiling("net/http")
	for range 50 {
		c.advance(100 * time.Millisecond)
		api.Compiling("os") // five seconds of packages: no new line
	}
	c.advance(PlainEvery)
	api.Compiling("example.com/api")
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	want := []string{
		"devrun: building api: 2 packages compiled, now net/http; web: 1 packages compiled, now strings",
		"devrun: building api: 53 packages compiled, now example.com/api; web: 1 packages compiled, now strings",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged\n%s\nwant\n%s", log.String(), strings.Join(want, "\n"))
	}
}
