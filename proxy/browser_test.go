//go:build unix

package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/devrun/devrun/internal/browsertest"
)

// In a real browser, the script runs under the page's Content-Security-
// Policy, whatever it allows: only 'self', a nonce, or no inline script
// and no connection at all. It shows a failure over the page (escaped:
// markup in a compiler's output is text), removes it when a version
// serves, and reloads the page then, once.
func TestScriptRunsUnderThePagesPolicy(t *testing.T) {
	policies := map[string]string{
		"self":  "default-src 'self'",
		"nonce": "script-src 'nonce-r4nd0m' 'strict-dynamic'; object-src 'none'",
		"none":  "default-src 'none'; script-src 'none'; connect-src 'none'",
		"none2": "script-src 'none'",
	}
	b := browsertest.New(t)
	for name, policy := range policies {
		t.Run(name, func(t *testing.T) {
			target := app(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Security-Policy", policy)
				w.Write([]byte(`<!doctype html><html><body><h1 id="t">page</h1><script nonce="r4nd0m">window.own = "ran"</script></body></html>`))
			})
			p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
			p.Served(target)
			navs := b.Navigations()
			b.Open(t, "http://"+p.Addr()+"/")
			b.WaitText(t, "#t", "page")
			// The script is connected once the page has its state.
			waitClients(t, p, 1)
			p.Failed("main.go:3:1: <b>not bold</b>")
			overlay := `(() => { const o = document.querySelector("devrun-overlay"); return o ? o.shadowRoot.querySelector("pre").innerHTML : "" })()`
			b.WaitEval(t, overlay, "main.go:3:1: &lt;b&gt;not bold&lt;/b&gt;")
			p.Served(target)
			b.WaitEval(t, overlay, "")
			waitClients(t, p, 1) // the reloaded page's
			if n := b.Navigations() - navs; n != 2 {
				t.Errorf("%d navigations, want 2: the open and one reload", n)
			}
			if strings.Contains(policy, "nonce") && b.Eval(t, "String(window.own)") != "ran" {
				t.Errorf("the page's own script did not run")
			}
		})
	}
}

// waitClients waits until n pages listen to p's events.
func waitClients(t *testing.T, p *Proxy, n int) {
	t.Helper()
	var got int
	if !eventually(func() bool {
		p.events.mu.Lock()
		defer p.events.mu.Unlock()
		got = len(p.events.clients)
		return got == n
	}) {
		t.Fatalf("%d pages listen, want %d", got, n)
	}
}

// eventually polls cond every 5 ms until it holds, for a minute at most.
func eventually(cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
	return true
}

// Eight tabs on one page through the proxy, as a developer's browser has
// after a while: every one loads, listens, and reloads once per version.
// Browsers speak HTTP/1.1 to http:// (never h2c), and give an origin six
// connections: a stream that held one for each page (server-sent events)
// left the seventh tab waiting for its page.
func TestEightTabsAllLoadAndReload(t *testing.T) {
	target := app(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html><body><h1 id="t">page</h1></body></html>`))
	})
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
	p.Served(target)
	first := browsertest.New(t)
	tabs := []*browsertest.Browser{first}
	for range 7 {
		tabs = append(tabs, first.NewTab(t))
	}
	for _, tab := range tabs {
		tab.Open(t, "http://"+p.Addr()+"/")
		tab.WaitText(t, "#t", "page")
	}
	waitClients(t, p, len(tabs))
	p.Served(target)
	for i, tab := range tabs {
		eventually(func() bool { return tab.Navigations() >= 2 })
		if n := tab.Navigations(); n != 2 {
			t.Errorf("tab %d: %d navigations, want 2", i+1, n)
		}
	}
}
