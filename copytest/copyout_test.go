package copytest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

var outsOnce sync.Once

// outs is loaded with the same rows through the router and on the
// reference; the rows spread over both clusters.
func loadOuts(t testing.TB) {
	ready(t)
	outsOnce.Do(func() {
		var b strings.Builder
		for i := range 1500 {
			name := fmt.Sprintf("out, \"%d\"\\twith tab", i)
			if i%10 == 4 {
				name = `\N`
			}
			fmt.Fprintf(&b, "%d\t%s\t%d\t%d.%02d\t{x,%d}\t2024-03-%02d 12:30:00+00\n", 500000+i, name, i%17, i%400, i%100, i, 1+i%28)
		}
		for _, c := range []*pgx.Conn{router(t), ref(t)} {
			if _, err := copyIn(t, c.PgConn(), "COPY outs FROM STDIN", []byte(b.String())); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// sortedLines splits text output into lines, the first kept first when
// header is set, the rest sorted (the clusters' order is not one
// server's heap order).
func sortedLines(data []byte, header bool) []string {
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	start := 0
	if header {
		start = 1
	}
	sort.Strings(lines[start:])
	return lines
}

// binaryParts splits binary COPY output into its header, its tuples
// (sorted) and its trailer.
func binaryParts(t *testing.T, data []byte) (header []byte, tuples []string, trailer []byte) {
	t.Helper()
	if len(data) < 21 {
		t.Fatalf("binary output of %d bytes", len(data))
	}
	ext := int(binary.BigEndian.Uint32(data[15:19]))
	header, p := data[:19+ext], 19+ext
	for {
		n := int(int16(binary.BigEndian.Uint16(data[p:])))
		if n == -1 {
			return header, slices.Sorted(slices.Values(tuples)), data[p:]
		}
		q := p + 2
		for range n {
			l := int(int32(binary.BigEndian.Uint32(data[q:])))
			q += 4
			if l > 0 {
				q += l
			}
		}
		tuples = append(tuples, string(data[p:q]))
		p = q
	}
}

// COPY of a distributed table to STDOUT gathers every cluster's rows: the
// same rows, header and tag one server gives (rows in another order, as
// a table has none); binary output has one file header and one trailer.
func TestCopyOutTable(t *testing.T) {
	loadOuts(t)
	r, rf := router(t).PgConn(), ref(t).PgConn()
	for _, sql := range []string{
		"COPY outs TO STDOUT",
		"COPY outs (name, id) TO STDOUT WITH (FORMAT csv, HEADER)",
		"COPY outs TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', FORCE_QUOTE *)",
		"COPY (SELECT id, name FROM outs WHERE qty > 3) TO STDOUT (FORMAT csv, HEADER)",
	} {
		got, gotTag := copyOut(t, r, sql)
		want, wantTag := copyOut(t, rf, sql)
		header := strings.Contains(sql, "HEADER")
		if !slices.Equal(sortedLines(got, header), sortedLines(want, header)) || gotTag.String() != wantTag.String() {
			t.Errorf("%s: router %d bytes %s, reference %d bytes %s\nrouter starts %q\nreference starts %q", sql, len(got), gotTag, len(want), wantTag, got[:min(len(got), 120)], want[:min(len(want), 120)])
		}
	}
	got, _ := copyOut(t, r, "COPY outs TO STDOUT (FORMAT binary)")
	want, _ := copyOut(t, rf, "COPY outs TO STDOUT (FORMAT binary)")
	gh, gt, gtr := binaryParts(t, got)
	wh, wt, wtr := binaryParts(t, want)
	if !bytes.Equal(gh, wh) || !bytes.Equal(gtr, wtr) || !slices.Equal(gt, wt) {
		t.Errorf("binary: router %d bytes (%d tuples), reference %d bytes (%d tuples)", len(got), len(gt), len(want), len(wt))
	}
}

// COPY (query) TO STDOUT over several clusters gives exactly the bytes one
// server gives: an ordered query and aggregates are finished at the
// coordinator, which formats the output itself.
func TestCopyOutQueryExact(t *testing.T) {
	loadOuts(t)
	r, rf := router(t).PgConn(), ref(t).PgConn()
	for _, sql := range []string{
		"COPY (SELECT * FROM outs ORDER BY id) TO STDOUT",
		"COPY (SELECT * FROM outs ORDER BY qty, id DESC) TO STDOUT WITH (FORMAT csv, HEADER)",
		"COPY (SELECT * FROM outs ORDER BY id) TO STDOUT WITH (FORMAT binary)",
		"COPY (SELECT qty, count(*), sum(price), min(name) FROM outs GROUP BY qty ORDER BY qty) TO STDOUT WITH (FORMAT csv, HEADER)",
		"COPY (SELECT id, name FROM outs ORDER BY id LIMIT 7 OFFSET 3) TO STDOUT",
		"COPY (SELECT o.id, p.id FROM outs o JOIN outs p ON p.qty = o.qty AND p.id = o.id + 17 ORDER BY 1) TO STDOUT",
	} {
		got, gotTag := copyOut(t, r, sql)
		want, wantTag := copyOut(t, rf, sql)
		if !bytes.Equal(got, want) || gotTag.String() != wantTag.String() {
			t.Errorf("%s: router %d bytes %s, reference %d bytes %s\nrouter starts %q\nreference starts %q", sql, len(got), gotTag, len(want), wantTag, got[:min(len(got), 120)], want[:min(len(want), 120)])
		}
	}
}

// A reference table is copied out from one copy; COPY TO inside a
// transaction sees the transaction's own rows.
func TestCopyOutReferenceAndTransaction(t *testing.T) {
	loadOuts(t)
	c := router(t)
	if _, err := copyIn(t, c.PgConn(), "COPY kinds FROM STDIN", []byte("70\tseventy\n71\tseventy-one\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := copyOut(t, c.PgConn(), "COPY kinds TO STDOUT")
	want, _ := copyOut(t, primary(t, "s0").PgConn(), "COPY kinds TO STDOUT")
	if !bytes.Equal(got, want) {
		t.Errorf("reference table: router %q, s0 %q", got, want)
	}
	sqlExec(t, c, "BEGIN")
	if _, err := copyIn(t, c.PgConn(), "COPY outs (id, name) FROM STDIN", []byte("990001\tnew a\n990002\tnew b\n990003\tnew c\n")); err != nil {
		t.Fatal(err)
	}
	out, tag := copyOut(t, c.PgConn(), "COPY (SELECT id, name FROM outs WHERE id > 990000 ORDER BY id) TO STDOUT")
	if string(out) != "990001\tnew a\n990002\tnew b\n990003\tnew c\n" || tag.String() != "COPY 3" {
		t.Errorf("inside the transaction: %q %s", out, tag)
	}
	all, _ := copyOut(t, c.PgConn(), "COPY outs TO STDOUT")
	if n := bytes.Count(all, []byte("\tnew ")); n != 3 {
		t.Errorf("COPY outs inside the transaction shows %d new rows, want 3", n)
	}
	sqlExec(t, c, "ROLLBACK")
}
