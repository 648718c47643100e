package pid1

import (
	"bytes"
	"strings"
	"testing"
)

// feed writes chunks to a recordFilter and returns what passed and the records.
func feed(chunks ...string) (string, []Record) {
	var out bytes.Buffer
	var recs []Record
	f := &Filter{Out: &out, Emit: func(r Record) { recs = append(recs, r) }}
	for _, c := range chunks {
		f.Write([]byte(c))
	}
	return out.String(), recs
}

func TestRecordFilter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string // pid1's stderr: records, and the app's bytes with 0x1e doubled
		out    string
		kinds  string
		values string
	}{
		{"plain text", "hello\n", "hello\n", "", ""},
		{"a record", "\x1edevrun started 42\x1e", "", "started", "42"},
		{"text around a record", "a\x1edevrun exited 3\x1eb", "ab", "exited", "3"},
		{"a record without a value", "\x1edevrun ready \x1e", "", "ready", ""},
		{"the app's 0x1e, doubled", "a\x1e\x1eb", "a\x1eb", "", ""},
		{"the app's forged record, doubled", "\x1e\x1edevrun exited 7\x1e\x1e", "\x1edevrun exited 7\x1e", "", ""},
		{"two records", "\x1edevrun stopped 0\x1e\x1edevrun started 9\x1e", "", "stopped,started", "0,9"},
		{"not pid1's", "\x1eother thing\x1e", "\x1eother thing\x1e", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and cut at every byte: the stream may be split anywhere.
			for cut := 0; cut <= len(tc.in); cut++ {
				if cut > 0 && cut < len(tc.in) && len(tc.in) > 100 && cut%97 != 0 {
					continue
				}
				out, recs := feed(tc.in[:cut], tc.in[cut:])
				var kinds, values []string
				for _, r := range recs {
					kinds, values = append(kinds, r.Kind), append(values, r.Value)
				}
				if out != tc.out || strings.Join(kinds, ",") != tc.kinds || strings.Join(values, ",") != tc.values {
					t.Fatalf("cut at %d: out %q, records %v %v; want %q, %q %q", cut, out, kinds, values, tc.out, tc.kinds, tc.values)
				}
			}
		})
	}
}

// What is too long to be a record of pid1's is not held without bound: it
// passes as output, however the stream is cut.
func TestRecordFilterBoundsARecord(t *testing.T) {
	in := "\x1edevrun " + strings.Repeat("x", 3*maxRecord) + "\x1eafter"
	for _, cut := range []int{1, 100, maxRecord, len(in) - 6} {
		out, recs := feed(in[:cut], in[cut:])
		if len(recs) != 0 || out != in {
			t.Errorf("cut at %d: %d records, %d bytes out", cut, len(recs), len(out))
		}
	}
}

// The app's output is never held back: what it wrote so far has passed
// once a write ends, but for the 0x1e that pid1 sent the pair of in one
// write, cut in two by the stream.
func TestRecordFilterHoldsNothingBack(t *testing.T) {
	var out bytes.Buffer
	f := &Filter{Out: &out, Emit: func(Record) {}}
	f.Write([]byte("no newline yet"))
	if out.String() != "no newline yet" {
		t.Errorf("after a write of the app's, %q passed", out.String())
	}
	f.Write([]byte(" and a \x1e"))
	f.Write([]byte("\x1e then more"))
	if out.String() != "no newline yet and a \x1e then more" {
		t.Errorf("got %q", out.String())
	}
}
