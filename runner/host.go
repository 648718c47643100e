package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Host starts the app as a child process of devrun, in a process group of its
// own so that a stop reaches the app's children too. Its fields must not be
// changed once Start has been called; Start is safe for concurrent use.
type Host struct {
	Args        []string      // arguments passed to the app
	Env         []string      // "KEY=value" entries added to devrun's environment
	Dir         string        // working directory; default devrun's
	StopSignal  os.Signal     // sent to the group to stop it; default SIGTERM
	StopTimeout time.Duration // how long a stop waits before it kills; default 5s
	// Stdout and Stderr receive the app's output. When they are *os.File (the
	// terminal), the app writes to them directly: unbuffered, unchanged, and
	// still a TTY for colour detection.
	Stdout, Stderr io.Writer
	// EnvFile, when set, is a .env file read at every start (see
	// ReadEnvFile); Env wins over it, as compose's environment wins over
	// its env_file.
	EnvFile string
	// PIDFile, when set, records the running app's process group, so that
	// a devrun killed without a chance to stop it can have the next one
	// stop it (see KillLeftover).
	PIDFile string
}

// Start starts the binary a with h's arguments and environment.
func (h *Host) Start(_ context.Context, a Artifact) (Process, error) {
	cmd, err := h.command(string(a), h.Args...)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = h.Stdout, h.Stderr
	return h.launch(cmd, newTree(cmd), a)
}

// command makes the command that runs name with args in h's directory
// and environment. Its output is for the caller to set.
func (h *Host) command(name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = h.Dir
	cmd.Env = os.Environ()
	if h.EnvFile != "" {
		env, err := ReadEnvFile(h.EnvFile)
		if err != nil {
			return nil, fmt.Errorf("run.env_file: %w", err)
		}
		cmd.Env = append(cmd.Env, env...)
	}
	cmd.Env = append(cmd.Env, h.Env...)
	cmd.WaitDelay = time.Second // output pipes held open by orphans must not block Wait
	return cmd, nil
}

// stopping returns h's stop signal and stop timeout, defaults filled in.
func (h *Host) stopping() (syscall.Signal, time.Duration) {
	sig, timeout := asSignal(h.StopSignal), h.StopTimeout
	if h.StopSignal == nil {
		sig = syscall.SIGTERM
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return sig, timeout
}

// launch starts cmd, prepared by newTree as t, as one start of the app
// built into a, recorded in h's PIDFile.
func (h *Host) launch(cmd *exec.Cmd, t *tree, a Artifact) (*hostProcess, error) {
	if err := t.start(); err != nil {
		t.release()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	p := &hostProcess{tree: t, pid: cmd.Process.Pid, done: make(chan struct{})}
	p.signal, p.timeout = h.stopping()
	if h.PIDFile != "" {
		p.pidFile = h.PIDFile
		_ = os.WriteFile(h.PIDFile, []byte(fmt.Sprintf("%d %s\n", p.pid, cmd.Path)), 0o644)
	}
	go func() {
		p.err = cmd.Wait()
		t.waited()
		close(p.done)
	}()
	return p, nil
}

// hostProcess is one start of the app on the host: the tree its leader
// makes (see tree). Stop ends all of it, also after the leader has exited.
type hostProcess struct {
	tree    *tree
	pid     int
	signal  syscall.Signal
	timeout time.Duration
	done    chan struct{}
	err     error // written before done is closed
	stop    sync.Mutex
	pidFile string
}

func (p *hostProcess) Done() <-chan struct{} { return p.done }

func (p *hostProcess) Err() error {
	<-p.done
	return p.err
}

// Stop sends the stop signal to every process of the app's tree, waits
// until the leader and every other process of the tree have exited, until
// the timeout or ctx, and kills what is left. Called after the leader
// exited by itself, it ends what the leader left running.
func (p *hostProcess) Stop(ctx context.Context) error {
	p.stop.Lock()
	defer p.stop.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if p.tree.signal(p.signal) || !p.exited() {
		if !p.waitGone(ctx) {
			p.tree.kill()
			kctx, kcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer kcancel()
			p.waitGone(kctx)
		}
	}
	<-p.done
	p.tree.release()
	stopDaemons()
	if p.pidFile != "" {
		// Unless a version started after this one (overlapping it) has
		// written its own.
		if b, err := os.ReadFile(p.pidFile); err == nil && strings.HasPrefix(string(b), strconv.Itoa(p.pid)+" ") {
			os.Remove(p.pidFile)
		}
	}
	return p.err
}

func (p *hostProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitGone waits until the leader has exited and no process of its tree
// runs. It reports false if ctx ended first.
func (p *hostProcess) waitGone(ctx context.Context) bool {
	select {
	case <-p.done:
	case <-ctx.Done():
		return false
	}
	for delay := time.Millisecond; p.tree.alive(); delay = min(2*delay, 50*time.Millisecond) {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return false
		}
	}
	return true
}
