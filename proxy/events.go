package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The pages' script hears of devrun's news by server-sent events
// (EventSource) rather than a WebSocket: EventSource reconnects by itself
// (across a restart of devrun too), needs no library on either side, and
// is plain HTTP through whatever is between the browser and the proxy.
// What it costs, one HTTP/1.1 connection for each open tab out of the
// browser's six for the origin, is gone over HTTP/2, which the proxy
// speaks.
//
// Events (each data is JSON):
//
//	state  {"version": "…", "error": "…"}  on connecting and at every change:
//	       the version now served ("" while none is ready yet), and the
//	       output of the failed build, if the last one failed
//	css    {"paths": ["static/site.css"]}   stylesheets changed on disk
//	page   {"paths": ["static/app.js"]}     other files the page uses changed

// State is what the pages are told on connecting and at every change.
type State struct {
	Version string `json:"version"`         // the version served; "" while none is ready
	Error   string `json:"error,omitempty"` // the last build's failure, if it failed
}

// hub holds the state and the pages listening to it. Its methods are safe
// for concurrent use.
type hub struct {
	instance string // tells this devrun's versions from an earlier one's

	mu      sync.Mutex
	state   State
	serial  int
	clients map[chan []byte]struct{}
}

func newHub() *hub {
	b := make([]byte, 4)
	rand.Read(b)
	return &hub{instance: hex.EncodeToString(b), clients: map[chan []byte]struct{}{}}
}

// keepAlive is how often a quiet stream gets a comment, so that what is
// between it and the browser does not close it as idle.
const keepAlive = 15 * time.Second

// serve streams events to one page until it goes away.
func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan []byte, 32)
	h.mu.Lock()
	first := event("state", h.state)
	h.clients[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, ch)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// A page reconnects a quarter of a second after the stream ends (devrun
	// restarted), not the browser's default of seconds.
	fmt.Fprintf(w, "retry: 250\n\n%s", first)
	flusher.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return // it fell behind: it reconnects, and gets the state
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
			flusher.Flush()
		case <-tick.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// event formats one server-sent event.
func event(name string, data any) []byte {
	b, _ := json.Marshal(data)
	return []byte("event: " + name + "\ndata: " + string(b) + "\n\n")
}

// send sends msg to every page; a page too slow to take it is dropped, and
// gets the state when it reconnects. Called with h.mu held.
func (h *hub) send(msg []byte) {
	for ch := range h.clients {
		select {
		case ch <- msg:
		default:
			delete(h.clients, ch)
			close(ch)
		}
	}
}

// served says a new version is ready: every page reloads once. It
// returns the version's name.
func (h *hub) served() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.serial++
	h.state = State{Version: h.instance + "-" + strconv.Itoa(h.serial)}
	h.send(event("state", h.state))
	return h.state.Version
}

// failed says the last build failed with output: every page shows it
// until a new version is ready.
func (h *hub) failed(output string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state.Error = output
	h.send(event("state", h.state))
}

// changed says files the pages use changed on disk.
func (h *hub) changed(kind string, paths []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.send(event(kind, map[string][]string{"paths": paths}))
}
