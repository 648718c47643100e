package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
)

// A forwarder forwards local ports to the dev pod, as kubectl port-forward
// does, but across pods: its listeners stay open while the pod is
// replaced (a connection made meanwhile waits for the new pod, up to
// forwardWait), and a port-forward connection that breaks (the API server
// restarted, the network dropped) is made again for the next client
// connection. Its methods are safe for concurrent use.
type forwarder struct {
	client *Client
	ports  []Forward
	log    *slog.Logger

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when pod or conn change
	pod      string        // the pod to forward to; "" while there is none
	conn     httpstream.Connection
	spare    httpstream.Connection // dialled ahead, to the same pod, for when conn ends
	sparing  bool                  // a spare is being dialled
	lns      []net.Listener
	closed   bool
	requests int
	gate     chan struct{} // closed while connections may go through; open during a swap
}

// forwardWait is how long a client's connection waits for a pod.
const forwardWait = 2 * time.Minute

func newForwarder(c *Client, ports []Forward, log *slog.Logger) *forwarder {
	gate := make(chan struct{})
	close(gate)
	return &forwarder{client: c, ports: ports, log: log, changed: make(chan struct{}), gate: gate}
}

// hold has client connections wait until release: during a swap nothing
// listens in the pod, and a forward that finds nothing there fails, and
// ends the port-forward connection with it.
func (f *forwarder) hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.gate:
		f.gate = make(chan struct{})
	default: // held already
	}
}

// release lets the held client connections through.
func (f *forwarder) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.gate:
	default:
		close(f.gate)
	}
}

// listen listens on every forwarded port.
func (f *forwarder) listen() error {
	for _, p := range f.ports {
		addr := net.JoinHostPort(p.Address, strconv.Itoa(int(p.Local)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			f.close()
			return fmt.Errorf("forwarding %s to the pod's port %d: %w (container.ports)", addr, p.Remote, err)
		}
		f.mu.Lock()
		f.lns = append(f.lns, ln)
		f.mu.Unlock()
		go f.serve(ln, p.Remote)
	}
	return nil
}

// to forwards to pod from now on.
func (f *forwarder) to(pod string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range []httpstream.Connection{f.conn, f.spare} {
		if c != nil {
			c.Close()
		}
	}
	f.conn, f.spare = nil, nil
	f.pod = pod
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, ln := range f.lns {
		ln.Close()
	}
	f.lns = nil
	for _, c := range []httpstream.Connection{f.conn, f.spare} {
		if c != nil {
			c.Close()
		}
	}
	f.conn, f.spare = nil, nil
}

func (f *forwarder) serve(ln net.Listener, port uint16) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c, port)
	}
}

// connection returns the port-forward connection to the pod, dialling it
// when there is none, and waiting (within ctx) while there is no pod.
func (f *forwarder) connection(ctx context.Context) (httpstream.Connection, int, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, 0, errors.New("devrun is stopping")
		}
		if f.conn != nil && closed(f.conn) {
			f.conn = nil
		}
		if f.conn == nil && f.spare != nil && !closed(f.spare) {
			f.conn = f.spare
		}
		if f.conn != nil {
			if f.conn == f.spare {
				f.spare = nil
			}
			f.spareUp()
			f.requests++
			defer f.mu.Unlock()
			return f.conn, f.requests, nil
		}
		pod, changed := f.pod, f.changed
		f.mu.Unlock()
		if pod != "" {
			d, err := f.client.dialer(pod)
			if err != nil {
				return nil, 0, err
			}
			conn, _, err := d.Dial(portforward.PortForwardProtocolV1Name)
			if err != nil {
				return nil, 0, fmt.Errorf("port-forward to the pod %s: %w", pod, err)
			}
			f.mu.Lock()
			if f.pod != pod || f.closed || f.conn != nil {
				f.mu.Unlock()
				conn.Close()
				continue
			}
			f.conn = conn
			f.mu.Unlock()
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("no dev pod to forward to: %w", ctx.Err())
		}
	}
}

func closed(c httpstream.Connection) bool {
	select {
	case <-c.CloseChan():
		return true
	default:
		return false
	}
}

