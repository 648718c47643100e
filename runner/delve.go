package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/rpc/jsonrpc"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DelveInstall is how to install Delve, for the message that says it is
// missing. (Debian's delve package is years older than the go it ships.)
const DelveInstall = "go install github.com/go-delve/delve/cmd/dlv@latest"

// delveGrace is how long Delve has to end, and kill the app it launched,
// once it is told to: after it, what is left of its tree is killed.
const delveGrace = time.Second

// Delve starts the app under Delve, the Go debugger (dlv exec): headless,
// serving its JSON-RPC API (v2) and DAP on one address, to any number of
// clients at once or in turn. Each start is a new Delve on the same
// address, so an editor attaches again after a swap and sets its
// breakpoints in the new version. The app runs as Host says: its arguments,
// environment, directory, stop signal and timeout, and its output, which
// goes to Host's Stdout and Stderr untouched. Delve's own lines go to Log.
//
// A stop sends the stop signal to the app itself first, and Delve passes it
// on, so the app's graceful shutdown runs as it does without a debugger.
// When the app is halted (at a breakpoint, or waiting for a client with
// Wait), or has not exited within the stop timeout, Delve is told to end
// (SIGTERM: it kills the app it launched), and after delveGrace whatever is
// left is killed. Stop returns only once Delve and the app have exited, so
// the next Delve finds its address free.
//
// Its fields must not be changed once Start has been called; Start is safe
// for concurrent use, though two Delves cannot listen on one address.
type Delve struct {
	Host   *Host
	Dlv    string // the dlv binary; "dlv" from PATH when empty
	Listen string // HOST:PORT Delve listens on
	// Wait leaves the app halted before its first instruction until a
	// client continues it, to debug what it does as it starts; by default
	// it runs at once (dlv --continue) and halts at breakpoints only.
	Wait bool
	Log  *slog.Logger // Delve's own lines; default discarded
}

// Start starts Delve, which starts the binary a, and returns once Delve
// answers on its address. ctx bounds the start.
func (d *Delve) Start(ctx context.Context, a Artifact) (Process, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dlv := d.Dlv
	if dlv == "" {
		dlv = "dlv"
	}
	path, err := exec.LookPath(dlv)
	if err != nil {
		return nil, fmt.Errorf("finding Delve (%s): %w; install it with: %s (or set run.debug_dlv to its path)", dlv, err, DelveInstall)
	}
	// A stranger on the address would answer for Delve: say so instead.
	l, err := net.Listen("tcp", d.Listen)
	if err != nil {
		return nil, fmt.Errorf("run.debug_listen %s is not free (another debugger, or another devrun?): %w", d.Listen, err)
	}
	l.Close()
	h := d.Host
	args := []string{"exec", "--headless", "--accept-multiclient", "--api-version=2", "--listen=" + d.Listen}
	if !d.Wait {
		args = append(args, "--continue")
	}
	out, err := appOutput(h.Stdout, h.Stderr)
	if err != nil {
		return nil, fmt.Errorf("starting Delve: %w", err)
	}
	defer out.closeParent() // on every path
	args = append(args, out.args...)
	args = append(args, string(a), "--")
	args = append(args, h.Args...)
	cmd, err := h.command(path, args...)
	if err != nil {
		return nil, err
	}
	lines := &lineLog{log: log, prefix: "delve: "}
	if out.args == nil { // the app writes to Delve's own output
		cmd.Stdout, cmd.Stderr = h.Stdout, h.Stderr
	} else {
		cmd.Stdout, cmd.Stderr = lines, lines
	}
	cmd.ExtraFiles = out.files
	t := newTree(cmd)
	softParentDeath(cmd.SysProcAttr) // Delve, told by SIGTERM, kills the app it launched
	host := *h
	host.StopSignal, host.StopTimeout = syscall.SIGTERM, delveGrace
	dp, err := host.launch(cmd, t, Artifact(path))
	if err != nil {
		return nil, err
	}
	out.closeParent() // dlv has them now: the copies end when it and the app close theirs
	p := &delveProcess{dlv: dp, out: out, api: delveAPI{addr: d.Listen}, done: make(chan struct{})}
	p.signal, p.timeout = h.stopping()
	if err := p.connect(ctx); err != nil {
		dp.Stop(context.Background())
		if last := lines.last(); last != "" {
			err = fmt.Errorf("%w: %s", err, last)
		}
		return nil, fmt.Errorf("starting Delve: %w", err)
	}
	if h.PIDFile != "" {
		// The app is a process group of its own, which Delve made: a
		// devrun killed before it could stop it leaves two.
		f, err := os.OpenFile(h.PIDFile, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			fmt.Fprintf(f, "%d %s\n", p.app, a)
			f.Close()
		}
	}
	go p.watch()
	return p, nil
}

