package copytest

import (
	"bytes"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// writeBuffer collects COPY TO output.
type writeBuffer struct{ b []byte }

func (w *writeBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// failingReader yields data, then an error: pgconn answers the error with
// CopyFail.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// rowGenerator produces COPY text rows on the fly, never holding them all.
type rowGenerator struct {
	next, end int64
	row       func(i int64, dst []byte) []byte
	buf       []byte
	total     int64
}

func (g *rowGenerator) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.next < g.end {
		g.buf = g.row(g.next, g.buf)
		g.next++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	g.total += int64(n)
	return n, nil
}
