package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func serve(t *testing.T, opts Options) *Proxy {
	t.Helper()
	p, err := Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// A request made while nothing listens at the app's address (a swap) is
// held, and answered by the app that comes up; the app sees the client in
// X-Forwarded-For.
func TestRequestsWaitForTheApp(t *testing.T) {
	app := freeAddr(t)
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: app, Wait: 30 * time.Second})
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + p.Addr() + "/x")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- resp.Status + " " + string(b)
	}()
	select {
	case g := <-got:
		t.Fatalf("answered before the app listened: %s", g)
	case <-time.After(200 * time.Millisecond):
	}
	l, err := net.Listen("tcp", app)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "v2 "+r.URL.Path+" "+r.Header.Get("X-Forwarded-For"))
	})}
	go srv.Serve(l)
	defer srv.Close()
	select {
	case g := <-got:
		if g != "200 OK v2 /x 127.0.0.1" {
			t.Errorf("got %q", g)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the held request was never answered")
	}
}

// An app that never comes back: after proxy.wait, a 502 page that says so.
func TestNoAppIsA502AfterTheWait(t *testing.T) {
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: freeAddr(t), Wait: 100 * time.Millisecond})
	resp, err := http.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "did not answer within proxy.wait (100ms)") {
		t.Errorf("%s %q", resp.Status, b)
	}
}

// A response streams through as the app writes it (server-sent events).
func TestResponsesStream(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: two\n\n")
	})}
	go srv.Serve(l)
	defer srv.Close()
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: l.Addr().String(), Wait: 100 * time.Millisecond})
	resp, err := http.Get("http://" + p.Addr() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || string(buf[:n]) != "data: one\n\n" {
		t.Fatalf("first event: %q, %v", buf[:n], err)
	}
	// Past proxy.wait: a stream is not cut by it.
	time.Sleep(200 * time.Millisecond)
	close(next)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "data: two\n\n" {
		t.Errorf("second event: %q", rest)
	}
}

// A proxy address that is taken is an error naming the key.
func TestListenErrorNamesTheKey(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Listen(Options{Listen: l.Addr().String(), Target: "127.0.0.1:1"}); err == nil || !strings.HasPrefix(err.Error(), "proxy.listen: ") {
		t.Errorf("Listen on a taken address: %v", err)
	}
}

// A port that accepts and at once closes (Docker's published port while
// the app in the container does not listen yet): a GET is sent again
// until the app answers; a POST, which may not be sent twice, is a 502
// at once that does not blame proxy.wait.
func TestAcceptedAndClosedIsTriedAgain(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var closed atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the app") })}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if closed.Add(1) <= 20 {
				c.Close() // the publisher, with nothing behind it yet
				continue
			}
			srv.Serve(&oneConn{c: c, addr: l.Addr()})
		}
	}()
	t.Cleanup(func() { l.Close(); srv.Close() })
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: l.Addr().String(), Wait: 30 * time.Second})
	resp, err := http.Post("http://"+p.Addr()+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(b), "within proxy.wait") {
		t.Errorf("POST: %s %s", resp.Status, b)
	}
	resp, err = http.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "the app" {
		t.Errorf("GET after %d closed connections: %s %s", closed.Load(), resp.Status, b)
	}
}

// oneConn is a net.Listener of one connection, so that a server can serve
// a connection accepted elsewhere.
type oneConn struct {
	c    net.Conn
	addr net.Addr
	done bool
	mu   sync.Mutex
}

func (o *oneConn) Accept() (net.Conn, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return nil, net.ErrClosed
	}
	o.done = true
	return o.c, nil
}
func (o *oneConn) Close() error   { return nil }
func (o *oneConn) Addr() net.Addr { return o.addr }
