package pid1

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// pid1's client mode, as devrun runs it through Kubernetes' exec API: a
// file received on stdin (gzip or not), checked whole before it replaces
// the old one, and a signal to the supervisor of -pidfile.
func TestPID1Receive(t *testing.T) {
	bin := buildPID1(t)
	dir := t.TempDir()
	dest := filepath.Join(dir, "app")
	receive := func(data []byte, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-receive", dest}, args...)...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	old := []byte("the old binary")
	if err := os.WriteFile(dest, old, 0o755); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("the new binary "), 100000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(content)
	zw.Close()

	for _, c := range []struct {
		name  string
		data  []byte
		args  []string
		fails string // what the error says; "" when it succeeds
	}{
		{"wrong length", content, []string{"-size", "5", "-sha256", sum(content)}, "want 5 (the stream was cut)"},
		{"wrong checksum", content, []string{"-size", strconv.Itoa(len(content)), "-sha256", sum(old)}, "SHA-256"},
		{"not gzip", content, []string{"-gzip"}, "gzip"},
		{"cut gzip stream", gz.Bytes()[:gz.Len()/2], []string{"-gzip", "-size", strconv.Itoa(len(content))}, "unexpected EOF"},
		{"plain", content, []string{"-size", strconv.Itoa(len(content)), "-sha256", sum(content)}, ""},
		{"gzip", gz.Bytes(), []string{"-gzip", "-size", strconv.Itoa(len(content)), "-sha256", sum(content)}, ""},
	} {
		if err := os.WriteFile(dest, old, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := receive(c.data, c.args...)
		got, _ := os.ReadFile(dest)
		if c.fails != "" {
			if err == nil || !strings.Contains(out, c.fails) {
				t.Errorf("%s: err %v, output %q; want a failure saying %q", c.name, err, out, c.fails)
			}
			if !bytes.Equal(got, old) {
				t.Errorf("%s: the old file was replaced by a failed receive", c.name)
			}
		} else {
			if err != nil {
				t.Errorf("%s: %v: %s", c.name, err, out)
			}
			if !bytes.Equal(got, content) {
				t.Errorf("%s: the received file differs (%d bytes, want %d)", c.name, len(got), len(content))
			}
			if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: mode %v, want 0755", c.name, fi.Mode().Perm())
			}
		}
		if left, _ := filepath.Glob(dest + ".new-*"); len(left) > 0 {
			t.Errorf("%s: temporary files left: %v", c.name, left)
		}
	}
}

// -receive with -signal HUP in one run: the new binary in place, then the
// supervisor of -pidfile swaps to it.
func TestPID1ReceiveAndSignal(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid1.pid")
	app := filepath.Join(dir, "app")
	ran := func(v string) string { return filepath.Join(dir, "ran-"+v) }
	script := func(v string) []byte { return []byte("#!/bin/sh\n: > " + ran(v) + "\nexec sleep 600\n") }
	if err := os.WriteFile(app, script("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startPID1Flags(t, nil, []string{"-stop-timeout", "5s", "-pidfile", pidfile}, app)
	if b, err := os.ReadFile(pidfile); err != nil || string(b) != strconv.Itoa(p.cmd.Process.Pid) {
		t.Fatalf("pidfile %q (%v), want pid1's PID %d", b, err, p.cmd.Process.Pid)
	}
	p.signal(t, syscall.SIGHUP) // the first start
	p.await(t, "started")
	waitFile(t, ran("v1"))

	cmd := exec.Command(buildPID1(t), "-pidfile", pidfile, "-receive", app, "-signal", "HUP")
	cmd.Stdin = bytes.NewReader(script("v2"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("receive and signal: %v: %s", err, out)
	}
	p.await(t, "started")
	waitFile(t, ran("v2"))

	out, err := exec.Command(buildPID1(t), "-pidfile", filepath.Join(dir, "none"), "-signal", "HUP").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "reading the supervisor's PID") {
		t.Errorf("signal with no pidfile: %v, %q; want an error naming the PID file", err, out)
	}
}
