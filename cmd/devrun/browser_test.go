//go:build unix

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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

// The web loop in a real browser: headless Chromium, driven over the
// DevTools protocol, has examples/web open through devrun's proxy. Each
// edit of the page's Go code shows in the page with no action of the
// test's, by exactly one navigation, and never before the new version
// answers (the test's app listens a second after it starts); a broken
// edit shows the compiler's error over the page, and the fix removes it;
// a stylesheet edit restyles the page with no navigation (a JavaScript
// variable survives). The same with each swap order.
func TestBrowserReloadsOncePerSwap(t *testing.T) {
	for _, swap := range []string{"start-first", "stop-first"} {
		t.Run(swap, func(t *testing.T) { testBrowser(t, swap) })
	}
}

func testBrowser(t *testing.T, swap string) {
	p := newProject(t, exampleFiles(t, "web"))
	// The app says when it listens, a second after it starts, in a file.
	main := p.readFile("main.go")
	main = strings.Replace(main, `	log.Printf("web listening`, `	time.Sleep(time.Second)
	if f, err := os.OpenFile("listening.log", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintln(f, time.Now().UnixNano())
		f.Close()
	}
	log.Printf("web listening`, 1)
	main = strings.Replace(main, `import (`, `import (
	"fmt"`, 1)
	p.write("main.go", main)
	p.start("--proxy.listen", strconv.Itoa(p.port), "--proxy.swap", swap, "--watch.exclude", "listening.log")

	b := newBrowser(t)
	b.open(t, p.url())
	b.waitText(t, "#title", "Hello from devrun")
	b.eval(t, `window.kept = 42`)
	navs := b.navigations()
	if navs != 1 {
		t.Fatalf("%d navigations to open the page, want 1", navs)
	}

	// Edits of the Go code: one navigation each, once the new version answers.
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("Edit %d", i)
		p.write("title.go", "package main\n\nconst title = \""+want+"\"\n")
		b.waitText(t, "#title", want)
		p.waitLog(`started in`, 1+i)
		if n := b.navigations(); n != 1+i {
			t.Errorf("after edit %d: %d navigations, want %d", i, n, 1+i)
		}
	}
	if got := b.eval(t, `String(window.kept)`); got != "undefined" {
		t.Errorf("window.kept is %s after reloads, want undefined: the page did not reload", got)
	}

	// A stylesheet: restyled in place, no navigation.
	b.eval(t, `window.kept = 7`)
	p.write("static/site.css", "body { margin: 2rem; }\nh1 { color: rgb(200, 0, 0); }\n")
	b.waitEval(t, `getComputedStyle(document.querySelector("#title")).color`, "rgb(200, 0, 0)")
	if got := b.eval(t, `String(window.kept)`); got != "7" {
		t.Errorf("window.kept is %s after a stylesheet edit, want 7: the page reloaded", got)
	}
	if n := b.navigations(); n != 4 {
		t.Errorf("after the stylesheet edit: %d navigations, want 4", n)
	}

	// A broken edit: the overlay shows the compiler's error; the fix
	// removes it, in one navigation.
	p.write("title.go", "package main\n\nconst title = \"Broken\n")
	overlay := `(() => { const o = document.querySelector("devrun-overlay"); return o ? o.shadowRoot.querySelector("pre").textContent : "" })()`
	b.waitEval(t, overlay, "title.go:3:22: newline in string")
	if n := b.navigations(); n != 4 {
		t.Errorf("after a broken edit: %d navigations, want 4", n)
	}
	if got := b.text(t, "#title"); got != "Edit 3" {
		t.Errorf("after a broken edit, the page shows %q, want the last good version's Edit 3", got)
	}
	p.write("title.go", "package main\n\nconst title = \"Fixed\"\n")
	b.waitText(t, "#title", "Fixed")
	b.waitEval(t, overlay, "")
	if n := b.navigations(); n != 5 {
		t.Errorf("after the fix: %d navigations, want 5", n)
	}

	// The form, through the proxy.
	b.run(t, chromedp.SendKeys(`input[name=name]`, "Ada"), chromedp.Submit(`input[name=name]`))
	b.waitText(t, "#signed", "Ada")

	// No page was asked for before its version listened.
	listened := p.readFile("listening.log")
	var starts []int64
	for _, f := range strings.Fields(listened) {
		n, _ := strconv.ParseInt(f, 10, 64)
		starts = append(starts, n)
	}
	for i, at := range b.documentRequests()[1:5] {
		// Navigation i+1 came from the swap to version i+1 (of 0…).
		if i+1 >= len(starts) {
			t.Fatalf("%d versions listened, want at least %d:\n%s", len(starts), i+2, p.log())
		}
		if listen := time.Unix(0, starts[i+1]); at.Before(listen) {
			t.Errorf("reload %d asked for the page %s before its version listened", i+1, listen.Sub(at))
		}
	}
	p.stop(os.Interrupt)
}

// exampleFiles reads examples/NAME, as newProject takes it.
func exampleFiles(t *testing.T, name string) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", "examples", name)
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	delete(files, "devrun.yaml") // the tests give what they need as flags
	return files
}

// browser is a headless Chromium with one tab, counting the navigations
// of its page and the times it asked for documents.
type browser struct {
	ctx context.Context

	mu   sync.Mutex
	navs int
	docs []time.Time
}

// newBrowser starts Chromium; the test's end stops it.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		need.Skip(t, "chromium", "no chromium on PATH (Debian's chromium package)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	// The listener runs in the tab's loop, in the order of the events.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *page.EventFrameNavigated:
			if e.Frame.ParentID == "" {
				b.navs++
			}
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument {
				sec := float64(e.WallTime)
				b.docs = append(b.docs, time.Unix(0, int64(sec*1e9)))
			}
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() }) // ends the browser, and waits for it
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
		t.Fatal("chromium did not start within a minute")
	}
	return b
}

func (b *browser) navigations() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.navs
}

func (b *browser) documentRequests() []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.docs...)
}

func (b *browser) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	b.run(t, chromedp.Navigate(url))
}

// eval evaluates a JavaScript expression to a string.
func (b *browser) eval(t *testing.T, expr string) string {
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

// text is the text of the first element matching sel, "" if none.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return b.eval(t, `(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return e ? e.textContent.trim() : "" })()`)
}

// waitEval polls expr until it gives want (or, when want is not "",
// contains it), for a minute.
func (b *browser) waitEval(t *testing.T, expr, want string) {
	t.Helper()
	var got string
	ok := poll(func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			return false // the page is between two documents
		}
		got = out
		if want == "" {
			return got == ""
		}
		return strings.Contains(got, want)
	})
	if !ok {
		t.Fatalf("%s is %q, want %q", expr, got, want)
	}
}

// waitText waits until the text of sel contains want.
func (b *browser) waitText(t *testing.T, sel, want string) {
	t.Helper()
	b.waitEval(t, `(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return e ? e.textContent : "" })()`, want)
}
