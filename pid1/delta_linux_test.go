package pid1

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A delta made by DeltaBase and applied by pid1's receive mode (-delta),
// as devrun sends a rebuilt binary into a dev pod: the file at the path is
// the base, the result is checked whole before it replaces it, and a delta
// against another base, or cut, leaves the old file in place.
func TestPID1ReceiveDelta(t *testing.T) {
	bin := buildPID1(t)
	dest := filepath.Join(t.TempDir(), "app")
	v1, v2 := goBinary(t, ""), goBinary(t, `if len(os.Args) > 7 { println("seven", len(os.Args[1])) }`)
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	r1 := random(300000)
	// r2: r1 with bytes inserted, removed and changed here and there, and
	// a stretch whose every 20th byte changed: moved code.
	r2 := slices.Concat(r1[:1000], random(77), r1[1000:50000], r1[50100:200000], random(5000), r1[200000:])
	for i := 60000; i < 150000; i += 20 {
		r2[i]++
	}

	for _, c := range []struct {
		name          string
		base, content []byte
		cut           bool
		fails         string
	}{
		{"a Go binary edited", v1, v2, false, ""},
		{"random bytes moved and changed", r1, r2, false, ""},
		{"the same file", v1, v1, false, ""},
		{"an empty base", nil, r1[:5000], false, ""},
		{"to empty", r1, nil, false, ""},
		{"shorter than a block", r1[:100], r1[50:90], false, ""},
		{"another base", v2, v2, false, "SHA-256"}, // the delta below is made against v1
		{"cut", v1, v2, true, "ends early"},
	} {
		made := c.base
		if c.name == "another base" {
			made = v1
		}
		var delta bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&delta, gzip.BestSpeed)
		if err := NewDeltaBase(made).Delta(zw, c.content); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		in := delta.Bytes()
		if c.cut {
			in = in[:len(in)/2]
		}
		if err := os.WriteFile(dest, c.base, 0o755); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(c.content)
		cmd := exec.Command(bin, "-receive", dest, "-delta", "-size", strconv.Itoa(len(c.content)), "-sha256", hex.EncodeToString(h[:]))
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.CombinedOutput()
		got, _ := os.ReadFile(dest)
		if c.fails != "" {
			if err == nil || !strings.Contains(string(out), c.fails) {
				t.Errorf("%s: err %v, output %q; want a failure saying %q", c.name, err, out, c.fails)
			}
			if !bytes.Equal(got, c.base) {
				t.Errorf("%s: the old file was replaced by a failed receive", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v: %s", c.name, err, out)
		}
		if !bytes.Equal(got, c.content) {
			t.Errorf("%s: the received file differs (%d bytes, want %d)", c.name, len(got), len(c.content))
		}
		if c.name == "a Go binary edited" {
			// What the delta is for: far less than the whole binary,
			// gzipped, although the edit moved most of its code.
			var whole bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&whole, gzip.BestSpeed)
			zw.Write(v2)
			zw.Close()
			t.Logf("%d bytes: delta %d bytes, the whole binary gzipped %d", len(v2), delta.Len(), whole.Len())
			if delta.Len()*4 > whole.Len() {
				t.Errorf("the delta of a one-line edit is %d bytes, more than a quarter of the whole binary gzipped (%d)", delta.Len(), whole.Len())
			}
		}
	}
}

// goBinary builds a small program, stripped as devrun's dev builds are,
// with extra as the first statement of its first function: an edit that
// moves all the code linked after it.
func goBinary(t *testing.T, extra string) []byte {
	t.Helper()
	dir := t.TempDir()
	src := `package main

import (
	"fmt"
	"net/http"
	"os"
)

func first() {
	` + extra + `
	fmt.Println("first")
}

func main() {
	first()
	http.ListenAndServe(os.Getenv("ADDR"), nil)
}
`
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/app\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", "app", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
