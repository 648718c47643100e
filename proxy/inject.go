package proxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
)

//go:embed reload.js
var scriptSource string

// script is what goes into pages: reload.js without its comment lines and
// indentation.
var script = func() string {
	var b strings.Builder
	for _, line := range strings.Split(scriptSource, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "//") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}()

// scriptHash is the script's CSP source: a page whose policy allows
// inline scripts only by hash gets it added.
var scriptHash = func() string {
	sum := sha256.Sum256([]byte(script))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// maxBuffered is the largest page of known length that gets the script:
// such a page is read whole to fix its Content-Length. A page without a
// length streams, and gets the script as its </body> passes.
const maxBuffered = 16 << 20

// inject puts the reload script before the </body> of an HTML response,
// as ModifyResponse. It decodes gzip, deflate and br (the page is sent
// on unencoded), honours the page's Content-Security-Policy (its nonce, or
// the script's hash added), and drops the page's validators, so that the
// browser never shows a page of an older version from its cache. A
// response that is not HTML, has no body, has no </body> (a fragment, as
// htmx asks for) or is encoded otherwise is left alone.
func (p *Proxy) inject(resp *http.Response) error {
	if !isHTML(resp) {
		return nil
	}
	decode, ok := decoders[strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))]
	if !ok {
		return nil
	}
	version := ""
	if t, ok := resp.Request.Context().Value(targetKey{}).(*string); ok {
		version = p.versionOf(*t)
	}
	tag := scriptTag(resp.Header, version)
	body, err := decode(resp.Body)
	if err != nil {
		return nil // not what it says it is: pass it on as it is
	}
	if resp.ContentLength >= 0 && resp.ContentLength <= maxBuffered && resp.Header.Get("Content-Encoding") == "" {
		page, err := io.ReadAll(io.LimitReader(body, maxBuffered+1))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the app's page: %w", err)
		}
		i := lastBodyEnd(page)
		if i >= 0 {
			page = slicesInsert(page, i, tag)
			addToPolicy(resp.Header)
			noValidators(resp.Header)
		}
		resp.Body = io.NopCloser(bytes.NewReader(page))
		resp.ContentLength = int64(len(page))
		resp.Header.Set("Content-Length", strconv.Itoa(len(page)))
		return nil
	}
	// Of unknown length, or encoded: the page streams through, and the
	// script goes in as its first </body> passes.
	resp.Body = &streamInjector{r: body, closer: resp.Body, tag: tag}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	resp.Header.Del("Content-Encoding")
	addToPolicy(resp.Header)
	noValidators(resp.Header)
	return nil
}

