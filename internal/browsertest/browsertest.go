// Package browsertest drives a real headless Chromium (Debian's chromium
// package) over the DevTools protocol, for the tests of the web loop: it
// opens a page, evaluates JavaScript in it, waits for what the page shows,
// and counts the page's navigations and the documents it asked for.
//
// A Browser has one tab. It is started by New and stopped when the test
// ends; its methods may be called from the test's goroutine only.
package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/devrun/devrun/internal/need"
)

// Wait is how long the Wait methods wait.
const Wait = 3 * time.Minute

// A Browser is a headless Chromium with one tab.
type Browser struct {
	ctx context.Context

	mu   sync.Mutex
	navs int
	docs []time.Time
}

// New starts Chromium, or skips t (fails it where TESTS_REQUIRE names
// chromium) when there is none. The test's end stops it and waits for it.
func New(t testing.TB) *Browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		need.Skip(t, "chromium", "no chromium on PATH (Debian's chromium package)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := newTab(t, actx)
	t.Cleanup(cancelAlloc)
	return b
}

// NewTab opens another tab in b's browser; it closes when the test ends.
func (b *Browser) NewTab(t testing.TB) *Browser {
	t.Helper()
	return newTab(t, b.ctx)
}

// newTab opens a tab in the browser of parent (a new browser when parent
// has none yet), and waits until it is open.
func newTab(t testing.TB, parent context.Context) *Browser {
	t.Helper()
	b := &Browser{}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *page.EventFrameNavigated:
			if e.Frame.ParentID == "" {
				b.navs++
			}
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument {
				b.docs = append(b.docs, time.Unix(0, int64(float64(e.WallTime)*1e9)))
			}
		}
	}))
	t.Cleanup(cancel)
	b.ctx = ctx
	// The first run starts the browser, which lives as long as ctx: it
	// takes no deadline of its own.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting chromium: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("chromium did not open a tab within a minute")
	}
	return b
}

// Navigations counts the navigations of the tab's main frame so far.
func (b *Browser) Navigations() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.navs
}

// DocumentRequests are the times the tab asked for a document, in order.
func (b *Browser) DocumentRequests() []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.docs...)
}

// Run runs actions in the tab, for a minute at most.
func (b *Browser) Run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// Open navigates the tab to url.
func (b *Browser) Open(t testing.TB, url string) {
	t.Helper()
	b.Run(t, chromedp.Navigate(url))
}

// Eval evaluates a JavaScript expression, as a string.
func (b *Browser) Eval(t testing.TB, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := out.(string); ok {
		return s
	}
	return fmt.Sprint(out)
}

// Text is the text of the first element matching sel, "" if none.
func (b *Browser) Text(t testing.TB, sel string) string {
	t.Helper()
	return b.Eval(t, textOf(sel))
}

func textOf(sel string) string {
	return `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.textContent.trim() : "" })()`
}

// WaitEval evaluates expr, a string, until it contains want (until it is
// "" when want is ""), for Wait at most.
func (b *Browser) WaitEval(t testing.TB, expr, want string) {
	t.Helper()
	var got string
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(Wait)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil { // else the page is between two documents
			got = out
			if (want == "" && got == "") || (want != "" && strings.Contains(got, want)) {
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s is %q, want %q", expr, got, want)
		}
	}
}

// WaitText waits until the text of the first element matching sel
// contains want.
func (b *Browser) WaitText(t testing.TB, sel, want string) {
	t.Helper()
	b.WaitEval(t, textOf(sel), want)
}
