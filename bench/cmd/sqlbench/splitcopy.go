package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// rowSource writes the text-format COPY line of row i (newline included)
// and names the target it goes to.
type rowSource struct {
	n     int
	line  func(buf []byte, i int) []byte
	route func(i int) int // index into the targets; always 0 for one target
}

// copyRows streams rows 0..n-1 into the targets with one COPY each, all
// running concurrently, the generating and splitting done in this
// goroutine. It returns how many rows each target received.
func copyRows(ctx context.Context, targets []endpoint, copySQL string, src rowSource) ([]int64, error) {
	type sink struct {
		pw   *io.PipeWriter
		bw   *bufio.Writer
		rows int64
	}
	sinks := make([]*sink, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		conn, err := pgconn.Connect(ctx, t.url())
		if err != nil {
			for _, s := range sinks[:i] {
				s.pw.CloseWithError(err)
			}
			wg.Wait()
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		pr, pw := io.Pipe()
		sinks[i] = &sink{pw: pw, bw: bufio.NewWriterSize(pw, 256<<10)}
		wg.Go(func() {
			defer conn.Close(context.Background())
			_, err := conn.CopyFrom(ctx, pr, copySQL)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.Name, err)
			}
			pr.CloseWithError(errors.Join(err, io.ErrClosedPipe)) // unblock the writer on failure
		})
	}
	var buf []byte
	var werr error
	for i := 0; i < src.n && werr == nil; i++ {
		s := sinks[src.route(i)]
		buf = src.line(buf[:0], i)
		_, werr = s.bw.Write(buf)
		s.rows++
	}
	counts := make([]int64, len(sinks))
	for i, s := range sinks {
		if werr == nil {
			werr = s.bw.Flush()
		}
		s.pw.CloseWithError(werr)
		counts[i] = s.rows
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return counts, err
	}
	if werr != nil {
		return counts, werr
	}
	return counts, nil
}
