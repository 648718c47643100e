package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// readyEvery is how often WaitReady tries the app.
const readyEvery = 5 * time.Millisecond

// WaitReady waits until the app at addr is ready, or ctx is done: until
// it accepts a connection; with Options.Ready, until a GET of that path
// answers 2xx or 3xx; with Options.Answer, until a GET of / answers. The
// error says what the last try got.
func (p *Proxy) WaitReady(ctx context.Context, addr string) error {
	tr := &http.Transport{DisableKeepAlives: true}
	if p.opts.H2C {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var last error
	for {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		last = p.try(tctx, client, addr)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(readyEvery):
		}
	}
}

// try tries the app once.
func (p *Proxy) try(ctx context.Context, client *http.Client, addr string) error {
	if p.opts.Ready == "" && !p.opts.Answer {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	path := p.opts.Ready
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if p.opts.Ready != "" && (resp.StatusCode < 200 || resp.StatusCode >= 400) {
		return fmt.Errorf("GET %s: %s", p.opts.Ready, resp.Status)
	}
	return nil
}

// versions remembers which version each address of the app serves, so
// that a page is marked with the version that made it.
type versions struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *Proxy) versionOf(addr string) string {
	p.vers.mu.Lock()
	defer p.vers.mu.Unlock()
	return p.vers.m[addr]
}

// Served says that the version at addr is ready and serves: every page
// open through the proxy reloads once, and a build failure shown over
// them goes away.
//
// An address the proxy no longer forwards to (a check of an older
// version's that ended late) is ignored.
func (p *Proxy) Served(addr string) {
	p.switching.Lock()
	defer p.switching.Unlock()
	if addr != p.Target() {
		return
	}
	v := p.events.served()
	p.vers.mu.Lock()
	defer p.vers.mu.Unlock()
	if p.vers.m == nil {
		p.vers.m = map[string]string{}
	}
	p.vers.m[addr] = v
}

// Failed shows output (a failed build's, escaped) over every page open
// through the proxy, and over those opened later, until the next Served.
func (p *Proxy) Failed(output string) { p.events.failed(output) }

// Changed says files the app serves from disk changed (paths relative to
// the project, slash-separated): pages restyle in place for stylesheets,
// and reload for anything else.
func (p *Proxy) Changed(paths []string) {
	var css, other []string
	for _, f := range paths {
		if strings.EqualFold(path.Ext(f), ".css") {
			css = append(css, f)
		} else {
			other = append(other, f)
		}
	}
	if len(other) > 0 {
		p.events.changed("page", paths)
		return
	}
	if len(css) > 0 {
		p.events.changed("css", css)
	}
}
