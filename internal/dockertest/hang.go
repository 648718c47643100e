package dockertest

import (
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// A HangingEngine is a socket in front of the machine's engine that
// forwards everything until Freeze, and then forwards nothing more: new
// connections are accepted and never answered, and the open ones (an
// attach stream) go silent. It is how a Docker Desktop VM that froze
// looks to a client. The test's cleanup closes it and every connection.
type HangingEngine struct {
	// Host is the DOCKER_HOST value that reaches it.
	Host string

	mu     sync.Mutex
	frozen chan struct{} // closed by Freeze
	closed chan struct{} // closed at cleanup
	conns  []net.Conn
}

// NewHangingEngine starts a HangingEngine in front of the engine at the
// unix socket target (default /var/run/docker.sock), or, with target "",
// one frozen from the start.
func NewHangingEngine(t testing.TB, target string) *HangingEngine {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "hang.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	h := &HangingEngine{Host: "unix://" + sock, frozen: make(chan struct{}), closed: make(chan struct{})}
	if target == "" {
		h.Freeze()
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.track(c)
			go h.serve(c, target)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		close(h.closed)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			c.Close()
		}
	})
	return h
}

// Freeze makes the engine stop answering.
func (h *HangingEngine) Freeze() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.frozen:
	default:
		close(h.frozen)
	}
}

func (h *HangingEngine) track(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns = append(h.conns, c)
}

func (h *HangingEngine) isFrozen() bool {
	select {
	case <-h.frozen:
		return true
	default:
		return false
	}
}

func (h *HangingEngine) serve(c net.Conn, target string) {
	if h.isFrozen() {
		<-h.closed // accepted, never answered
		return
	}
	up, err := net.Dial("unix", target)
	if err != nil {
		c.Close()
		return
	}
	h.track(up)
	go h.pipe(up, c)
	h.pipe(c, up)
}

// pipe copies from src to dst until Freeze, then holds what it reads.
func (h *HangingEngine) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if h.isFrozen() {
			<-h.closed
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
