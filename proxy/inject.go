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
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"slices"
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
	raw := bufio.NewReader(resp.Body)
	body, err := decode(raw)
	if err != nil {
		// Not what it says it is: passed on as it is.
		resp.Body = readCloser{raw, resp.Body}
		return nil
	}
	if resp.ContentLength >= 0 && resp.ContentLength <= maxBuffered {
		// Of a known length: read whole, decoded, the script put before
		// its last </body, its length fixed.
		page, err := io.ReadAll(io.LimitReader(body, maxBuffered+1))
		if err != nil {
			resp.Body.Close()
			return fmt.Errorf("reading the app's page: %w", err)
		}
		if len(page) <= maxBuffered {
			resp.Body.Close()
			if i := lastBodyEnd(page); i >= 0 {
				page = slicesInsert(page, i, tag)
				addToPolicy(resp.Header)
				noValidators(resp.Header)
			}
			resp.Body = io.NopCloser(bytes.NewReader(page))
			resp.ContentLength = int64(len(page))
			resp.Header.Set("Content-Length", strconv.Itoa(len(page)))
			resp.Header.Del("Content-Encoding")
			return nil
		}
		body = io.MultiReader(bytes.NewReader(page), body) // larger decoded: it streams
	}
	// Of unknown length: the page streams through, and the script goes
	// at its end, after its </body>.
	resp.Body = &streamInjector{r: body, closer: resp.Body, tag: tag}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	resp.Header.Del("Content-Encoding")
	addToPolicy(resp.Header)
	noValidators(resp.Header)
	return nil
}

// limitEncodings keeps, of a request's Accept-Encoding, the codings
// devrun can decode to put the script in (Chromium asks for zstd too).
func limitEncodings(h http.Header) {
	ae := h.Get("Accept-Encoding")
	if ae == "" {
		return
	}
	var keep []string
	for _, c := range strings.Split(ae, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(c), ";")
		if _, ok := decoders[strings.ToLower(strings.TrimSpace(name))]; ok {
			keep = append(keep, strings.TrimSpace(c))
		}
	}
	if len(keep) == 0 {
		keep = []string{"identity"}
	}
	h.Set("Accept-Encoding", strings.Join(keep, ", "))
}

// isHTML reports whether resp is an HTML page with a body.
func isHTML(resp *http.Response) bool {
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return false
	}
	switch {
	case resp.StatusCode < 200, resp.StatusCode == http.StatusNoContent, resp.StatusCode == http.StatusNotModified,
		resp.StatusCode == http.StatusPartialContent: // a range of a page
		return false
	}
	if d, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); d == "attachment" {
		return false // a download, not a page
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// decoders undo the content codings devrun reads.
var decoders = map[string]func(io.Reader) (io.Reader, error){
	"":         func(r io.Reader) (io.Reader, error) { return r, nil },
	"identity": func(r io.Reader) (io.Reader, error) { return r, nil },
	"gzip":     gunzip,
	"x-gzip":   gunzip,
	"br":       func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
	"deflate": func(r io.Reader) (io.Reader, error) {
		// RFC 9110's deflate is zlib's format; some servers send raw
		// deflate: the first two bytes tell which.
		br := r.(*bufio.Reader)
		h, err := br.Peek(2)
		if err == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			return zlib.NewReader(br)
		}
		return flate.NewReader(br), nil
	},
}

// gunzip decodes gzip, once its first bytes say it is gzip: a body that
// is not is then passed on whole.
func gunzip(r io.Reader) (io.Reader, error) {
	br := r.(*bufio.Reader)
	if h, err := br.Peek(2); err != nil || h[0] != 0x1f || h[1] != 0x8b {
		return nil, errors.New("not gzip")
	}
	return gzip.NewReader(br)
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
		// Connections, for the events: connect-src, or default-src where
		// there is none (then a connect-src of its sources and 'self' is
		// added, leaving the other kinds alone).
		connect, def := -1, -1
		for i, d := range ds {
			if f := strings.Fields(d); len(f) > 0 {
				switch strings.ToLower(f[0]) {
				case "connect-src":
					connect = i
				case "default-src":
					def = i
				}
			}
		}
		if connect < 0 && def >= 0 && !allowsSelf(ds[def]) {
			ds = append(ds, " connect-src "+strings.Join(strings.Fields(ds[def])[1:], " "))
			connect = len(ds) - 1
		}
		if connect >= 0 && !allowsSelf(ds[connect]) {
			ds[connect] = addSource(ds[connect], "'self'")
		}
		if i := scriptDirective(ds); i >= 0 {
			// The hash, unless 'unsafe-inline' allows the script (and a
			// hash would turn it off); 'unsafe-inline' beside a nonce or
			// a hash allows nothing already.
			lower := strings.ToLower(ds[i])
			if !strings.Contains(lower, "'unsafe-inline'") || strings.Contains(lower, "'nonce-") || strings.Contains(lower, "'sha") {
				ds[i] = addSource(ds[i], scriptHash)
			}
		}
		out[n] = strings.Join(ds, ";")
	}
	h["Content-Security-Policy"] = out
}

// allowsSelf reports whether a directive allows the page's own origin.
func allowsSelf(directive string) bool {
	srcs := strings.Fields(strings.ToLower(directive))[1:]
	return slices.Contains(srcs, "'self'") || slices.Contains(srcs, "*")
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

// streamInjector passes a page through as it comes, unchanged, and adds
// tag at its end if a </body went by: the browser puts what follows
// </body></html> into the body. (Before the first </body could be inside
// a script's string or a comment; the end is never.) A page that never
// ends gets no script.
type streamInjector struct {
	r      io.Reader
	closer io.Closer
	tag    []byte
	seen   bool   // a </body went by
	tail   []byte // the last bytes passed, which may begin a </body
	ended  bool   // the page ended
	rest   []byte // what is left to pass of the tag, once the page ended
}

func (s *streamInjector) Read(p []byte) (int, error) {
	if s.ended {
		if len(s.rest) == 0 {
			return 0, io.EOF
		}
		n := copy(p, s.rest)
		s.rest = s.rest[n:]
		return n, nil
	}
	n, err := s.r.Read(p)
	if n > 0 && !s.seen {
		look := append(s.tail, p[:n]...)
		if indexFold(look, bodyEnd) >= 0 {
			s.seen = true
		}
		s.tail = append(s.tail[:0], look[len(look)-partialEnd(look):]...)
	}
	if err == io.EOF {
		s.ended = true
		if s.seen {
			s.rest = s.tag
		}
		if n > 0 || len(s.rest) > 0 {
			return n, nil // the tag and the end come with the next Reads
		}
	}
	return n, err
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

// readCloser reads from r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }
