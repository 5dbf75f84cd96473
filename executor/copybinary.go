package executor

import (
	"bytes"
	"encoding/binary"
)

// copyBinarySignature starts every binary COPY file.
var copyBinarySignature = []byte("PGCOPY\n\xff\r\n\x00")

// binarySplitter cuts binary COPY data into its header, tuples and
// trailer, and reads one column of each tuple.
type binarySplitter struct {
	keyCol, ncols int
	buf           []byte
	start         int
	headerDone    bool
	ended         bool
	tuple         int64
}

func newBinarySplitter(keyCol, ncols int) *binarySplitter {
	return &binarySplitter{keyCol: keyCol, ncols: ncols}
}

func (b *binarySplitter) feed(data []byte) {
	if b.start > 0 {
		n := copy(b.buf, b.buf[b.start:])
		b.buf = b.buf[:n]
		b.start = 0
	}
	b.buf = append(b.buf, data...)
}

func (b *binarySplitter) next(final bool) (copyRow, bool) {
	rest := b.buf[b.start:]
	if len(rest) == 0 {
		return copyRow{}, false
	}
	if b.ended {
		// Data after the trailer: PostgreSQL rejects it; the home cluster
		// gets it after the trailer to say so.
		row := copyRow{kind: rowData, raw: rest, line: b.tuple, span: 1, spanFirst: 1, afterEnd: true}
		b.start = len(b.buf)
		return row, true
	}
	if !b.headerDone {
		// Signature, flags, header extension length, extension.
		n := 19
		if len(rest) >= 19 && bytes.Equal(rest[:11], copyBinarySignature) {
			ext := int(int32(binary.BigEndian.Uint32(rest[15:19])))
			if ext > 0 {
				n += ext
			}
		}
		if len(rest) < n && !final {
			return copyRow{}, false
		}
		n = min(n, len(rest))
		b.headerDone = true
		b.start += n
		row := copyRow{kind: rowHeader, raw: rest[:n]}
		if msg := checkBinaryHeader(rest[:n]); msg != "" {
			row.err = &copyError{code: codeBadCopyFormat, message: msg}
			b.ended = true
		}
		return row, true
	}
	if len(rest) < 2 {
		if final {
			b.tuple++
			return b.partial(rest), true
		}
		return copyRow{}, false
	}
	count := int(int16(binary.BigEndian.Uint16(rest)))
	if count == -1 {
		b.tuple++ // PostgreSQL counts the trailer as a line
		b.ended = true
		b.start += 2
		return copyRow{kind: rowEnd, raw: rest[:0]}, true
	}
	b.tuple++
	row := copyRow{kind: rowData, line: b.tuple, span: 1, spanFirst: 1, fields: count}
	if count != b.ncols {
		// PostgreSQL stops at the field count: the tuple goes on as it is.
		b.start += 2
		row.raw = rest[:2]
		return row, true
	}
	p := 2
	for f := 0; f < count; f++ {
		if p+4 > len(rest) {
			return b.wait(rest, final)
		}
		l := int(int32(binary.BigEndian.Uint32(rest[p:])))
		p += 4
		if l < 0 {
			if f == b.keyCol {
				row.keyOK, row.keyNull = true, true
			}
			continue
		}
		if p+l > len(rest) || p+l < p {
			return b.wait(rest, final)
		}
		if f == b.keyCol {
			row.keyOK, row.key = true, rest[p:p+l]
		}
		p += l
	}
	row.raw = rest[:p]
	b.start += p
	return row, true
}

// wait asks for more data for an incomplete tuple, or, at the end,
// returns it as it is.
func (b *binarySplitter) wait(rest []byte, final bool) (copyRow, bool) {
	if !final {
		b.tuple--
		return copyRow{}, false
	}
	return b.partial(rest), true
}

// partial returns a truncated tuple: PostgreSQL reports it.
func (b *binarySplitter) partial(rest []byte) copyRow {
	b.start = len(b.buf)
	b.ended = true
	return copyRow{kind: rowData, raw: rest, line: b.tuple, span: 1, spanFirst: 1, fields: -1}
}

// checkBinaryHeader returns PostgreSQL's complaint about a binary COPY
// file header, or "".
func checkBinaryHeader(h []byte) string {
	switch {
	case len(h) < 11 || !bytes.Equal(h[:11], copyBinarySignature):
		return "COPY file signature not recognized"
	case len(h) < 15:
		return "invalid COPY file header (missing flags)"
	}
	flags := binary.BigEndian.Uint32(h[11:15])
	switch {
	case flags&(1<<16) != 0:
		return "invalid COPY file header (WITH OIDS)"
	case flags&^uint32(0xffff) != 0:
		return "unrecognized critical flags in COPY file header"
	case len(h) < 19:
		return "invalid COPY file header (missing length)"
	case int32(binary.BigEndian.Uint32(h[15:19])) < 0:
		return "invalid COPY file header (wrong length)"
	}
	return ""
}
