package docker

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
)

// A record is what pid1 reports: "\x1edevrun <kind> <value>\x1e" on stderr.
type record struct {
	kind  string // ready, started, failed, stopped, exited, gone
	value string
}

// code returns the record's exit code.
func (r record) code() int {
	n, err := strconv.Atoi(strings.TrimSpace(r.value))
	if err != nil {
		return -1
	}
	return n
}

const rs = 0x1e // ASCII record separator: pid1's records start and end with it

// recordFilter passes a stream through to out unchanged and unbuffered,
// except pid1's records, which it takes out and hands to emit.
type recordFilter struct {
	mu   sync.Mutex
	out  io.Writer
	emit func(record)
	rec  []byte // a record being read; nil when none
}

func (f *recordFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if f.rec == nil {
			i := bytes.IndexByte(p, rs)
			if i < 0 {
				_, err := f.out.Write(p)
				return n, err
			}
			if i > 0 {
				if _, err := f.out.Write(p[:i]); err != nil {
					return n, err
				}
			}
			f.rec, p = []byte{}, p[i+1:]
			continue
		}
		i := bytes.IndexByte(p, rs)
		if i < 0 {
			f.rec = append(f.rec, p...)
			return n, nil
		}
		f.rec = append(f.rec, p[:i]...)
		p = p[i+1:]
		f.parse(string(f.rec))
		f.rec = nil
	}
	return n, nil
}

func (f *recordFilter) parse(s string) {
	fields := strings.SplitN(s, " ", 3)
	if len(fields) < 2 || fields[0] != "devrun" {
		f.out.Write([]byte(string(rune(rs)) + s + string(rune(rs)))) // not ours: pass it on
		return
	}
	r := record{kind: fields[1]}
	if len(fields) == 3 {
		r.value = fields[2]
	}
	f.emit(r)
}
