//go:build linux

// Command pid1 is the first process of a devrun dev container. It runs the
// app and swaps it on request, without the container being recreated:
//
//	SIGHUP   stop the running app, if any, and start the app's binary anew
//	SIGUSR1  stop the app: the stop signal to its process group, then
//	         SIGKILL after the stop timeout
//	SIGUSR2  kill the app at once
//	SIGTERM, SIGINT  stop the app and exit (docker stop)
//
// With -debug ADDR the app is Delve (dlv exec), which launches the app,
// traces it, and answers its JSON-RPC API on ADDR. A stop then sends the
// stop signal to what Delve traces first, so the app's graceful shutdown
// runs; once it has exited, is halted (at a breakpoint, as Delve's state
// says) or the stop timeout has passed, Delve gets SIGTERM, on which it
// kills the app, and what is left is killed a second later. An app that
// exits by itself leaves Delve waiting for its clients: pid1 ends it, and
// reports the app's exit code, which it asks Delve for. Delve's own output
// comes as "delve" records, line by line; the app's goes where it would
// without Delve, through descriptors 3 and 4, which Delve is told to open.
//
// As PID 1 it reaps every orphan. A stop ends the app's whole tree: its
// process group, every process whose environment holds the start's
// DEVRUN_INSTANCE, and the descendants of either, also after the app
// itself has exited; processes that docker exec started are left alone.
//
// In a Kubernetes pod, where devrun has no engine to copy a file in or send
// a signal, devrun runs pid1 a second time through the exec API: with
// -receive PATH (-size, -sha256, -gzip) it writes its standard input to
// PATH, whole and checked; with -delta too, its standard input is a
// gzip-compressed delta against the file at PATH (package pid1's
// DeltaBase); and with -signal SIG it sends SIG to the pid1
// whose PID is in -pidfile, which pid1 writes when it is given one.
//
// It tells devrun what happened with records on stderr, each
// "\x1edevrun <event> <value>\x1e": ready, started <pid>, failed <error>,
// stopped <code>, exited <code>, and shutdown <code> when the container
// itself is being stopped. stderr is pid1's alone: the app writes its
// stderr into a pipe, which pid1 copies to its own as it comes, with each
// byte 0x1e doubled, so that nothing the app writes can be taken for a
// record or hold a record back. The app's stdout is the container's,
// untouched. It uses the standard library only: devrun builds it for the
// engine's platform from this file.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/rpc/jsonrpc"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	stopSignal := flag.Int("stop-signal", int(syscall.SIGTERM), "the signal that asks the app to stop")
	stopTimeout := flag.Duration("stop-timeout", 5*time.Second, "how long a stop waits before it kills")
	debug := flag.String("debug", "", "the app is Delve, which runs the app and answers on this address")
	pidfile := flag.String("pidfile", "", "where pid1 writes its PID, for -signal")
	receive := flag.String("receive", "", "receive mode: write standard input to this path, then exit")
	size := flag.Int64("size", -1, "receive mode: the file's length")
	sum := flag.String("sha256", "", "receive mode: the file's SHA-256, in hex")
	gz := flag.Bool("gzip", false, "receive mode: standard input is gzip-compressed")
	delta := flag.Bool("delta", false, "receive mode: standard input is a gzip-compressed delta against the file at the path")
	sig := flag.String("signal", "", "send this signal (HUP, USR1, USR2) to the pid1 of -pidfile, and exit")
	flag.Parse()
	if *receive != "" || *sig != "" {
		if err := client(*receive, *size, *sum, *gz, *delta, *sig, *pidfile); err != nil {
			fmt.Fprintln(os.Stderr, "pid1:", err)
			os.Exit(1)
		}
		return
	}
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "pid1:", err)
			os.Exit(1)
		}
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: pid1 [-stop-signal N] [-stop-timeout D] -- app [args]")
		os.Exit(2)
	}
	s := &supervisor{argv: flag.Args(), stopSignal: syscall.Signal(*stopSignal), stopTimeout: *stopTimeout, debug: *debug != "", delve: *debug}
	s.run()
}