// connect waits until Delve answers on its address, and learns the app's
// PID from it.
func (p *delveProcess) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		var out struct{ Pid int }
		err := p.api.call(ctx, "ProcessPid", struct{}{}, &out)
		if err == nil && out.Pid > 0 {
			p.app = out.Pid
			return nil
		}
		select {
		case <-p.dlv.done:
			return fmt.Errorf("dlv exited (%v)", p.dlv.err)
		case <-ctx.Done():
			return fmt.Errorf("waiting for Delve to answer on %s: %w", p.api.addr, context.Cause(ctx))
		case <-time.After(delay):
		}
	}
}

// delveProcess is one start of the app under Delve: Delve's tree, the app
// among it. It is done when the app has exited, or Delve has.
type delveProcess struct {
	dlv     *hostProcess
	out     *appFiles // the app's output
	api     delveAPI
	app     int // the app's PID
	signal  syscall.Signal
	timeout time.Duration
	done    chan struct{}
	err     error // written before done is closed
	stop    sync.Mutex
}

func (p *delveProcess) Done() <-chan struct{} { return p.done }

func (p *delveProcess) Err() error {
	<-p.done
	return p.err
}

// watch closes done once the app has exited (Delve stays, for its
// clients) or Delve has. Delve has no way to tell a client that is not
// waiting on the app, so the app's PID is polled.
func (p *delveProcess) watch() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.dlv.done:
			// Delve ended with the app, or is being killed with what is
			// left of its tree: the app goes within moments then.
			deadline := time.Now().Add(2 * time.Second)
			for pidAlive(p.app) && time.Now().Before(deadline) {
				<-tick.C
			}
			if pidAlive(p.app) {
				p.err = fmt.Errorf("dlv exited (%v), leaving the app", p.dlv.err)
			} else {
				p.err = delveExit(-1)
			}
			close(p.done)
			return
		case <-tick.C:
			if !pidAlive(p.app) {
				p.err = p.exitStatus()
				close(p.done)
				return
			}
		}
	}
}

// exitStatus asks Delve how the app exited.
func (p *delveProcess) exitStatus() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out struct {
		State struct {
			Exited     bool `json:"exited"`
			ExitStatus int  `json:"exitStatus"`
		}
	}
	// Blocking: Delve may still be finishing the continue that saw the exit.
	err := p.api.call(ctx, "State", map[string]bool{"NonBlocking": false}, &out)
	code := out.State.ExitStatus
	switch {
	case err != nil:
		// Delve answers with its error for an exited process.
		var pid int
		if n, _ := fmt.Sscanf(err.Error(), "Process %d has exited with status %d", &pid, &code); n != 2 {
			return delveExit(-1) // killed, as far as devrun can tell
		}
	case !out.State.Exited:
		return delveExit(-1)
	}
	switch {
	case code == 0:
		return nil
	case code < 0: // -N: ended by signal N
		return delveExit(-1)
	}
	return delveExit(code)
}

// halted reports whether Delve holds the app halted: at a breakpoint, or
// before its start.
func (p *delveProcess) halted(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var out struct {
		State struct {
			Running bool
			Exited  bool `json:"exited"`
		}
	}
	err := p.api.call(ctx, "State", map[string]bool{"NonBlocking": true}, &out)
	return err == nil && !out.State.Running && !out.State.Exited
}

