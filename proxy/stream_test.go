package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/http2"
)

// version serves one version of a streaming app on a free port: a
// WebSocket echo at /ws, server-sent events at /sse, and its name at /.
// stop ends it as the end of its process would: every connection closed.
func version(t *testing.T, name string) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if c.Write(r.Context(), typ, []byte(name+":"+string(msg))) != nil {
				return
			}
		}
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %s %d\n\n", name, i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}}
	go srv.Serve(l)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			srv.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close() // hijacked ones too, as a process's end does
			}
		})
	}
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

// WebSocket and SSE connections through the proxy live on while other
// requests come and go, and end cleanly, at once, when their version
// stops at a swap; new ones reach the new version.
func TestStreamsLiveUntilTheirVersionStops(t *testing.T) {
	v1, stop1 := version(t, "v1")
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: v1})
	base := "http://" + p.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ws, _, err := websocket.Dial(ctx, "ws://"+p.Addr()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	sse, err := http.Get(base + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	events := bufio.NewReader(sse.Body)

	// Unrelated traffic meanwhile.
	var others atomic.Int64
	stopTraffic := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stopTraffic:
					return
				default:
				}
				if resp, err := http.Get(base + "/"); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					others.Add(1)
				}
			}
		})
	}
	for i := range 50 {
		msg := fmt.Sprint(i)
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if _, got, err := ws.Read(ctx); err != nil || string(got) != "v1:"+msg {
			t.Fatalf("message %d: %q, %v", i, got, err)
		}
	}
	for range 5 {
		if line, err := readEvent(events); err != nil || !strings.HasPrefix(line, "data: v1 ") {
			t.Fatalf("event: %q, %v", line, err)
		}
	}
	close(stopTraffic)
	wg.Wait()
	if others.Load() == 0 {
		t.Fatal("no other request was answered")
	}

	// The swap: v2 serves, v1 stops.
	v2, _ := version(t, "v2")
	p.Switch(v2)
	stop1()
	began := time.Now()
	if _, _, err := ws.Read(ctx); err == nil {
		t.Error("the WebSocket to the stopped version still reads")
	}
	for {
		if _, err := readEvent(events); err != nil {
			break
		}
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the streams ended %s after their version stopped", d)
	}
	ws2, _, err := websocket.Dial(ctx, "ws://"+p.Addr()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	ws2.Write(ctx, websocket.MessageText, []byte("x"))
	if _, got, err := ws2.Read(ctx); err != nil || string(got) != "v2:x" {
		t.Errorf("a new WebSocket after the swap: %q, %v", got, err)
	}
	ws2.Close(websocket.StatusNormalClosure, "")
}

func readEvent(r *bufio.Reader) (string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line = strings.TrimSpace(line); line != "" {
			return line, nil
		}
	}
}

// A client speaking HTTP/2 without TLS (h2c, with prior knowledge) is
// answered through the proxy, streams included.
func TestHTTP2WithoutTLS(t *testing.T) {
	v1, _ := version(t, "v1")
	p := serve(t, Options{Listen: "127.0.0.1:0", Target: v1})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
	resp, err := client.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "v1" {
		t.Errorf("%s %q, want HTTP/2 and v1", resp.Proto, body)
	}
	resp, err = client.Get("http://" + p.Addr() + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := readEvent(bufio.NewReader(resp.Body)); err != nil || line != "data: v1 0" {
		t.Errorf("SSE over h2c: %q, %v", line, err)
	}
}

// With H2C, the proxy speaks HTTP/2 without TLS to an app that speaks
// nothing else, streams included.
func TestH2CToTheApp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Protocols: new(http.Protocols), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "data: %s\n\n", r.Proto)
		w.(http.Flusher).Flush()
	})}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	for _, h2c := range []bool{false, true} {
		p := serve(t, Options{Listen: "127.0.0.1:0", Target: l.Addr().String(), Wait: time.Second, H2C: h2c})
		resp, err := http.Get("http://" + p.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ok := resp.StatusCode == http.StatusOK && string(b) == "data: HTTP/2.0\n\n"; ok != h2c {
			t.Errorf("H2C %v: %s %q", h2c, resp.Status, b)
		}
	}
}
