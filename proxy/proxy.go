// Package proxy is devrun's reverse proxy in front of the app, so that no
// request sees the app down: while a swap stops the old version and starts
// the new one, the proxy holds each request, trying the app again every
// millisecond, until it answers or Wait passes; then it answers 502 with
// what it tried. Requests that are safe to send twice (GET, HEAD, OPTIONS
// without a body) and that the old version dropped as it stopped are sent
// again to the new one.
//
// It is the standard library's httputil.ReverseProxy: X-Forwarded-*
// headers are set, responses stream (SSE), and WebSocket upgrades pass
// through. Clients may speak HTTP/1.1 or HTTP/2 without TLS (h2c, with
// prior knowledge); the proxy speaks HTTP/1.1 to the app, or h2c (H2C).
//
// The proxy also reloads the browser: into each HTML page it puts one
// small script (see inject.go) that listens to devrun's events under
// /__devrun/ (see events.go) and reloads the page once the new version
// answers, shows a failed build's output over the page, and restyles it
// when a stylesheet changes. Nothing else of devrun is served there.
//
// A Proxy is made by Listen and served by Serve, once. Its other methods
// are safe for concurrent use.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Proxy.
type Options struct {
	Listen string        // the address it listens on, such as 127.0.0.1:3000
	Target string        // the app's address, host:port
	Wait   time.Duration // how long a request waits for the app; default 30 s
	// Hint, when set, is said when the app does not answer: what the app
	// is expected to do ("devrun gave the app PORT=41234: does it listen there?").
	Hint string
	Log  *slog.Logger // devrun's messages; default discarded
	// NoScript leaves HTML pages as the app made them: no reload script,
	// no overlay (proxy.reload false).
	NoScript bool
	// Ready, when set, is the path of the app that tells it is ready: a
	// GET of it must answer 2xx or 3xx. By default a version is ready once
	// it accepts a connection. See WaitReady.
	Ready string
	// Answer makes a version ready, without Ready, once it answers HTTP
	// (a GET of /, with any status) rather than once it accepts a
	// connection: for an app behind a port that something else accepts
	// on before the app listens (Docker's published ports).
	Answer bool
	// H2C speaks HTTP/2 without TLS to the app (prior knowledge), for an
	// app that speaks only that (a gRPC server); HTTP/1.1 otherwise.
	H2C bool
}

// A Proxy forwards to the app; see the package's doc.
type Proxy struct {
	opts   Options
	ln     net.Listener
	srv    *http.Server
	target atomic.Pointer[string] // the app's address now; Switch changes it
	events *hub
	vers   versions
	// transport is the one to the app. Its connections are kept by the
	// address a request was sent to; a connection dialled for a request
	// held across a Switch is to the new address.
	transport *http.Transport
	switching sync.Mutex // held by Switch and Served
}

// retryEvery is how often a held request tries the app again.
const retryEvery = time.Millisecond

// Listen checks opts and listens on opts.Listen.
func Listen(opts Options) (*Proxy, error) {
	if opts.Wait <= 0 {
		opts.Wait = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if _, _, err := net.SplitHostPort(opts.Target); err != nil {
		return nil, fmt.Errorf("the app's address %q: %w", opts.Target, err)
	}
	if opts.Ready != "" && !strings.HasPrefix(opts.Ready, "/") {
		return nil, fmt.Errorf("proxy.ready: %q is not a path: it starts with /, such as /healthz", opts.Ready)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("proxy.listen: %w", err)
	}
	p := &Proxy{opts: opts, ln: ln, events: newHub()}
	p.target.Store(&opts.Target)
	tr := &http.Transport{
		DialContext:         p.dial,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
		// The client's Accept-Encoding only: the app's coding passes on
		// (or is decoded to put the script in), never undone unasked.
		DisableCompression: true,
	}
	if opts.H2C {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	p.transport = tr
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			// The version the request is sent to: a page is marked with it,
			// and reloads when a newer one is ready.
			target := p.target.Load()
			r.Out = r.Out.WithContext(context.WithValue(r.Out.Context(), targetKey{}, target))
			r.SetURL(&url.URL{Scheme: "http", Host: *target})
			r.SetXForwarded()
			r.Out.Host = r.In.Host
			if !opts.NoScript {
				limitEncodings(r.Out.Header)
			}
		},
		Transport:     retrying{tr, opts.Wait},
		FlushInterval: -1, // stream: SSE and long responses pass as they come
		ErrorHandler:  p.failed,
	}
	if !opts.NoScript {
		rp.ModifyResponse = p.inject
	}
	// Not a ServeMux: the app gets every path as the client sent it
	// (a ServeMux cleans //, /./ and redirects).
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, reserved) {
			rp.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == eventsPath && !opts.NoScript {
			p.events.serve(w, r)
			return
		}
		http.Error(w, "devrun's proxy serves nothing else under "+reserved, http.StatusNotFound)
	})
	p.srv = &http.Server{Handler: handler, ReadHeaderTimeout: time.Minute, Protocols: new(http.Protocols)}
	p.srv.Protocols.SetHTTP1(true)
	p.srv.Protocols.SetUnencryptedHTTP2(true)
	p.srv.RegisterOnShutdown(p.events.closeAll) // the pages' sockets, which Shutdown does not wait for
	return p, nil
}

