//go:build unix

package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/browsertest"
)

// The web loop in a real browser: headless Chromium, driven over the
// DevTools protocol, has examples/web open through devrun's proxy. Each
// edit of the page's Go code shows in the page with no action of the
// test's, by exactly one navigation, and never before the new version
// answers (the test's app listens a second after it starts); a broken
// edit shows the compiler's error over the page, and the fix removes it;
// a stylesheet edit restyles the page with no navigation (a JavaScript
// variable survives); across a restart of devrun, the page reconnects and
// reloads once. The same with each swap order.
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

	b := browsertest.New(t)
	b.Open(t, p.url())
	b.WaitText(t, "#title", "Hello from devrun")
	b.Eval(t, `window.kept = 42`)
	navs := b.Navigations()
	if navs != 1 {
		t.Fatalf("%d navigations to open the page, want 1", navs)
	}

	// Edits of the Go code: one navigation each, once the new version answers.
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("Edit %d", i)
		p.write("title.go", "package main\n\nconst title = \""+want+"\"\n")
		b.WaitText(t, "#title", want)
		p.waitLog(`started in`, 1+i)
		if n := b.Navigations(); n != 1+i {
			t.Errorf("after edit %d: %d navigations, want %d", i, n, 1+i)
		}
	}
	if got := b.Eval(t, `String(window.kept)`); got != "undefined" {
		t.Errorf("window.kept is %s after reloads, want undefined: the page did not reload", got)
	}

	// A stylesheet: restyled in place, no navigation.
	b.Eval(t, `window.kept = 7`)
	p.write("static/site.css", "body { margin: 2rem; }\nh1 { color: rgb(200, 0, 0); }\n")
	b.WaitEval(t, `getComputedStyle(document.querySelector("#title")).color`, "rgb(200, 0, 0)")
	if got := b.Eval(t, `String(window.kept)`); got != "7" {
		t.Errorf("window.kept is %s after a stylesheet edit, want 7: the page reloaded", got)
	}
	if n := b.Navigations(); n != 4 {
		t.Errorf("after the stylesheet edit: %d navigations, want 4", n)
	}

	// A broken edit: the overlay shows the compiler's error; the fix
	// removes it, in one navigation.
	p.write("title.go", "package main\n\nconst title = \"Broken\n")
	overlay := `(() => { const o = document.querySelector("devrun-overlay"); return o ? o.shadowRoot.querySelector("pre").textContent : "" })()`
	b.WaitEval(t, overlay, "title.go:3:22: newline in string")
	if n := b.Navigations(); n != 4 {
		t.Errorf("after a broken edit: %d navigations, want 4", n)
	}
	if got := b.Text(t, "#title"); got != "Edit 3" {
		t.Errorf("after a broken edit, the page shows %q, want the last good version's Edit 3", got)
	}
	p.write("title.go", "package main\n\nconst title = \"Fixed\"\n")
	b.WaitText(t, "#title", "Fixed")
	b.WaitEval(t, overlay, "")
	if n := b.Navigations(); n != 5 {
		t.Errorf("after the fix: %d navigations, want 5", n)
	}

	// The form, through the proxy. Filled and sent by script: chromedp's
	// node actions hold DOM node IDs, which a reload the page did itself
	// (not chromedp) can leave stale ("Could not find node with given id").
	b.Eval(t, `(() => { const i = document.querySelector("input[name=name]"); i.value = "Ada"; i.form.requestSubmit(); return "" })()`)
	b.WaitText(t, "#signed", "Ada")

	// No page was asked for before its version listened.
	listened := p.readFile("listening.log")
	var starts []int64
	for _, f := range strings.Fields(listened) {
		n, _ := strconv.ParseInt(f, 10, 64)
		starts = append(starts, n)
	}
	for i, at := range b.DocumentRequests()[1:5] {
		// Navigation i+1 came from the swap to version i+1 (of 0…).
		if i+1 >= len(starts) {
			t.Fatalf("%d versions listened, want at least %d:\n%s", len(starts), i+2, p.log())
		}
		if listen := time.Unix(0, starts[i+1]); at.Before(listen) {
			t.Errorf("reload %d asked for the page %s before its version listened", i+1, listen.Sub(at))
		}
	}

	// devrun stopped and started again: the page reconnects by itself,
	// and reloads once, when the new devrun's first version answers (its
	// guestbook is empty again).
	navs = b.Navigations()
	p.stop(os.Interrupt)
	p.start("--proxy.listen", strconv.Itoa(p.port), "--proxy.swap", swap, "--watch.exclude", "listening.log")
	b.WaitEval(t, `String(document.querySelector("#signed").children.length)`, "0")
	b.WaitText(t, "#title", "Fixed")
	if n := b.Navigations() - navs; n != 1 {
		t.Errorf("%d navigations across a restart of devrun, want 1", n)
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
