package pid1

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
)

// A Record is what pid1 reports: "\x1edevrun <kind> <value>\x1e" on stderr.
type Record struct {
	Kind  string // ready, started, failed, stopped, exited, shutdown, delve; gone when the stream ended
	Value string
}

// Code returns the record's exit code, -1 when it has none.
func (r Record) Code() int {
	n, err := strconv.Atoi(strings.TrimSpace(r.Value))
	if err != nil {
		return -1
	}
	return n
}

const rs = 0x1e // ASCII record separator: pid1's records start and end with it

// maxRecord bounds a record: longer, it is not pid1's, and passes as output.
const maxRecord = 4 << 10

// A Filter passes pid1's stderr through to Out, unbuffered, except
// pid1's records, which it takes out and hands to Emit. pid1 is the only
// writer of its stderr: it copies the app's stderr there with each 0x1e
// doubled, so a lone 0x1e always starts a record of pid1's, and the app's
// output is never held back: at most the one byte after a 0x1e is awaited,
// and pid1 writes both in one write.
type Filter struct {
	Out  io.Writer    // where the app's stderr goes
	Emit func(Record) // called with each record, in order, on the writer's goroutine

	mu      sync.Mutex
	afterRS bool   // the last byte was a 0x1e that may start a record
	rec     []byte // a record being read; nil when none
	// overlong is set while what began as a record, passed on for its
	// length, goes on: it passes up to and with the 0x1e that ends it.
	overlong bool
}

func (f *Filter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		switch {
		case f.overlong:
			i := bytes.IndexByte(p, rs)
			end := len(p)
			if i >= 0 {
				end, f.overlong = i+1, false
			}
			if _, err := f.Out.Write(p[:end]); err != nil {
				return n, err
			}
			p = p[end:]
		case f.rec != nil:
			i := bytes.IndexByte(p, rs)
			if i < 0 {
				f.rec = append(f.rec, p...)
				p = nil
				if len(f.rec) > maxRecord { // not a record: pass it on
					_, err := f.Out.Write(append([]byte{rs}, f.rec...))
					f.rec, f.overlong = nil, true
					if err != nil {
						return n, err
					}
				}
				continue
			}
			f.rec = append(f.rec, p[:i]...)
			p = p[i+1:]
			if len(f.rec) > maxRecord { // not a record: pass it on
				_, err := f.Out.Write(append(append([]byte{rs}, f.rec...), rs))
				f.rec = nil
				if err != nil {
					return n, err
				}
				continue
			}
			f.parse(string(f.rec))
			f.rec = nil
		case f.afterRS:
			f.afterRS = false
			if p[0] == rs { // a 0x1e of the app's, doubled by pid1
				if _, err := f.Out.Write(p[:1]); err != nil {
					return n, err
				}
				p = p[1:]
				continue
			}
			f.rec = []byte{}
		default:
			i := bytes.IndexByte(p, rs)
			if i < 0 {
				_, err := f.Out.Write(p)
				return n, err
			}
			if i > 0 {
				if _, err := f.Out.Write(p[:i]); err != nil {
					return n, err
				}
			}
			p = p[i+1:]
			f.afterRS = true
		}
	}
	return n, nil
}

func (f *Filter) parse(s string) {
	fields := strings.SplitN(s, " ", 3)
	if len(fields) < 2 || fields[0] != "devrun" {
		f.Out.Write([]byte(string(rune(rs)) + s + string(rune(rs)))) // not ours: pass it on
		return
	}
	r := Record{Kind: fields[1]}
	if len(fields) == 3 {
		r.Value = fields[2]
	}
	f.Emit(r)
}
