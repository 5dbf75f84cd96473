package copytest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// randomCopy makes one COPY input for the fuzz table (id bigint primary
// key, name text, qty int): mostly good rows spread over both clusters,
// with now and then a broken key, a duplicate, a bad value, a stray line
// ending, quotes and escapes of every kind, an end marker.
func randomCopy(r *rand.Rand, s0, s1 []int64) (sql string, data []byte) {
	csv := r.IntN(2) == 0
	header := csv && r.IntN(3) == 0
	delim := "\t"
	sql = "COPY fuzz FROM STDIN"
	if csv {
		delim = ","
		sql += " (FORMAT csv"
		if header {
			sql += ", HEADER"
		}
		sql += ")"
	}
	eol := "\n"
	if r.IntN(5) == 0 {
		eol = "\r\n"
	}
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	var b strings.Builder
	if header {
		b.WriteString("id,name,qty" + eol)
	}
	next := [2]int{}
	var keys []string
	n := 1 + r.IntN(15)
	for i := range n {
		side := r.IntN(2)
		pool := [2][]int64{s0, s1}[side]
		key := strconv.FormatInt(pool[next[side]%len(pool)], 10)
		next[side]++
		if len(keys) > 0 && r.IntN(25) == 0 {
			key = keys[r.IntN(len(keys))] // a duplicate
		}
		keys = append(keys, key)
		if r.IntN(50) == 0 {
			key = pick("x", "", " 12 ", "-0", "1e3", "99999999999999999999", `\N`, `"7"`, `"`, "4"+delim+"5")
		}
		var name string
		switch {
		case csv && r.IntN(16) > 0:
			name = pick("plain", "", `"quoted, comma"`, `"with ""quotes"""`, "\"two\nlines\"", "\"cr\rin\"", "sp ace", `"\."`, "caf\xc3\xa9")
		case csv:
			name = pick(`\.`, "a\"b", `"open`, "\"x\"y\"")
		case r.IntN(16) > 0:
			name = pick("plain", "", `\N`, `tab\tin`, `back\\slash`, `\x41\102`, `nl\nin`, "caf\xc3\xa9", `\\.`)
		default:
			name = pick(`\.`, `a\`, "bad\xff", `\0`)
		}
		qty := strconv.Itoa(r.IntN(1000))
		if r.IntN(60) == 0 {
			qty = pick("x", "1.5", "", "2147483648")
		}
		line := key + delim + name + delim + qty
		switch r.IntN(100) {
		case 0:
			line = key + delim + name // a column short
		case 1:
			line += delim + "extra"
		case 2:
			line = `\.`
		}
		end := eol
		if r.IntN(150) == 0 {
			end = pick("\n", "\r", "\r\n")
		}
		if i == n-1 && r.IntN(4) == 0 {
			end = "" // the last line without its line ending
		}
		b.WriteString(line + end)
	}
	return sql, []byte(b.String())
}

// Random inputs, good and broken, give through the router exactly what
// they give on one PostgreSQL: the same error (code, message, detail,
// hint, context with the line), or the same rows, each on its cluster.
func TestCopyRandomInputsMatchPostgres(t *testing.T) {
	ready(t)
	seed := uint64(20240601)
	if v, err := strconv.ParseUint(os.Getenv("SQLROUTER_COPY_SEED"), 10, 64); err == nil {
		seed = v
	}
	cases := 150
	if testing.Short() {
		cases = 30
	}
	r := rand.New(rand.NewPCG(seed, seed))
	s0, s1 := keysOn(t, "s0", 40), keysOn(t, "s1", 40)
	rc, rf := router(t), ref(t)
	failed := 0
	codes := map[string]int{}
	for i := range cases {
		sql, data := randomCopy(r, s0, s1)
		gotTag, gotErr := copyIn(t, rc.PgConn(), sql, data)
		wantTag, wantErr := copyIn(t, rf.PgConn(), sql, data)
		got, want := pgErr(gotErr), pgErr(wantErr)
		describe := fmt.Sprintf("case %d (seed %d): %s\n%q", i, seed, sql, data)
		switch {
		case want == nil && wantErr != nil:
			t.Fatalf("%s\nreference: %v", describe, wantErr)
		case want == nil:
			if gotErr != nil || gotTag.String() != wantTag.String() {
				t.Errorf("%s\nrouter: %v %s, reference: %s", describe, gotErr, gotTag, wantTag)
			} else if g, w := rowsOf(t, rc, "SELECT * FROM fuzz ORDER BY id"), rowsOf(t, rf, "SELECT * FROM fuzz ORDER BY id"); !slices.Equal(g, w) {
				t.Errorf("%s\nrouter rows %q\nreference rows %q", describe, g, w)
			}
		default:
			failed++
			codes[want.Code+" "+want.Message[:min(len(want.Message), 30)]]++
			if got == nil {
				t.Errorf("%s\nrouter: %v, reference: %s: %s (%s)", describe, gotErr, want.Code, want.Message, want.Where)
				break
			}
			if got.Code != want.Code || got.Message != want.Message || got.Detail != want.Detail || got.Hint != want.Hint || got.Where != want.Where {
				t.Errorf("%s\nrouter:    %s %s | %s | %s | %s\nreference: %s %s | %s | %s | %s", describe,
					got.Code, got.Message, got.Detail, got.Hint, got.Where, want.Code, want.Message, want.Detail, want.Hint, want.Where)
			}
		}
		for _, cl := range clusters() {
			var ids []string
			for _, id := range rowsOf(t, primary(t, cl), "SELECT id FROM fuzz") {
				v, _ := strconv.ParseInt(id, 10, 64)
				if owner(t, "by_id", keyOf(v)) != cl {
					ids = append(ids, id)
				}
			}
			if len(ids) > 0 {
				t.Errorf("%s\nrows %v are on %s, not their cluster", describe, ids, cl)
			}
			sqlExec(t, primary(t, cl), "TRUNCATE fuzz")
		}
		sqlExec(t, rf, "TRUNCATE fuzz")
		if t.Failed() {
			return
		}
	}
	t.Logf("%d inputs, %d of them rejected: %v", cases, failed, codes)
}
