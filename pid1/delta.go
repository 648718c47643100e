package pid1

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
)

// A delta tells pid1's receive mode (-receive PATH -delta) how to make a
// new binary from the one at PATH, so that only what changed goes through
// the exec stream. Go binaries defeat a plain block match: an edit moves
// every function linked after it, and each call, jump and table entry that
// crosses the move changes its offset, so that after a one-line edit about
// two thirds of a 68 MB binary's 4 KB blocks differ somewhere. Most of
// those blocks differ in few bytes, at the same distance from their old
// place: the delta follows that alignment and sends the byte-wise
// difference, mostly zeros, which gzip shrinks to almost nothing (the idea
// of bsdiff, without its suffix sort). Measured on bench/realapp (68 MB
// stripped, a line added to one function): 2 MB gzipped, against 23 MB
// for the whole binary gzipped.
//
// The stream (gzip-compressed by the sender) is the magic "DRD1", then
// ops, each a byte and unsigned varints:
//
//	'c' off n     n bytes of the old binary from off
//	'd' off n     n bytes follow, each added (mod 256) to the old byte at off+i
//	'l' n         n bytes follow, as they are
//	'e'           the end
//
// pid1's applyDelta reads it; the receiver checks the new binary's length
// and SHA-256 as for a whole one.
const deltaMagic = "DRD1"

const (
	deltaBlock = 1024 // the old binary is indexed at this step, by a rolling hash of this many bytes
	deltaChunk = 256  // an alignment holds while each chunk of this many bytes is at least half equal
	deltaRun   = 32   // equal runs at least this long are copied rather than sent as zero differences
)

// A DeltaBase is a binary that deltas are made against: the one the
// receiver has. NewDeltaBase indexes it, which takes about as long as
// Delta itself, so that a sender indexes the binary it sent while the next
// one builds. A DeltaBase is not changed by Delta, and is safe for
// concurrent use.
type DeltaBase struct {
	old    []byte
	blocks map[uint32]int   // the rolling hash of each deltaBlock-aligned block of old: its first offset
	filter *[1 << 16]uint64 // a bit per hash&(1<<22-1) in blocks: most positions miss, cheaply
}

// NewDeltaBase indexes old, which must not change while the DeltaBase is
// used.
func NewDeltaBase(old []byte) *DeltaBase {
	b := &DeltaBase{old: old, blocks: make(map[uint32]int, len(old)/deltaBlock+1), filter: new([1 << 16]uint64)}
	for off := 0; off+deltaBlock <= len(old); off += deltaBlock {
		a, s := hash(old[off : off+deltaBlock])
		k := a | s<<16
		if _, ok := b.blocks[k]; !ok {
			b.blocks[k] = off
			b.filter[(k>>6)&0xffff] |= 1 << (k & 63)
		}
	}
	return b
}

// Delta writes to w a delta that makes newb from the base (see
// deltaMagic).
func (b *DeltaBase) Delta(w io.Writer, newb []byte) error {
	e := &deltaEnc{DeltaBase: b, w: bufio.NewWriterSize(w, 256<<10), new: newb}
	e.w.WriteString(deltaMagic)
	i, lit := 0, 0
	for i < len(newb) {
		at, off, ok := e.search(i)
		if !ok {
			break
		}
		shift := off - at
		end := e.extend(at, shift)
		e.literal(lit, at)
		e.aligned(at, end, shift)
		i, lit = end, end
	}
	e.literal(lit, len(newb))
	e.w.WriteByte('e')
	return e.w.Flush()
}

type deltaEnc struct {
	*DeltaBase
	w      *bufio.Writer
	new    []byte
	varint [binary.MaxVarintLen64]byte
	buf    [4096]byte
}

// hash is the rolling hash of b (rsync's): the sum of its bytes and the
// sum of their running sums, each mod 2^16.
func hash(b []byte) (a, s uint32) {
	for i, c := range b {
		a += uint32(c)
		s += uint32(len(b)-i) * uint32(c)
	}
	return a & 0xffff, s & 0xffff
}

// search finds the first position at >= i where a block of old, at off,
// starts in new.
func (e *deltaEnc) search(i int) (at, off int, ok bool) {
	if i+deltaBlock > len(e.new) {
		return 0, 0, false
	}
	a, s := hash(e.new[i : i+deltaBlock])
	for {
		k := a | s<<16
		if e.filter[(k>>6)&0xffff]&(1<<(k&63)) != 0 {
			if off, ok := e.blocks[k]; ok && bytes.Equal(e.old[off:off+deltaBlock], e.new[i:i+deltaBlock]) {
				return i, off, true
			}
		}
		if i+deltaBlock >= len(e.new) {
			return 0, 0, false
		}
		out, in := uint32(e.new[i]), uint32(e.new[i+deltaBlock])
		a = (a - out + in) & 0xffff
		s = (s - deltaBlock*out + a) & 0xffff
		i++
	}
}

// extend returns where the alignment shift (old offset minus new offset)
// that starts at i stops holding: the first chunk less than half equal.
func (e *deltaEnc) extend(i, shift int) int {
	for i < len(e.new) && i+shift < len(e.old) {
		n := min(deltaChunk, len(e.new)-i, len(e.old)-i-shift)
		if equal(e.new[i:i+n], e.old[i+shift:]) < (n+1)/2 {
			break
		}
		i += n
	}
	return i
}

// equal counts the bytes of a equal to those of b at the same place (b
// being at least as long), a word at a time where they are all equal.
func equal(a, b []byte) int {
	eq := 0
	for len(a) >= 8 {
		if binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) {
			eq += 8
		} else {
			for k := range 8 {
				if a[k] == b[k] {
					eq++
				}
			}
		}
		a, b = a[8:], b[8:]
	}
	for k := range a {
		if a[k] == b[k] {
			eq++
		}
	}
	return eq
}

// aligned writes new[i:end] as copies of old (runs of deltaRun equal bytes
// or more) and differences (the rest), old being shift bytes on.
func (e *deltaEnc) aligned(i, end, shift int) {
	from := i // the start of the differences not yet written
	for p := i; p < end; {
		if e.new[p] != e.old[p+shift] {
			p++
			continue
		}
		q := p + 1
		for q+8 <= end && binary.LittleEndian.Uint64(e.new[q:]) == binary.LittleEndian.Uint64(e.old[q+shift:]) {
			q += 8
		}
		for q < end && e.new[q] == e.old[q+shift] {
			q++
		}
		if q-p >= deltaRun {
			e.diff(from, p, shift)
			e.op('c', p+shift, q-p)
			from = q
		}
		p = q
	}
	e.diff(from, end, shift)
}

func (e *deltaEnc) diff(i, end, shift int) {
	if i == end {
		return
	}
	e.op('d', i+shift, end-i)
	for k := i; k < end; {
		n := min(len(e.buf), end-k)
		for j := range n {
			e.buf[j] = e.new[k+j] - e.old[k+j+shift]
		}
		e.w.Write(e.buf[:n])
		k += n
	}
}

func (e *deltaEnc) literal(i, end int) {
	if i == end {
		return
	}
	e.w.WriteByte('l')
	e.uvarint(end - i)
	e.w.Write(e.new[i:end])
}

func (e *deltaEnc) op(kind byte, off, n int) {
	e.w.WriteByte(kind)
	e.uvarint(off)
	e.uvarint(n)
}

func (e *deltaEnc) uvarint(v int) {
	e.w.Write(e.varint[:binary.PutUvarint(e.varint[:], uint64(v))])
}
