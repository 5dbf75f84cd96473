package copytest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

func pgErr(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

func whereOf(err error) string {
	if pe := pgErr(err); pe != nil {
		return pe.Where
	}
	return ""
}

// keysOn returns n ids of errs' distribution on a cluster, from 1 up.
func keysOn(t testing.TB, cluster string, n int) []int64 {
	t.Helper()
	var out []int64
	for id := int64(1); len(out) < n; id++ {
		if owner(t, "by_id", shardmap.IntKey(id)) == cluster {
			out = append(out, id)
		}
	}
	return out
}

// errsText builds n rows of errs (id, name, qty) in text format: rows
// alternate between the clusters (odd lines s0, even lines s1), and bad
// replaces whole lines (1-based).
func errsText(t testing.TB, n int, bad map[int]string) []byte {
	s0, s1 := keysOn(t, "s0", n), keysOn(t, "s1", n)
	var b strings.Builder
	for line := 1; line <= n; line++ {
		if l, ok := bad[line]; ok {
			b.WriteString(l)
			continue
		}
		id := s0[line/2]
		if line%2 == 0 {
			id = s1[line/2]
		}
		fmt.Fprintf(&b, "%d\tname %d\t%d\n", id, line, line)
	}
	return []byte(b.String())
}

// binTuple is one binary COPY tuple; a nil field is NULL.
func binTuple(fields ...[]byte) []byte {
	out := binary.BigEndian.AppendUint16(nil, uint16(len(fields)))
	for _, f := range fields {
		if f == nil {
			out = binary.BigEndian.AppendUint32(out, 0xffffffff)
			continue
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}

func i8(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func i4(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

var binHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// errsBinary builds binary errs data: tuples alternate clusters; bad
// replaces whole tuples (1-based); the trailer ends it unless cut.
func errsBinary(t testing.TB, n int, bad map[int][]byte, trailer bool) []byte {
	s0, s1 := keysOn(t, "s0", n), keysOn(t, "s1", n)
	out := append([]byte(nil), binHeader...)
	for i := 1; i <= n; i++ {
		if b, ok := bad[i]; ok {
			out = append(out, b...)
			continue
		}
		id := s0[i/2]
		if i%2 == 0 {
			id = s1[i/2]
		}
		out = append(out, binTuple(i8(id), []byte(fmt.Sprintf("name %d", i)), i4(int32(i)))...)
	}
	if trailer {
		out = append(out, 0xff, 0xff)
	}
	return out
}

// A malformed row gets the error PostgreSQL gives for the same input:
// code, message, detail, hint and context with the client's line number
// (the router translates a cluster's own line count), and nothing of the
// COPY is committed on any cluster.
func TestCopyErrorsMatchPostgres(t *testing.T) {
	ready(t)
	s1 := keysOn(t, "s1", 80)
	s0 := keysOn(t, "s0", 80)
	csvRows := func(n int, bad map[int]string) []byte {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if l, ok := bad[i]; ok {
				b.WriteString(l)
				continue
			}
			id := s0[i]
			if i%2 == 0 {
				id = s1[i]
			}
			if i%3 == 0 {
				fmt.Fprintf(&b, "%d,\"two\nlines %d\",%d\n", id, i, i)
			} else {
				fmt.Fprintf(&b, "%d,name %d,%d\n", id, i, i)
			}
		}
		return []byte(b.String())
	}
	cases := []struct {
		name, sql string
		data      []byte
		check     string // rows of the COPY that must not exist anywhere
	}{
		{"bad key", "COPY errs FROM STDIN", errsText(t, 6, map[int]string{4: "xx\tbad\t4\n"}), ""},
		{"key out of range", "COPY errs FROM STDIN", errsText(t, 5, map[int]string{3: "99999999999999999999\tbig\t3\n"}), ""},
		{"missing column", "COPY errs FROM STDIN", errsText(t, 8, map[int]string{6: fmt.Sprintf("%d\tshort\n", s1[70])}), ""},
		{"extra column", "COPY errs FROM STDIN", errsText(t, 8, map[int]string{2: fmt.Sprintf("%d\tlong\t2\t9\n", s1[71])}), ""},
		{"bad value late on the other cluster", "COPY errs FROM STDIN", errsText(t, 60, map[int]string{47: fmt.Sprintf("%d\tbad\tx\n", s1[72])}), ""},
		{"bad value late on the home cluster", "COPY errs FROM STDIN", errsText(t, 60, map[int]string{51: fmt.Sprintf("%d\tbad\tx\n", s0[72])}), ""},
		{"bad value on the first line", "COPY errs FROM STDIN", errsText(t, 10, map[int]string{1: fmt.Sprintf("%d\tbad\t1.5\n", s1[73])}), ""},
		{"duplicate key", "COPY errs FROM STDIN", errsText(t, 50, map[int]string{10: fmt.Sprintf("%d\tdup\t1\n", s1[74]), 41: fmt.Sprintf("%d\tdup\t2\n", s1[74])}), ""},
		{"NULL key", "COPY errs FROM STDIN", errsText(t, 5, map[int]string{3: "\\N\tnull key\t3\n"}), ""},
		{"literal carriage return", "COPY errs FROM STDIN", errsText(t, 6, map[int]string{4: fmt.Sprintf("%d\tcr\t4\r\n", s1[75])}), ""},
		{"end-of-copy marker corrupt", "COPY errs FROM STDIN", errsText(t, 6, map[int]string{5: "\\.x\n"}), ""},
		{"csv unterminated quote", "COPY errs FROM STDIN (FORMAT csv)", append(csvRows(7, nil), []byte(fmt.Sprintf("%d,\"open\n", s1[76]))...), ""},
		{"csv bad value after multi-line values", "COPY errs FROM STDIN (FORMAT csv)", csvRows(40, map[int]string{32: fmt.Sprintf("%d,bad,x\n", s1[77])}), ""},
		{"csv bad value after multi-line values, header", "COPY errs FROM STDIN (FORMAT csv, HEADER)", append([]byte("id,name,qty\n"), csvRows(40, map[int]string{35: fmt.Sprintf("%d,bad,x\n", s0[77])})...), ""},
		{"csv header mismatch", "COPY errs FROM STDIN (FORMAT csv, HEADER match)", append([]byte("id,nam,qty\n"), csvRows(3, nil)...), ""},
		{"csv newline style change", "COPY errs FROM STDIN (FORMAT csv)", []byte(fmt.Sprintf("%d,a,1\r\n%d,b,2\n", s0[78], s1[78])), ""},
		{"csv quoted key", "COPY errs FROM STDIN (FORMAT csv)", []byte(fmt.Sprintf("%d,a,1\n\"\",b,2\n", s0[79])), ""},
		{"binary field count", "COPY errs FROM STDIN (FORMAT binary)", errsBinary(t, 9, map[int][]byte{7: binTuple(i8(s1[70]), []byte("two"))}, true), ""},
		{"binary signature", "COPY errs FROM STDIN (FORMAT binary)", append([]byte("PGCOPY\nXX"), binTuple(i8(1))...), ""},
		{"binary truncated", "COPY errs FROM STDIN (FORMAT binary)", errsBinary(t, 5, map[int][]byte{5: binTuple(i8(s1[71]), []byte("cut"), i4(5))[:20]}, false), ""},
		{"binary NULL key", "COPY errs FROM STDIN (FORMAT binary)", errsBinary(t, 5, map[int][]byte{3: binTuple(nil, []byte("x"), i4(3))}, true), ""},
		{"binary bad value on the other cluster", "COPY errs FROM STDIN (FORMAT binary)", errsBinary(t, 9, map[int][]byte{8: binTuple(i8(s1[72]), []byte("x"), i8(8))}, true), ""},
		{"binary short key", "COPY errs FROM STDIN (FORMAT binary)", errsBinary(t, 4, map[int][]byte{2: binTuple(i4(7), []byte("x"), i4(2))}, true), ""},
		{"binary data after the trailer", "COPY errs FROM STDIN (FORMAT binary)", append(errsBinary(t, 3, nil, true), 0, 1), ""},
		{"text key with invalid UTF-8", "COPY notes (code, body) FROM STDIN", []byte("err-a\tx\nerr-\xff\ty\nerr-c\tz\n"), "code LIKE 'err-%'"},
		{"text key with an escaped NUL", "COPY notes (code, body) FROM STDIN", []byte("err-a\tx\nerr-\\0\ty\n"), "code LIKE 'err-%'"},
	}
	r, rf := router(t), ref(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, gotErr := copyIn(t, r.PgConn(), tc.sql, tc.data)
			_, wantErr := copyIn(t, rf.PgConn(), tc.sql, tc.data)
			got, want := pgErr(gotErr), pgErr(wantErr)
			if want == nil {
				t.Fatalf("the reference accepted the input (%v): the case is wrong", wantErr)
			}
			if got == nil {
				t.Fatalf("router: %v, want %s: %s", gotErr, want.Code, want.Message)
			}
			t.Logf("%s: %s (%s)", got.Code, got.Message, got.Where)
			for _, f := range [][3]string{{"code", got.Code, want.Code}, {"message", got.Message, want.Message}, {"detail", got.Detail, want.Detail},
				{"hint", got.Hint, want.Hint}, {"context", got.Where, want.Where}} {
				if f[1] != f[2] {
					t.Errorf("%s:\n got  %q\n want %q", f[0], f[1], f[2])
				}
			}
			table, where := "errs", ""
			if tc.check != "" {
				table, where = "notes", tc.check
			}
			for _, cl := range clusters() {
				if n := countOn(t, cl, table, where); n != 0 {
					t.Errorf("%d rows committed on %s", n, cl)
					sqlExec(t, primary(t, cl), "DELETE FROM errs")
				}
			}
		})
	}
}