// reserved is the path under which devrun serves its events; eventsPath is
// the only thing there.
const (
	reserved   = "/__devrun/"
	eventsPath = reserved + "events"
)

// targetKey is the context key of the address a request was sent to.
type targetKey struct{}

// Target is the app's address the proxy forwards to now.
func (p *Proxy) Target() string { return *p.target.Load() }

// Switch makes the proxy forward new requests to addr, a new version
// that is ready; requests under way finish with the one they reached.
func (p *Proxy) Switch(addr string) {
	p.switching.Lock()
	defer p.switching.Unlock()
	p.target.Store(&addr)
	p.transport.CloseIdleConnections() // to the old version, of no more use
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Serve serves until ctx is done, then closes, giving requests under way a
// second to finish.
func (p *Proxy) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if p.srv.Shutdown(sctx) != nil {
			p.srv.Close()
		}
	})
	defer stop()
	if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

// Close closes a Proxy that was never served.
func (p *Proxy) Close() error { return p.ln.Close() }

// dial connects to the app, trying again while it refuses (it is being
// swapped), until ctx is done. Each try is to the address the proxy
// forwards to then: a request held while the app starts again on another
// port goes there.
func (p *Proxy) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(actx, network, p.Target())
		cancel()
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// targetOf is the address the request of ctx was sent to.
func targetOf(ctx context.Context, p *Proxy) string {
	if t, ok := ctx.Value(targetKey{}).(*string); ok {
		return *t
	}
	return p.Target()
}

// failed answers 502 when the app did not answer in time.
func (p *Proxy) failed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	hint := ""
	if p.opts.Hint != "" {
		hint = "; " + p.opts.Hint
	}
	why := "did not answer"
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		why = fmt.Sprintf("did not answer within proxy.wait (%s)", p.opts.Wait)
	}
	target := targetOf(r.Context(), p)
	if strings.HasSuffix(target, ":0") {
		target = "(not started yet)"
	}
	p.opts.Log.Warn(fmt.Sprintf("proxy: %s %s: the app at %s %s: %v%s", r.Method, r.URL.Path, target, why, err, hint))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	script := ""
	if !p.opts.NoScript {
		// The page reloads itself once a version serves.
		script = string(scriptTag(nil, ""))
	}
	fmt.Fprintf(w, "<!doctype html><title>devrun: the app does not answer</title><body><h1>devrun: the app does not answer</h1><p>The app at %s %s: %s.</p><p>%s</p><p>devrun's log says whether it is building, failed to build, or crashed.</p>%s</body>\n",
		html.EscapeString(target), html.EscapeString(why), html.EscapeString(err.Error()), html.EscapeString(p.opts.Hint), script)
}

// retrying is a RoundTripper that waits for the app at most wait for a
// response's headers (not for its body: an SSE stream or a WebSocket
// lives as long as the client keeps it), and sends a request that is safe
// to send twice again when the app dropped it (the old version stopping
// under it).
type retrying struct {
	rt   http.RoundTripper
	wait time.Duration
}

func (t retrying) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(r.Context())
	timer := time.AfterFunc(t.wait, cancel)
	deadline := time.Now().Add(t.wait)
	resp, err := t.rt.RoundTrip(r.WithContext(ctx))
	// A request safe to send twice is sent again whatever went wrong
	// before its response came: the app may be going away under it (a
	// reset, an EOF, a connection it closed as idle, a port publisher
	// that accepted for an app not listening yet).
	for err != nil && replayable(r) && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(retryEvery):
		}
		resp, err = t.rt.RoundTrip(r.WithContext(ctx))
	}
	if err != nil {
		timer.Stop()
		cancel()
		return nil, err
	}
	timer.Stop()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The body is the upgraded connection, which the ReverseProxy
		// needs as it is; the request's own end ends it.
		context.AfterFunc(r.Context(), cancel)
		return resp, nil
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// replayable reports whether r may be sent again: an idempotent method with
// no body.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return r.Body == nil || r.Body == http.NoBody
	}
	return false
}

// cancelOnClose releases a response's context once its body is closed.
type cancelOnClose struct {
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Read(b []byte) (int, error) { return c.body.Read(b) }
func (c cancelOnClose) Close() error {
	err := c.body.Close()
	c.cancel()
	return err
}
