package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/devrun/devrun/internal/need"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// A SecondEngine is a Docker engine of a test's own, beside the machine's:
// its own socket, data root, exec root (and so its own containerd) and
// bridge, so that the test can stop, restart or break it without
// disturbing the machine's engine or the other tests. It needs root and
// dockerd; it uses the vfs storage driver, which works on any file system.
type SecondEngine struct {
	Host string // the DOCKER_HOST value that reaches it

	t      testing.TB
	dir    string
	bridge string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartSecondEngine starts a SecondEngine, skipping the test when this
// machine cannot run one, and stops it and removes its files at cleanup.
func StartSecondEngine(t testing.TB) *SecondEngine {
	t.Helper()
	if os.Geteuid() != 0 {
		need.Skip(t, "root", "a second Docker engine needs root")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		need.Skip(t, "docker", "a second Docker engine needs dockerd")
	}
	// Short paths: containerd's sockets live under the exec root, and a
	// socket's path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "devrun-engine-")
	if err != nil {
		t.Fatal(err)
	}
	e := &SecondEngine{Host: "unix://" + filepath.Join(dir, "docker.sock"), t: t, dir: dir, bridge: "devrun-" + randomHex(4)}
	t.Cleanup(e.remove)
	e.makeBridge()
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Start()
	return e
}

// makeBridge makes the engine's own bridge on a random private /24, so that
// its containers' published ports work without touching the machine's
// engine's bridge or iptables rules.
func (e *SecondEngine) makeBridge() {
	e.t.Helper()
	b := make([]byte, 1)
	rand.Read(b)
	addr := fmt.Sprintf("10.213.%d.1/24", b[0])
	for _, args := range [][]string{
		{"link", "add", e.bridge, "type", "bridge"},
		{"addr", "add", addr, "dev", e.bridge},
		{"link", "set", e.bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			e.t.Skipf("making the second engine's bridge (ip %v): %v: %s", args, err, out)
		}
	}
}

// Start starts the engine and waits until it answers. The engine keeps its
// data root: containers and images survive a Stop and Start.
func (e *SecondEngine) Start() {
	e.t.Helper()
	log, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer log.Close()
	e.cmd = exec.Command("dockerd",
		"--config-file", filepath.Join(e.dir, "daemon.json"),
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"),
		"--pidfile", filepath.Join(e.dir, "dockerd.pid"),
		"--host", e.Host,
		"--bridge", e.bridge, "--iptables=false", "--ip-masq=false",
		"--storage-driver", "vfs")
	e.cmd.Stdout, e.cmd.Stderr = log, log
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(e.cmd, e.exited)
	c := e.Client()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Ping(ctx, client.PingOptions{})
		cancel()
		if err == nil {
			return
		}
		select {
		case <-e.exited:
			e.t.Fatalf("the second engine exited: %s", e.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the second engine did not answer within a minute: %v\n%s", err, e.Log())
		}
	}
}

// Stop stops the engine as a service manager does (SIGTERM, which stops its
// containers too) and waits for it to exit.
func (e *SecondEngine) Stop() {
	e.t.Helper()
	if e.cmd == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(time.Minute):
		e.cmd.Process.Kill()
		<-e.exited
		e.t.Errorf("the second engine did not stop within a minute")
	}
	e.cmd = nil
}

// Restart stops the engine and starts it again.
func (e *SecondEngine) Restart() {
	e.t.Helper()
	e.Stop()
	e.Start()
}

// Client returns a client of the engine, closed at the test's end.
func (e *SecondEngine) Client() *client.Client {
	e.t.Helper()
	c, err := client.New(client.WithHost(e.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// Log returns what the engine has logged.
func (e *SecondEngine) Log() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
	return string(b)
}

// remove stops the engine and removes its bridge and files.
func (e *SecondEngine) remove() {
	e.Stop()
	exec.Command("ip", "link", "del", e.bridge).Run()
	// A clean stop unmounts what the engine mounted; a lazy unmount of
	// anything left keeps RemoveAll from failing on a busy mount.
	exec.Command("sh", "-c", "grep -o ' "+e.dir+"[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l").Run()
	if err := os.RemoveAll(e.dir); err != nil {
		e.t.Errorf("removing the second engine's files: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