// client is pid1 run by devrun through an exec API (Kubernetes' exec into
// the app's container), where the image may have no shell and no tar: it
// receives a file on its standard input and renames it into place (a
// temporary file beside it, its length and checksum checked first), then
// signals the pid1 that supervises the app.
func client(path string, size int64, sum string, gz, delta bool, sig, pidfile string) error {
	if path != "" {
		if err := receiveFile(path, size, sum, gz, delta); err != nil {
			return err
		}
	}
	if sig == "" {
		return nil
	}
	signals := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM}
	n, ok := signals[strings.TrimPrefix(sig, "SIG")]
	if !ok {
		return fmt.Errorf("unknown signal %q", sig)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return fmt.Errorf("reading the supervisor's PID: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("reading the supervisor's PID: %q in %s", b, pidfile)
	}
	if err := syscall.Kill(pid, n); err != nil {
		return fmt.Errorf("signalling the supervisor (PID %d): %w", pid, err)
	}
	return nil
}

// receiveFile writes standard input to path, through a temporary file in
// its directory that is renamed over it once whole: the supervisor never
// starts a half-written binary, and one that runs keeps its own. With
// delta, standard input is a delta against the file at path.
func receiveFile(path string, size int64, sum string, gz, delta bool) error {
	tmp := fmt.Sprintf("%s.new-%d", path, os.Getpid())
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("receiving %s: %w", path, err)
	}
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	var in io.Reader = bufio.NewReaderSize(os.Stdin, 256<<10)
	if gz || delta {
		zr, err := gzip.NewReader(in)
		if err != nil {
			f.Close()
			return fmt.Errorf("receiving %s: %w", path, err)
		}
		in = zr
	}
	h := sha256.New()
	var n int64
	if delta {
		n, err = applyDelta(path, in, io.MultiWriter(f, h))
	} else {
		n, err = io.Copy(io.MultiWriter(f, h), in)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("receiving %s: %w", path, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("receiving %s: got %d bytes, want %d (the stream was cut)", path, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); sum != "" && got != sum {
		return fmt.Errorf("receiving %s: SHA-256 %s, want %s", path, got, sum)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("receiving %s: %w", path, err)
	}
	return nil
}

// applyDelta writes to w the file that the delta in makes from the file
// at path (the format is in package pid1's delta.go), and returns how many
// bytes it wrote.
func applyDelta(path string, in io.Reader, w io.Writer) (int64, error) {
	old, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("the delta's base: %w", err)
	}
	defer old.Close()
	r := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriterSize(w, 256<<10)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "DRD1" {
		return 0, fmt.Errorf("not a delta (%q, %v)", magic, err)
	}
	var n int64
	buf, base := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		op, err := r.ReadByte()
		if err != nil {
			return n, fmt.Errorf("the delta ends early: %w", err)
		}
		var off, size uint64
		switch op {
		case 'e':
			return n, bw.Flush()
		case 'c', 'd':
			off, err = binary.ReadUvarint(r)
			if err == nil {
				size, err = binary.ReadUvarint(r)
			}
		case 'l':
			size, err = binary.ReadUvarint(r)
		default:
			return n, fmt.Errorf("the delta has an unknown op %q", op)
		}
		if err != nil {
			return n, fmt.Errorf("the delta ends early: %w", err)
		}
		switch op {
		case 'c':
			m, err := io.Copy(bw, io.NewSectionReader(old, int64(off), int64(size)))
			n += m
			if err == nil && m != int64(size) {
				err = fmt.Errorf("the delta copies %d bytes at %d, past the base's end", size, off)
			}
			if err != nil {
				return n, err
			}
		case 'l':
			m, err := io.CopyN(bw, r, int64(size))
			n += m
			if err != nil {
				return n, fmt.Errorf("the delta ends early: %w", err)
			}
		case 'd':
			for size > 0 {
				k := min(uint64(len(buf)), size)
				if _, err := io.ReadFull(r, buf[:k]); err != nil {
					return n, fmt.Errorf("the delta ends early: %w", err)
				}
				if _, err := old.ReadAt(base[:k], int64(off)); err != nil {
					return n, fmt.Errorf("the delta reads the base at %d: %w", off, err)
				}
				for i := range k {
					buf[i] += base[i]
				}
				if _, err := bw.Write(buf[:k]); err != nil {
					return n, err
				}
				n += int64(k)
				off += k
				size -= k
			}
		}
	}
}

type supervisor struct {
	argv        []string
	stopSignal  syscall.Signal
	stopTimeout time.Duration
	seq         int
	app         int    // the app's PID while it runs; 0 when it has exited
	pgid        int    // the last start's process group; 0 once its tree has ended
	instance    string // the last start's DEVRUN_INSTANCE
	code        int    // the app's exit code, once it exited
	copied      chan struct{}
	sigs        chan os.Signal
	debug       bool   // the app is Delve
	delve       string // Delve's address
	appCode     int    // under Delve: the app's exit code, as Delve told it; -1 when not known
}

