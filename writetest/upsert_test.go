package writetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// batchInsert writes an INSERT of rows rows of three parameters each.
func batchInsert(rows int, tail string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO up_kv (id, v, n) VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
	}
	return b.String() + " " + tail
}

// A prepared INSERT of many rows (thousands of parameters) is split by
// cluster at each execution with that execution's keys; RETURNING keeps
// the VALUES order, ON CONFLICT decides on each row's cluster, and a
// failure on one cluster keeps every cluster's rows out.
func TestPreparedBatchInsertsAndUpserts(t *testing.T) {
	setup(t, `CREATE TABLE up_kv (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL DEFAULT 0)`)
	c := connect(t, pgx.QueryExecModeCacheStatement)
	const rows = 700
	insert := batchInsert(rows, "RETURNING id")
	for exec := range 3 {
		args := make([]any, 0, 3*rows)
		var want []string
		for i := range rows {
			id := int64(exec*100000 + i*7919%100000)
			args = append(args, id, fmt.Sprintf("v%d", i), 0)
			want = append(want, fmt.Sprint(id))
		}
		got := rowsVia(t, c, insert, args...)
		if !slices.Equal(got, want) {
			t.Fatalf("execution %d: RETURNING gave %d ids, not in VALUES order", exec, len(got))
		}
	}
	if n := assertPlaced(t, "up_kv", "id", "by_account"); n != 3*rows {
		t.Errorf("up_kv has %d rows, want %d", n, 3*rows)
	}

	// Upserts: half the keys exist.
	upsert := batchInsert(rows, "ON CONFLICT (id) DO UPDATE SET n = up_kv.n + 1, v = excluded.v RETURNING id, n")
	args := make([]any, 0, 3*rows)
	var want []string
	for i := range rows {
		id, n := int64(i*7919%100000), 1
		if i%2 == 1 {
			id, n = int64(500000+i), 0
		}
		args = append(args, id, "u", 0)
		want = append(want, fmt.Sprintf("%d|%d", id, n))
	}
	if got := rowsVia(t, c, upsert, args...); !slices.Equal(got, want) {
		t.Errorf("batch upsert RETURNING: %d rows, want %d in VALUES order", len(got), len(want))
	}
	// DO NOTHING counts only the rows it inserted.
	tag := mustExec(t, c, `INSERT INTO up_kv (id, v) VALUES (0, 'x'), (7919, 'x'), (15838, 'x'), (900001, 'new'), (900002, 'new') ON CONFLICT DO NOTHING`)
	if tag.String() != "INSERT 0 2" {
		t.Errorf("ON CONFLICT DO NOTHING over several clusters: %s, want INSERT 0 2", tag)
	}
	// Conflict targets without the key are refused.
	if _, err := c.Exec(ctxT(t), `INSERT INTO up_kv (id, v) VALUES (1, 'x') ON CONFLICT (v) DO NOTHING`); sqlstate(err) != "0A000" {
		t.Errorf("ON CONFLICT (v): %v, want 0A000", err)
	}

	// A duplicate within one cluster's rows fails the statement; no
	// cluster keeps a row.
	before := assertPlaced(t, "up_kv", "id", "by_account")
	args = args[:0]
	for i := range rows {
		args = append(args, int64(800000+i), "d", 0)
	}
	args[3*(rows-1)] = int64(800000) // the last row repeats the first key
	if _, err := c.Exec(ctxT(t), batchInsert(rows, ""), args...); sqlstate(err) != "23505" {
		t.Errorf("batch with a duplicate key: %v, want 23505", err)
	}
	if after := assertPlaced(t, "up_kv", "id", "by_account"); after != before {
		t.Errorf("a failed batch left %d rows", after-before)
	}
}
