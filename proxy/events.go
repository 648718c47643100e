package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The pages' script hears of devrun's news over a WebSocket, not
// server-sent events (EventSource), though those reconnect by themselves
// and need no library: browsers speak HTTP/1.1 to http:// (never h2c),
// and give an origin six connections, so that an event stream held open
// by each page left a seventh tab of the app waiting for its page
// (TestEightTabsAllLoadAndReload). WebSockets do not count against those
// six. The script connects again a quarter of a second after the socket
// closes (devrun restarted).
//
// Messages, devrun to the page, each a JSON object:
//
//	{"type": "state", "version": "…", "error": "…"}  on connecting and at
//	       every change: the version now served ("" while none is ready
//	       yet), and the output of the failed build, if the last one failed
//	{"type": "css", "paths": ["static/site.css"]}    stylesheets changed on disk
//	{"type": "page", "paths": ["static/app.js"]}     other files the page uses changed
//
// The page sends nothing. Pages of another origin cannot connect.

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

// keepAlive is how often a quiet socket is pinged, so that what is
// between it and the browser does not close it as idle, and a page gone
// without a word is noticed.
const keepAlive = 15 * time.Second

// serve streams events to one page until it goes away.
func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // refuses another origin
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context()) // done once the page goes away
	ch := make(chan []byte, 32)
	h.mu.Lock()
	first := message("state", h.state)
	h.clients[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, ch)
		h.mu.Unlock()
	}()
	write := func(msg []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, msg) == nil
	}
	if !write(first) {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				// It fell behind, or devrun stops: it connects again, and
				// gets the state.
				c.Close(websocket.StatusGoingAway, "")
				return
			}
			if !write(msg) {
				return
			}
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// closeAll ends every page's socket (the proxy shuts down); the pages
// connect again to the next devrun.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.clients {
		delete(h.clients, ch)
		close(ch)
	}
}

// message formats one message: fields with their type.
func message(typ string, fields any) []byte {
	b, _ := json.Marshal(fields)
	t, _ := json.Marshal(typ)
	if string(b) == "{}" {
		return []byte(`{"type":` + string(t) + `}`)
	}
	return []byte(`{"type":` + string(t) + "," + string(b[1:]))
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
	h.send(message("state", h.state))
	return h.state.Version
}

// failed says the last build failed with output: every page shows it
// until a new version is ready.
func (h *hub) failed(output string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state.Error = output
	h.send(message("state", h.state))
}

// changed says files the pages use changed on disk.
func (h *hub) changed(kind string, paths []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.send(message(kind, map[string][]string{"paths": paths}))
}
