package planner

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// preparedBatch is an INSERT of rows rows of three parameters each.
func preparedBatch(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO customers (id, name, email) VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
	}
	return b.String()
}

// A prepared multi-row INSERT executed with ever new keys splits each
// execution by its own keys, and the splits it keeps stay bounded.
func TestPreparedSplitsStayBounded(t *testing.T) {
	m := loadTestMap(t)
	const rows = 50
	st, err := New(Options{}).PlanPrepared(Context{Map: m, Revision: 1}, preparedBatch(rows))
	if err != nil {
		t.Fatal(err)
	}
	sp := st.Plan.(*SplitInsert)
	for exec := range 300 {
		p := Params{}
		for i := range rows {
			p.Values = append(p.Values, []byte(strconv.Itoa(exec*rows+i)), []byte("n"), nil)
		}
		parts, err := sp.Split(p)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, part := range parts {
			for _, r := range part.Rows {
				want, _ := rowCluster(sp.Table, sp.Keys[r], p)
				if want != part.Cluster {
					t.Fatalf("execution %d: row %d sent to %s, its key belongs on %s", exec, r, part.Cluster, want)
				}
				seen++
			}
			if n := strings.Count(part.SQL, "("); n != len(part.Rows)+1 || len(part.Params) != 3*len(part.Rows) {
				t.Fatalf("execution %d: part for %s has %d rows but SQL %q and params %v", exec, part.Cluster, len(part.Rows), part.SQL, part.Params)
			}
		}
		if seen != rows {
			t.Fatalf("execution %d: %d rows placed, want %d", exec, seen, rows)
		}
	}
	if n := sp.cached.Load(); n > maxCachedSplits {
		t.Errorf("%d splits kept, want at most %d", n, maxCachedSplits)
	}
}

// BenchmarkPreparedSplit is one execution of a prepared 1000-row INSERT
// (3000 parameters) whose keys spread over three clusters: the split and
// the per-cluster rewrite of the statement.
func BenchmarkPreparedSplit(b *testing.B) {
	m := loadTestMap(b)
	const rows = 1000
	st, err := New(Options{}).PlanPrepared(Context{Map: m, Revision: 1}, preparedBatch(rows))
	if err != nil {
		b.Fatal(err)
	}
	sp := st.Plan.(*SplitInsert)
	b.ResetTimer()
	for exec := range b.N {
		p := Params{}
		for i := range rows {
			p.Values = append(p.Values, []byte(strconv.Itoa(exec*rows+i)), []byte("n"), nil)
		}
		if _, err := sp.Split(p); err != nil {
			b.Fatal(err)
		}
	}
}