func (s *supervisor) run() {
	if os.Getpid() != 1 {
		// Under an init of the engine's (docker run --init, compose's
		// init: true), orphans go to that init unless pid1 reaps them.
		syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0)
	}
	s.sigs = make(chan os.Signal, 64)
	signal.Notify(s.sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	reportRecord("ready", "")
	var tick <-chan time.Time
	if s.debug {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case sig := <-s.sigs:
			s.handle(sig)
		case <-tick:
			s.watchDebuggee()
		}
	}
}

// watchDebuggee ends Delve once the app it launched has exited: Delve
// would wait for its clients, and devrun for the app's exit. What Delve
// traces is looked at first, its API only when it traces nothing: before
// the app's launch, or after its exit.
func (s *supervisor) watchDebuggee() {
	if s.app == 0 || s.appCode >= 0 || len(tracedBy(s.app)) > 0 {
		return
	}
	if st, ok := delveState(s.delve, 300*time.Millisecond); ok && st.exited {
		s.appCode = st.code
		syscall.Kill(s.app, syscall.SIGTERM)
	}
}

// debugStop stops what Delve traces with the stop signal, and waits until
// it has exited, is halted, or timeout has passed. Signals that come
// meanwhile are left to the stop that follows, but for SIGHUP, which a
// stop ignores; one that asks for a kill ends the wait.
func (s *supervisor) debugStop(timeout time.Duration) {
	var later []os.Signal
	defer func() {
		for _, sig := range later {
			select {
			case s.sigs <- sig:
			default: // full: signal.Notify drops as much
			}
		}
	}()
	apps := tracedBy(s.app)
	for _, pid := range apps {
		if syscall.Kill(-pid, s.stopSignal) != nil { // Delve makes it a group leader
			syscall.Kill(pid, s.stopSignal)
		}
	}
	deadline := time.Now().Add(timeout)
	var asked time.Time
	for delay := 100 * time.Microsecond; len(apps) > 0 && time.Now().Before(deadline); delay = min(2*delay, 20*time.Millisecond) {
		apps = tracedBy(s.app)
		if time.Since(asked) > 100*time.Millisecond {
			// Halted at a breakpoint: the app cannot run its shutdown.
			asked = time.Now()
			if st, ok := delveState(s.delve, 500*time.Millisecond); ok && !st.running && !st.exited {
				return
			}
		}
		select {
		case sig := <-s.sigs:
			switch sig {
			case syscall.SIGCHLD, syscall.SIGHUP: // Delve's own children are not pid1's; the stop reaps
			case syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT:
				later = append(later, sig)
				return
			default:
				later = append(later, sig)
			}
		case <-time.After(delay):
		}
	}
}

// A state is what Delve says of the app.
type state struct {
	running, exited bool
	code            int // once exited
}

// delveState asks Delve at addr for the app's state, within timeout.
func delveState(addr string, timeout time.Duration) (state, bool) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return state{}, false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	c := jsonrpc.NewClient(conn)
	defer c.Close()
	var out struct {
		State struct {
			Running    bool
			Exited     bool `json:"exited"`
			ExitStatus int  `json:"exitStatus"`
		}
	}
	err = c.Call("RPCServer.State", map[string]bool{"NonBlocking": true}, &out)
	var st state
	if err != nil {
		// Delve answers with its error for an exited process.
		var pid int
		if n, _ := fmt.Sscanf(err.Error(), "Process %d has exited with status %d", &pid, &st.code); n != 2 {
			return state{}, false
		}
		st.exited = true
	} else {
		st = state{running: out.State.Running, exited: out.State.Exited, code: out.State.ExitStatus}
	}
	if st.code < 0 { // -N: ended by signal N
		st.code = 128 - st.code
	}
	return st, true
}

