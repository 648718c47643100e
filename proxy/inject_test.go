package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/coder/websocket"
)

// app serves handler on a free port of 127.0.0.1 until the test ends, and
// returns its address.
func app(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

const page = "<!doctype html><html><head><title>t</title></head><body><h1>hi</h1></BODY></html>"

func encode(t *testing.T, coding, s string) []byte {
	var b bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "br":
		w = brotli.NewWriter(&b)
	case "deflate":
		w = zlib.NewWriter(&b)
	default:
		return []byte(s)
	}
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// get asks the proxy at addr for path with the request's Accept-Encoding
// left alone, and returns the response with its body read.
func getRaw(t *testing.T, addr, path string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// An HTML page gets the script once, before its </body>, whatever coding
// the app sent it in: it arrives unencoded, with a Content-Length that is
// its length, and without the validators that would let the browser keep
// it.
func TestPagesGetTheScriptBeforeTheirBody(t *testing.T) {
	for _, coding := range []string{"", "gzip", "br", "deflate"} {
		t.Run("coding="+coding, func(t *testing.T) {
			body := encode(t, coding, page)
			target := app(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("ETag", `"v1"`)
				if coding != "" {
					w.Header().Set("Content-Encoding", coding)
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
			})
			p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
			p.Served(target)
			resp, got := getRaw(t, p.Addr(), "/")
			if n := strings.Count(got, "<script"); n != 1 {
				t.Fatalf("%d scripts in the page, want 1:\n%s", n, got)
			}
			if !strings.HasPrefix(got, "<!doctype html><html><head><title>t</title></head><body><h1>hi</h1><script data-devrun-version=\""+p.events.instance+"-1\">") ||
				!strings.HasSuffix(got, "</script></BODY></html>") {
				t.Errorf("the script is not right before </BODY>:\n%s", got)
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding %q, want none", ce)
			}
			if resp.ContentLength >= 0 && resp.ContentLength != int64(len(got)) {
				t.Errorf("Content-Length %d, the body is %d bytes", resp.ContentLength, len(got))
			}
			if resp.Header.Get("ETag") != "" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("validators kept: ETag %q, Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
			}
		})
	}
}

// What is not a whole HTML page passes unchanged: JSON, an HTML fragment
// (as htmx asks for), a HEAD, a 304, an encoding devrun does not read.
func TestOnlyWholePagesGetTheScript(t *testing.T) {
	cases := []struct {
		name, ctype, coding, body string
		status                    int
	}{
		{"json", "application/json", "", `{"html":"</body>"}`, 200},
		{"fragment", "text/html", "", `<li>one</li>`, 200},
		{"not modified", "text/html", "", ``, 304},
		{"zstd", "text/html", "zstd", page, 200},
		{"a range", "text/html", "", page, 206},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := app(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.Header().Set("ETag", `"v1"`)
				if c.coding != "" {
					w.Header().Set("Content-Encoding", c.coding)
				}
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			})
			p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
			resp, got := getRaw(t, p.Addr(), "/")
			if got != c.body {
				t.Errorf("the body is\n%s\nwant it unchanged:\n%s", got, c.body)
			}
			if c.status == 200 && resp.Header.Get("ETag") != `"v1"` {
				t.Errorf("ETag %q, want it unchanged", resp.Header.Get("ETag"))
			}
		})
	}
}

// A page the app streams passes as it comes: its first part reaches the
// browser before the app has written the rest, and the script goes at its
// end, after its </body> (where the browser puts it into the body).
func TestStreamedPagesStream(t *testing.T) {
	more := make(chan struct{})
	target := app(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body><p>first</p>\n"))
		w.(http.Flusher).Flush()
		<-more
		w.Write([]byte("<p>second</p></bo"))
		w.(http.Flusher).Flush()
		w.Write([]byte("dy></html>"))
	})
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
	resp, err := http.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != "<html><body><p>first</p>\n" {
		t.Fatalf("the first part: %q, %v", line, err)
	}
	close(more)
	rest, _ := io.ReadAll(r)
	if !strings.HasPrefix(string(rest), "<p>second</p></body></html><script") || !strings.HasSuffix(string(rest), "</script>") {
		t.Errorf("the rest: %s", rest)
	}
}