// isHTML reports whether resp is an HTML page with a body.
func isHTML(resp *http.Response) bool {
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return false
	}
	switch {
	case resp.StatusCode < 200, resp.StatusCode == http.StatusNoContent, resp.StatusCode == http.StatusNotModified:
		return false
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// decoders undo the content codings devrun reads.
var decoders = map[string]func(io.Reader) (io.Reader, error){
	"":         func(r io.Reader) (io.Reader, error) { return r, nil },
	"identity": func(r io.Reader) (io.Reader, error) { return r, nil },
	"gzip":     func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
	"x-gzip":   func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
	"br":       func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
	"deflate": func(r io.Reader) (io.Reader, error) {
		// RFC 9110's deflate is zlib's format; some servers send raw
		// deflate: the first two bytes tell which.
		br := bufio.NewReader(r)
		h, err := br.Peek(2)
		if err == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	},
}

// scriptTag is the element put into a page served by version, with the
// nonce of the page's policy if it has one.
func scriptTag(h http.Header, version string) []byte {
	nonce := ""
	for _, policy := range h.Values("Content-Security-Policy") {
		if n := policyNonce(policy); n != "" {
			nonce = n
		}
	}
	var b strings.Builder
	b.WriteString(`<script data-devrun-version="` + html.EscapeString(version) + `"`)
	if nonce != "" {
		b.WriteString(` nonce="` + html.EscapeString(nonce) + `"`)
	}
	b.WriteString(">" + script + "</script>")
	return []byte(b.String())
}

// scriptDirective returns the directive of policy that rules inline
// scripts (script-src-elem, script-src, default-src, the first there is)
// and its index among the policy's directives; -1 when none does.
func scriptDirective(directives []string) int {
	for _, name := range []string{"script-src-elem", "script-src", "default-src"} {
		for i, d := range directives {
			if f := strings.Fields(d); len(f) > 0 && strings.EqualFold(f[0], name) {
				return i
			}
		}
	}
	return -1
}

// policyNonce returns the nonce of policy's script directive, if any.
func policyNonce(policy string) string {
	ds := strings.Split(policy, ";")
	i := scriptDirective(ds)
	if i < 0 {
		return ""
	}
	for _, src := range strings.Fields(ds[i])[1:] {
		if len(src) > len("'nonce-'") && strings.HasPrefix(strings.ToLower(src), "'nonce-") && strings.HasSuffix(src, "'") {
			return src[len("'nonce-") : len(src)-1]
		}
	}
	return ""
}

// addToPolicy makes each Content-Security-Policy of h allow the script
// and its events: the script's hash where its directive has neither a
// nonce nor 'unsafe-inline' (a hash would turn 'unsafe-inline' off), and
// 'self' for connections where they are limited without it.
func addToPolicy(h http.Header) {
	policies := h.Values("Content-Security-Policy")
	if len(policies) == 0 {
		return
	}
	out := make([]string, len(policies))
	for n, policy := range policies {
		ds := strings.Split(policy, ";")
		if i := scriptDirective(ds); i >= 0 {
			lower := strings.ToLower(ds[i])
			if !strings.Contains(lower, "'nonce-") && !strings.Contains(lower, "'unsafe-inline'") {
				ds[i] = addSource(ds[i], scriptHash)
			}
		}
		connect := -1
		for i, d := range ds {
			if f := strings.Fields(d); len(f) > 0 && strings.EqualFold(f[0], "connect-src") {
				connect = i
			}
		}
		if connect < 0 {
			for i, d := range ds {
				if f := strings.Fields(d); len(f) > 0 && strings.EqualFold(f[0], "default-src") {
					connect = i
				}
			}
		}
		if connect >= 0 {
			lower := strings.ToLower(ds[connect])
			if !strings.Contains(lower, "'self'") && !strings.Contains(lower, "*") {
				ds[connect] = addSource(ds[connect], "'self'")
			}
		}
		out[n] = strings.Join(ds, ";")
	}
	h["Content-Security-Policy"] = out
}

// addSource adds src to a directive's sources; a directive of 'none'
// gets src instead ('none' allows nothing only alone).
func addSource(directive, src string) string {
	f := strings.Fields(directive)
	out := f[:1]
	for _, s := range f[1:] {
		if !strings.EqualFold(s, "'none'") {
			out = append(out, s)
		}
	}
	lead := directive[:len(directive)-len(strings.TrimLeft(directive, " \t"))]
	return lead + strings.Join(append(out, src), " ")
}

// noValidators drops what would let the browser keep the page and ask
// whether it changed: a kept page would carry the version it was first
// served by.
func noValidators(h http.Header) {
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Cache-Control", "no-store")
}

// bodyEnd is what the script goes before.
var bodyEnd = []byte("</body")

// lastBodyEnd is the index of page's last </body, in any case; -1 if none.
func lastBodyEnd(page []byte) int {
	for i := len(page) - len(bodyEnd); i >= 0; i-- {
		if bytes.EqualFold(page[i:i+len(bodyEnd)], bodyEnd) {
			return i
		}
	}
	return -1
}

func slicesInsert(b []byte, i int, add []byte) []byte {
	out := make([]byte, 0, len(b)+len(add))
	out = append(out, b[:i]...)
	out = append(out, add...)
	return append(out, b[i:]...)
}

// streamInjector passes a page through as it comes, putting tag before
// its first </body; it holds back at most the bytes that could begin one.
type streamInjector struct {
	r      io.Reader
	closer io.Closer
	tag    []byte
	done   bool   // the tag is in
	held   []byte // read, not passed on yet
	eof    bool
}

func (s *streamInjector) Read(p []byte) (int, error) {
	for {
		if !s.done {
			if i := indexFold(s.held, bodyEnd); i >= 0 {
				s.held = slicesInsert(s.held, i, s.tag)
				s.done = true
			}
		}
		// Pass on what cannot be part of a </body, keep the rest.
		keep := 0
		if !s.done && !s.eof {
			keep = partialEnd(s.held)
		}
		if len(s.held) > keep {
			n := copy(p, s.held[:len(s.held)-keep])
			s.held = s.held[n:]
			return n, nil
		}
		if s.eof {
			return 0, io.EOF
		}
		if s.done && len(s.held) == 0 {
			return s.r.Read(p)
		}
		buf := make([]byte, max(len(p), 4096))
		n, err := s.r.Read(buf)
		s.held = append(s.held, buf[:n]...)
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return 0, err
		}
	}
}

// partialEnd is the length of the longest end of b that begins a </body.
func partialEnd(b []byte) int {
	for n := min(len(b), len(bodyEnd)-1); n > 0; n-- {
		if bytes.EqualFold(b[len(b)-n:], bodyEnd[:n]) {
			return n
		}
	}
	return 0
}

func (s *streamInjector) Close() error { return s.closer.Close() }

// indexFold is bytes.Index ignoring ASCII case.
func indexFold(b, sep []byte) int {
	for i := 0; i+len(sep) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(sep)], sep) {
			return i
		}
	}
	return -1
}