// Stop stops the app as the type's doc says, then Delve.
func (p *delveProcess) Stop(ctx context.Context) error {
	p.stop.Lock()
	defer p.stop.Unlock()
	select {
	case <-p.done:
	default:
		if signalApp(p.app, p.signal) && !p.halted(ctx) {
			wctx, cancel := context.WithTimeout(ctx, p.timeout)
			select {
			case <-p.done:
			case <-wctx.Done():
			}
			cancel()
		}
	}
	p.dlv.Stop(ctx)
	<-p.done
	p.out.wait()
	return p.err
}

// delveExit is how the app under Delve exited: its code, or -1 when a
// signal ended it.
type delveExit int

func (e delveExit) Error() string {
	if e < 0 {
		return "killed"
	}
	return fmt.Sprintf("exit status %d", int(e))
}

// ExitCode returns the app's exit code, -1 when a signal ended it.
func (e delveExit) ExitCode() int { return int(e) }

// delveAPI calls Delve's JSON-RPC API (version 2) at addr, over a new
// connection each time, so that devrun never stands among the editor's
// clients for long.
type delveAPI struct{ addr string }

// call calls RPCServer.method, bounded by ctx and a few seconds.
func (d delveAPI) call(ctx context.Context, method string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c := jsonrpc.NewClient(conn)
	defer c.Close()
	return c.Call("RPCServer."+method, in, out)
}

// appFiles is where the app Delve launches writes: files that dlv passes
// on as its descriptors 3 and 4 (args says so to Delve), and pipes copied
// to writers that are not files.
type appFiles struct {
	args   []string   // dlv's --redirect arguments; none: the app writes to dlv's output
	files  []*os.File // dlv's ExtraFiles
	parent []*os.File // the write ends devrun closes once dlv has them
	copies sync.WaitGroup
}

// wait waits until the app's output has been copied, up to a second: a
// process that escaped the stop may hold a pipe open.
func (f *appFiles) wait() {
	done := make(chan struct{})
	go func() { f.copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// closeParent closes devrun's copies of the write ends.
func (f *appFiles) closeParent() {
	for _, w := range f.parent {
		w.Close()
	}
	f.parent = nil
}

// isTerminal reports whether f is a character device: a terminal, or
// /dev/null.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newAppFiles makes the app's stdout and stderr, for redirects of
// /dev/fd/3 and /dev/fd/4.
func newAppFiles(stdout, stderr io.Writer) (*appFiles, error) {
	f := &appFiles{args: []string{"--redirect=stdout:/dev/fd/3", "--redirect=stderr:/dev/fd/4"}}
	for _, w := range []io.Writer{stdout, stderr} {
		// A terminal goes as it is, and stays one for the app. Anything
		// else goes through a pipe: dlv opens /dev/fd/N anew, and on Linux
		// that truncates a file and writes it from its start.
		if file, ok := w.(*os.File); ok && isTerminal(file) {
			f.files = append(f.files, file)
		} else {
			r, pw, err := os.Pipe()
			if err != nil {
				f.closeParent()
				return nil, err
			}
			if w == nil {
				w = io.Discard
			}
			f.files, f.parent = append(f.files, pw), append(f.parent, pw)
			f.copies.Add(1)
			go func() { // until the app and Delve have closed pw
				defer f.copies.Done()
				io.Copy(w, r)
				r.Close()
			}()
		}
	}
	return f, nil
}

// DelveLineShown reports whether a line of Delve's own output is worth
// showing among devrun's: not the app's exit, which devrun reports itself.
func DelveLineShown(line string) bool { return !strings.HasSuffix(line, "Stop reason: exited") }

// lineLog writes each line written to it to log, prefixed, and keeps the
// last one. exec.Cmd writes to it from one goroutine.
type lineLog struct {
	log    *slog.Logger
	prefix string
	buf    []byte
	mu     sync.Mutex
	lastL  string
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(l.buf[:i]), "\r")
		l.buf = l.buf[i+1:]
		if line == "" {
			continue
		}
		l.lastL = line
		if DelveLineShown(line) {
			l.log.Info(l.prefix + line)
		}
	}
	return len(b), nil
}

// last returns the last line written.
func (l *lineLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastL
}