// The page's Content-Security-Policy allows the script: by the page's
// nonce, or by the script's hash added where inline scripts are allowed
// by neither nonce nor 'unsafe-inline'; and devrun's events, where
// connections are limited.
func TestPolicyAllowsTheScript(t *testing.T) {
	cases := []struct{ policy, want, nonce string }{
		{"default-src 'self'", "default-src 'self' " + scriptHash, ""},
		{"script-src 'nonce-abc123' 'strict-dynamic'; connect-src 'none'", "script-src 'nonce-abc123' 'strict-dynamic' " + scriptHash + "; connect-src 'self'", "abc123"},
		{"default-src 'none'", "default-src " + scriptHash + "; connect-src 'self'", ""},
		{"default-src https://*.cdn.example", "default-src https://*.cdn.example " + scriptHash + "; connect-src https://*.cdn.example 'self'", ""},
		{"script-src 'unsafe-inline' 'sha256-abc'", "script-src 'unsafe-inline' 'sha256-abc' " + scriptHash, ""},
		{"script-src 'self' 'unsafe-inline'; connect-src https://api.example", "script-src 'self' 'unsafe-inline'; connect-src https://api.example 'self'", ""},
		{"img-src *", "img-src *", ""},
	}
	for _, c := range cases {
		h := http.Header{"Content-Security-Policy": {c.policy}}
		tag := string(scriptTag(h, "v"))
		addToPolicy(h)
		if got := h.Get("Content-Security-Policy"); got != c.want {
			t.Errorf("%q became %q, want %q", c.policy, got, c.want)
		}
		if hasNonce := strings.Contains(tag, `nonce="`+c.nonce+`"`); (c.nonce != "") != hasNonce {
			t.Errorf("%q: the tag's nonce: %s", c.policy, tag[:60])
		}
	}
	// The hash is the script's, as the browser computes it.
	sum := sha256.Sum256([]byte(script))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; scriptHash != want {
		t.Errorf("scriptHash %s, want %s", scriptHash, want)
	}
}

// Under /__devrun/ the proxy serves its events and nothing else: no path
// there reaches the app or anything of devrun's.
func TestReservedPathServesOnlyEvents(t *testing.T) {
	target := app(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("the app")) })
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
	for _, path := range []string{"/__devrun/", "/__devrun/x", "/__devrun/events/../../etc/passwd", "/__devrun/debug/pprof/"} {
		resp, body := getRaw(t, p.Addr(), path)
		if resp.StatusCode != http.StatusNotFound && !(resp.StatusCode == http.StatusOK && body == "the app") {
			t.Errorf("GET %s: %s %q", path, resp.Status, body)
		}
		if strings.Contains(body, "devrun") && resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s served devrun's: %q", path, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+p.Addr()+"/__devrun/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() string {
		t.Helper()
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	if got := read(); got != `{"type":"state","version":""}` {
		t.Errorf("on connecting: %s", got)
	}
	p.Failed("main.go:1: oops <b>")
	if got := read(); got != `{"type":"state","version":"","error":"main.go:1: oops \u003cb\u003e"}` {
		t.Errorf("after Failed: %s", got)
	}
	p.Changed([]string{"static/a.css", "static/b.CSS"})
	if got := read(); got != `{"type":"css","paths":["static/a.css","static/b.CSS"]}` {
		t.Errorf("after a stylesheet changed: %s", got)
	}
	p.Changed([]string{"static/a.css", "static/app.js"})
	if got := read(); got != `{"type":"page","paths":["static/a.css","static/app.js"]}` {
		t.Errorf("after a script changed: %s", got)
	}
	// Another origin's page may not listen.
	_, resp, err := websocket.Dial(ctx, "ws://"+p.Addr()+"/__devrun/events", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("another origin: %v", err)
	}
}

// With proxy.reload false, pages pass unchanged, and no events are served.
func TestNoScript(t *testing.T) {
	target := app(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	})
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: target, NoScript: true})
	if _, got := getRaw(t, p.Addr(), "/"); got != page {
		t.Errorf("the page changed: %s", got)
	}
	if resp, _ := getRaw(t, p.Addr(), "/__devrun/events"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("events: %s", resp.Status)
	}
}

// The app gets each path as the client sent it (no cleaning, no
// redirect), and an Accept-Encoding of codings devrun can decode; a
// download is not a page.
func TestRequestsReachTheAppAsSent(t *testing.T) {
	var paths, encodings []string
	var mu sync.Mutex
	target := app(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RawPath+"|"+r.URL.Path)
		encodings = append(encodings, r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Disposition", "attachment; filename=page.html")
		w.Write([]byte(page))
	})
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: target})
	for _, path := range []string{"/a//b", "/x/./y", "/__devrun"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.Addr()+path, nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != page {
			t.Errorf("GET %s: %s, the download changed: %v", path, resp.Status, string(b) != page)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(paths, " ") != "|/a//b |/x/./y |/__devrun" {
		t.Errorf("the app got %q", paths)
	}
	for _, e := range encodings {
		if e != "gzip, deflate, br" {
			t.Errorf("the app was asked for %q", e)
		}
	}
}

// A late check of a version the proxy no longer forwards to tells the
// pages nothing; a 502 page reloads itself once a version serves.
func TestServedOnlyForTheCurrentVersion(t *testing.T) {
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: "127.0.0.1:1", Wait: 50 * time.Millisecond})
	_, body := getRaw(t, p.Addr(), "/")
	if !strings.Contains(body, "<script data-devrun-version") {
		t.Errorf("the 502 page has no reload script:\n%s", body)
	}
	p.Switch("127.0.0.1:2")
	p.Served("127.0.0.1:1")
	if v := p.versionOf("127.0.0.1:1"); v != "" {
		t.Errorf("a stale check was served: %q", v)
	}
	p.Served("127.0.0.1:2")
	if v := p.versionOf("127.0.0.1:2"); !strings.HasSuffix(v, "-1") {
		t.Errorf("the current version is %q", v)
	}
}