// tracedBy lists the processes that the process tracer traces (ptrace):
// what Delve launched. A tracee's TracerPid names the thread that traces
// it, which is one of Delve's threads, seldom its first.
func tracedBy(tracer int) []int {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(tracer) + "/task")
	if err != nil {
		return nil
	}
	var wants [][]byte
	for _, t := range tasks {
		wants = append(wants, []byte("\nTracerPid:\t"+t.Name()+"\n"))
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/status")
		if err != nil || bytes.Contains(b, []byte("\nState:\tZ")) {
			continue
		}
		for _, w := range wants {
			if bytes.Contains(b, w) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// reportLines reports each line read from r as a record of event.
func reportLines(r *os.File, event string) {
	defer r.Close()
	var line []byte
	buf := make([]byte, 4<<10)
	for {
		n, err := r.Read(buf)
		line = append(line, buf[:n]...)
		for {
			i := bytes.IndexByte(line, '\n')
			if i < 0 {
				break
			}
			if l := bytes.TrimRight(line[:i], "\r"); len(l) > 0 {
				reportRecord(event, string(bytes.ReplaceAll(l, []byte{0x1e}, nil)))
			}
			line = line[i+1:]
		}
		if err != nil {
			return
		}
	}
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER, which package syscall lacks.
const prSetChildSubreaper = 36

// handle acts on one signal.
func (s *supervisor) handle(sig os.Signal) {
	switch sig {
	case syscall.SIGCHLD:
		s.reap(true)
	case syscall.SIGHUP:
		if s.stop(s.stopTimeout, "stopped") {
			s.start()
		}
	case syscall.SIGUSR1:
		s.stop(s.stopTimeout, "stopped")
	case syscall.SIGUSR2:
		s.stop(0, "stopped")
	case syscall.SIGTERM, syscall.SIGINT:
		s.stop(s.stopTimeout, "shutdown")
		os.Exit(0)
	}
}

// out serialises pid1's writes to stderr: a record is never cut by the
// app's output.
var out sync.Mutex

// reportRecord writes one record for devrun.
func reportRecord(event, value string) {
	out.Lock()
	defer out.Unlock()
	os.Stderr.WriteString("\x1edevrun " + event + " " + value + "\x1e")
}

// copyStderr copies the app's stderr to pid1's as it comes, doubling each
// 0x1e, until every writer has closed it.
func copyStderr(r *os.File, done chan struct{}) {
	defer close(done)
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p := buf[:n]
			if bytes.IndexByte(p, 0x1e) >= 0 {
				p = bytes.ReplaceAll(p, []byte{0x1e}, []byte{0x1e, 0x1e})
			}
			out.Lock()
			os.Stderr.Write(p)
			out.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (s *supervisor) start() {
	r, w, err := os.Pipe()
	if err != nil {
		reportRecord("failed", err.Error())
		return
	}
	s.seq++
	instance := fmt.Sprintf("pid1.%d.%d", time.Now().UnixNano(), s.seq)
	files := []*os.File{nil, os.Stdout, w}
	var dr, dw *os.File
	if s.debug {
		// Delve's own lines on 1 and 2; the app's output on 3 and 4.
		if dr, dw, err = os.Pipe(); err != nil {
			r.Close()
			w.Close()
			reportRecord("failed", err.Error())
			return
		}
		files = []*os.File{nil, dw, dw, os.Stdout, w}
		go reportLines(dr, "delve")
	}
	p, err := os.StartProcess(s.argv[0], s.argv, &os.ProcAttr{
		Env:   append(os.Environ(), "DEVRUN_INSTANCE="+instance),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	w.Close()
	if dw != nil {
		dw.Close()
	}
	if err != nil {
		r.Close()
		reportRecord("failed", err.Error())
		return
	}
	s.app, s.pgid, s.instance, s.code, s.appCode = p.Pid, p.Pid, instance, -1, -1
	s.copied = make(chan struct{})
	go copyStderr(r, s.copied)
	reportRecord("started", fmt.Sprint(p.Pid))
	p.Release() // reaped by reap, with every other child
}

// reap collects every exited child. It reports the app's exit when
// report is set; a stop reports it as its own.
func (s *supervisor) reap(report bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		if pid == s.app {
			s.app, s.code = 0, exitCode(ws)
			if s.appCode >= 0 { // Delve's, ended by pid1: the app's is the one
				s.code = s.appCode
			}
			if report {
				reportRecord("exited", fmt.Sprint(s.code))
			}
			if s.pgid > 0 && syscall.Kill(-s.pgid, 0) != nil {
				s.pgid = -1 // the group is empty: its number may be anyone's now
			}
		}
	}
}

// stop ends the last start's tree: the stop signal, then SIGKILL once
// timeout has passed. It reports event with the app's exit code (-1 when
// no app ran), also when the app had exited already. Signals that come
// meanwhile are heeded: SIGUSR2 kills at once, SIGTERM and SIGINT kill and
// then end pid1, a SIGHUP waits for the stop (and starts the app after it).
// It reports false when pid1 must not start the app afterwards.
func (s *supervisor) stop(timeout time.Duration, event string) (startAfter bool) {
	startAfter = true
	if s.pgid == 0 {
		reportRecord(event, "-1")
		return startAfter
	}
	sig := s.stopSignal
	if s.debug && s.app != 0 && timeout > 0 {
		s.debugStop(timeout)
		sig, timeout = syscall.SIGTERM, time.Second // Delve, which kills the app it launched
	}
	if timeout == 0 {
		sig = syscall.SIGKILL
	}
	signalTree(s.pgid, s.instance, sig)
	deadline := time.Now().Add(timeout)
	killed, exit := timeout == 0, false
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		s.reap(false)
		if len(members(s.pgid, s.instance)) == 0 {
			break
		}
		if !killed && time.Now().After(deadline) {
			signalTree(s.pgid, s.instance, syscall.SIGKILL)
			killed = true
		}
		select {
		case sig := <-s.sigs:
			switch sig {
			case syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT:
				if !killed {
					signalTree(s.pgid, s.instance, syscall.SIGKILL)
					killed = true
				}
				exit = exit || sig != syscall.SIGUSR2
			case syscall.SIGUSR1:
				startAfter = false // a stop asked for after the swap's: the app stays stopped
			}
		case <-time.After(delay):
		}
	}
	if s.app != 0 { // killed but not reaped yet: wait for it
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(s.app, &ws, 0, nil); err == nil {
			s.code = exitCode(ws)
		}
		s.app = 0
	}
	// The app's last words come before the record of its end.
	select {
	case <-s.copied:
	case <-time.After(200 * time.Millisecond):
	}
	s.pgid = 0
	reportRecord(event, fmt.Sprint(s.code))
	if exit {
		reportRecord("shutdown", fmt.Sprint(s.code))
		os.Exit(0)
	}
	return startAfter
}

// signalTree sends sig to the group pgid at once, and to each other
// process of the tree.
func signalTree(pgid int, instance string, sig syscall.Signal) {
	ms := members(pgid, instance)
	for _, m := range ms {
		if pgid > 0 && m.pgid == pgid {
			syscall.Kill(-pgid, sig)
			break
		}
	}
	for _, m := range ms {
		if m.pgid != pgid {
			syscall.Kill(m.pid, sig)
		}
	}
}

type member struct{ pid, pgid int }

// members lists the live processes of the tree: the group pgid (while it
// is the app's: -1 once it emptied), the processes whose environment holds
// DEVRUN_INSTANCE=instance, and the descendants of either; never pid1, nor
// an init of the engine's above it. What docker exec started does not carry
// the mark, and is left alone.
func members(pgid int, instance string) []member {
	type proc struct {
		ppid, pgid int
		zombie     bool
	}
	d, err := os.Open("/proc")
	if err != nil {
		if pgid > 0 && syscall.Kill(-pgid, 0) == nil {
			return []member{{pgid, pgid}}
		}
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	all := map[int]proc{}
	children := map[int][]int{}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		g, _ := strconv.Atoi(string(f[2]))
		all[pid] = proc{ppid: ppid, pgid: g, zombie: f[0][0] == 'Z' || f[0][0] == 'X'}
		children[ppid] = append(children[ppid], pid)
	}
	mark := []byte("DEVRUN_INSTANCE=" + instance + "\x00")
	in := map[int]bool{}
	var add func(int)
	add = func(pid int) {
		if in[pid] {
			return
		}
		in[pid] = true
		for _, c := range children[pid] {
			add(c)
		}
	}
	self := os.Getpid()
	mine := map[int]bool{self: true} // pid1 and, under an engine's init, its parents
	for pid := self; all[pid].ppid > 0; pid = all[pid].ppid {
		mine[all[pid].ppid] = true
	}
	for pid, p := range all {
		if p.zombie || mine[pid] {
			continue
		}
		if pgid > 0 && p.pgid == pgid || carries(pid, mark) {
			add(pid)
		}
	}
	var ms []member
	for pid := range in {
		if p := all[pid]; !p.zombie && !mine[pid] {
			ms = append(ms, member{pid, p.pgid})
		}
	}
	return ms
}

// carries reports whether the environment pid started with holds mark.
func carries(pid int, mark []byte) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && (bytes.HasPrefix(env, mark) || bytes.Contains(env, append([]byte{0}, mark...)))
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