// spareUp dials a spare connection to the pod in the background, if
// there is none: the pod's end ends a connection whenever a forward fails
// (nothing listens yet, at every swap), and a dial through the API server
// and the kubelet takes hundreds of milliseconds that the next request
// would wait. Called with f.mu held.
func (f *forwarder) spareUp() {
	if f.sparing || f.closed || f.pod == "" || f.spare != nil && !closed(f.spare) {
		return
	}
	f.sparing = true
	pod := f.pod
	go func() {
		var conn httpstream.Connection
		d, err := f.client.dialer(pod)
		if err == nil {
			conn, _, err = d.Dial(portforward.PortForwardProtocolV1Name)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sparing = false
		if err != nil {
			return
		}
		if f.pod != pod || f.closed {
			conn.Close()
			return
		}
		if f.spare != nil {
			f.spare.Close()
		}
		f.spare = conn
	}()
}

// handle forwards one client connection to port in the pod: a pair of
// streams (error, data) on the port-forward connection, as kubectl's.
func (f *forwarder) handle(c net.Conn, port uint16) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), forwardWait)
	defer cancel()
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return
	}
	var conn httpstream.Connection
	var id int
	var errStream, data httpstream.Stream
	for attempt := 0; ; attempt++ {
		var err error
		conn, id, err = f.connection(ctx)
		if err != nil {
			f.log.Warn(fmt.Sprintf("forwarding %s: %v", c.LocalAddr(), err))
			return
		}
		if errStream, data, err = streams(conn, port, id); err == nil {
			break
		}
		// A connection that broke, or that the other end ended: the next
		// attempt dials again.
		f.broken(conn)
		if attempt == 2 {
			f.log.Warn(fmt.Sprintf("forwarding %s to the pod's port %d: %v", c.LocalAddr(), port, err))
			return
		}
	}
	defer conn.RemoveStreams(errStream, data)
	errStream.Close() // nothing to send on it
	remoteErr := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(errStream)
		remoteErr <- string(b)
	}()
	fromPod := make(chan struct{})
	go func() {
		io.Copy(c, data)
		close(fromPod)
	}()
	toPod := make(chan struct{})
	go func() {
		io.Copy(data, c)
		data.Close() // the client is done sending; the answer may still come
		close(toPod)
	}()
	select {
	case <-fromPod:
	case <-toPod:
		// The client closed its end, or only its sending half: an
		// answer still being sent gets a while to arrive.
		select {
		case <-fromPod:
		case <-time.After(halfClosed):
		}
	}
	// The app closed the connection (a keep-alive one at its shutdown,
	// in a swap), or the client went and writes to it failed: the
	// client's connection ends now, so that a client does not send its
	// next request into a stream that nothing reads.
	c.Close()
	// The pod's end reports a failure (nothing listens on the port yet:
	// the app is starting) on the error stream, and then ends the whole
	// port-forward connection, as kubectl expects since 1.23: the next
	// client connection dials a new one.
	select {
	case msg := <-remoteErr:
		if msg != "" {
			f.log.Debug(fmt.Sprintf("forwarding to the pod's port %d: %s", port, msg))
			f.broken(conn)
		}
	case <-time.After(time.Second):
	}
}

// halfClosed is how long a forward goes on after the client stopped
// sending, for the answer.
const halfClosed = 30 * time.Second

// streamTimeout bounds the creation of a stream on a port-forward
// connection; spdystream's own wait is 30 s, on a connection that may
// have been ended at the other end.
const streamTimeout = 5 * time.Second

// streams creates the error and data streams of one client connection to
// port, as kubectl does, within streamTimeout.
func streams(conn httpstream.Connection, port uint16, id int) (errStream, data httpstream.Stream, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := http.Header{}
		h.Set(corev1.StreamType, corev1.StreamTypeError)
		h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
		h.Set(corev1.PortForwardRequestIDHeader, strconv.Itoa(id))
		if errStream, err = conn.CreateStream(h); err != nil {
			return
		}
		h.Set(corev1.StreamType, corev1.StreamTypeData)
		if data, err = conn.CreateStream(h); err != nil {
			conn.RemoveStreams(errStream)
		}
	}()
	select {
	case <-done:
		return errStream, data, err
	case <-time.After(streamTimeout):
		conn.Close() // ends the creation under way
		<-done
		return nil, nil, fmt.Errorf("the port-forward connection did not answer in %s", streamTimeout)
	}
}

// broken drops conn, which failed: the next client connection dials a new
// one.
func (f *forwarder) broken(conn httpstream.Connection) {
	f.mu.Lock()
	if f.conn == conn {
		f.conn = nil
	}
	f.mu.Unlock()
	conn.Close()
}
