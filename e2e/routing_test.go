package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A row inserted through the router lands on the cluster its key hashes
// to, and on no other.
func TestInsertLandsOnItsShard(t *testing.T) {
	c := connect(t)
	seen := map[string]int{}
	for range 20 {
		id := newKey()
		if _, err := c.Exec(ctxT(t), fmt.Sprintf("INSERT INTO customers (id, name) VALUES (%d, 'literal')", id), pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		want := ownerOf(t, id)
		seen[want]++
		assertPlacedOn(t, "customers", "id", id, want)
	}
	if len(seen) != len(clusters()) {
		t.Errorf("20 keys all went to %v: the hash does not spread", seen)
	}
}

// Keys given as parameters are placed at Bind time, with one prepared
// statement serving every execution.
func TestParameterKeysRouteAtBind(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			c := connectMode(t, mode)
			for range 8 {
				id := newKey()
				if _, err := c.Exec(ctxT(t), "INSERT INTO customers (id, name) VALUES ($1, $2)", id, "param"); err != nil {
					t.Fatal(err)
				}
				assertPlacedOn(t, "customers", "id", id, ownerOf(t, id))
				var name string
				if err := c.QueryRow(ctxT(t), "SELECT name FROM customers WHERE id = $1", id).Scan(&name); err != nil || name != "param" {
					t.Fatalf("read back %d: %q, %v", id, name, err)
				}
			}
		})
	}
}

// A read goes to the key's cluster only: a row planted by hand on the
// wrong cluster is never seen.
func TestReadGoesToTheKeysShard(t *testing.T) {
	for _, owner := range clusters() {
		id := keyOn(t, owner)
		for _, cl := range clusters() {
			name := "right"
			if cl != owner {
				name = "planted"
			}
			if _, err := primary(t, cl).Exec(ctxT(t), "INSERT INTO customers (id, name) VALUES ($1, $2)", id, name); err != nil {
				t.Fatal(err)
			}
		}
		replicasCaughtUp(t)
		c := connect(t)
		var names []string
		rows, err := c.Query(ctxT(t), "SELECT name FROM customers WHERE id = $1", id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, []string{"right"}) {
			t.Errorf("read of id %d owned by %s saw %v", id, owner, names)
		}
		for _, cl := range clusters() {
			primary(t, cl).Exec(ctxT(t), "DELETE FROM customers WHERE id = $1", id)
		}
	}
}

// A multi-row INSERT whose rows belong to different clusters is split:
// every row lands on its own cluster, RETURNING keeps the VALUES order and
// the command tag counts every row.
func TestMultiRowInsertIsSplitByShard(t *testing.T) {
	c := connect(t)
	ids := make([]int64, 12)
	var values []string
	for i := range ids {
		ids[i] = newKey()
		values = append(values, fmt.Sprintf("(%d, 'row%d')", ids[i], i))
	}
	sql := "INSERT INTO customers (id, name) VALUES " + strings.Join(values, ", ") + " RETURNING id"
	rows, err := c.Query(ctxT(t), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("RETURNING gave %v, want the VALUES order %v", got, ids)
	}
	if tag := rows.CommandTag().String(); tag != "INSERT 0 12" {
		t.Errorf("command tag %q, want INSERT 0 12", tag)
	}
	for _, id := range ids {
		assertPlacedOn(t, "customers", "id", id, ownerOf(t, id))
	}

	// The same with parameters, through a prepared statement.
	ids2 := []int64{newKey(), newKey(), newKey(), newKey(), newKey(), newKey()}
	var args []any
	var ph []string
	for i, id := range ids2 {
		ph = append(ph, fmt.Sprintf("($%d, $%d)", 2*i+1, 2*i+2))
		args = append(args, id, fmt.Sprintf("p%d", i))
	}
	rows, err = c.Query(ctxT(t), "INSERT INTO customers (id, name) VALUES "+strings.Join(ph, ", ")+" RETURNING id, name", args...)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		ID   int64
		Name string
	}
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.ID != ids2[i] || r.Name != fmt.Sprintf("p%d", i) {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	if len(recs) != len(ids2) {
		t.Errorf("%d rows returned, want %d", len(recs), len(ids2))
	}
	for _, id := range ids2 {
		assertPlacedOn(t, "customers", "id", id, ownerOf(t, id))
	}
}

// Tables outside the shard map and catalog queries go to the default
// cluster.
func TestUnmappedTablesUseTheDefaultCluster(t *testing.T) {
	c := connect(t)
	if _, err := c.Exec(ctxT(t), "CREATE TABLE plain_notes (id int, body text)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connect(t).Exec(ctxT(t), "DROP TABLE plain_notes") })
	if _, err := c.Exec(ctxT(t), "INSERT INTO plain_notes VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	def := stack.Router.Snapshot().Map.DefaultClusterName()
	for _, cl := range clusters() {
		var exists bool
		primary(t, cl).QueryRow(ctxT(t), "SELECT to_regclass('plain_notes') IS NOT NULL").Scan(&exists)
		if exists != (cl == def) {
			t.Errorf("plain_notes exists on %s: %v (default cluster is %s)", cl, exists, def)
		}
	}
	var n int
	if err := c.QueryRow(ctxT(t), "SELECT count(*) FROM plain_notes").Scan(&n); err != nil || n != 2 {
		t.Errorf("count = %d, %v", n, err)
	}
	var port int
	if err := c.QueryRow(ctxT(t), "SELECT setting::int FROM pg_settings WHERE name = 'port'").Scan(&port); err != nil {
		t.Fatal(err)
	}
	// A read may be answered by a replica of the default cluster.
	ports := []int{stack.Deployment.Cluster(def).Primary.Port()}
	for _, r := range stack.Deployment.Cluster(def).Replicas {
		ports = append(ports, r.Port())
	}
	if !slices.Contains(ports, port) {
		t.Errorf("catalog query answered by port %d, want one of the default cluster's %v", port, ports)
	}
}

// Writes to a reference table reach every copy; DDL on a distributed table
// reaches every cluster that holds it.
func TestReferenceWritesAndDDLReachEveryCluster(t *testing.T) {
	c := connect(t)
	code := fmt.Sprintf("x%d", newKey())
	if _, err := c.Exec(ctxT(t), "INSERT INTO countries (code, name) VALUES ($1, 'Testland')", code); err != nil {
		t.Fatal(err)
	}
	for _, cl := range clusters() {
		var n int
		primary(t, cl).QueryRow(ctxT(t), "SELECT count(*) FROM countries WHERE code = $1", code).Scan(&n)
		if n != 1 {
			t.Errorf("countries copy on %s has %d rows for %s, want 1", cl, n, code)
		}
	}
	if _, err := c.Exec(ctxT(t), "ALTER TABLE orders ADD COLUMN note_e2e text"); err != nil {
		t.Fatal(err)
	}
	for _, cl := range clusters() {
		var n int
		primary(t, cl).QueryRow(ctxT(t), "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'note_e2e'").Scan(&n)
		if n != 1 {
			t.Errorf("ALTER TABLE did not reach %s", cl)
		}
	}
	if _, err := c.Exec(ctxT(t), "ALTER TABLE orders DROP COLUMN note_e2e"); err != nil {
		t.Fatal(err)
	}
}

// Statements the router cannot place exactly are refused with 0A000 and a
// message that names the reason; the session stays usable.
func TestUnsupportedStatementsGive0A000(t *testing.T) {
	c := connect(t)
	cases := []struct{ sql, mentions string }{
		{"UPDATE orders o SET amount = 0 FROM customers c WHERE c.name = o.status", "without joining them on customer_id"},
		{"DELETE FROM customers WHERE id IN (SELECT max(customer_id) FROM orders)", "reads table orders"},
		{"UPDATE customers SET id = id + 1 WHERE id = 4", "UPDATE of distribution key"},
		{"INSERT INTO customers (name) OVERRIDING USER VALUE VALUES ('no key')", "OVERRIDING USER VALUE"},
		{"INSERT INTO customers VALUES (1, 'no columns')", "column list"},
		{"INSERT INTO customers (id, name) VALUES (1, 'a') ON CONFLICT (name) DO NOTHING", "do not include distribution key"},
		{"SELECT ctid FROM customers", "system columns"},
		{"SELECT nextval('s') FROM customers", "sequence functions"},
		{"SELECT * FROM customers FOR UPDATE", "FOR UPDATE"},
		{"COPY customers TO '/tmp/sqlrouter-copy-refused'", "file"},
		{"PREPARE p AS SELECT 1", "PREPARE"},
		{"UPDATE countries SET name = now()::text WHERE code = 'zz'", "calls functions"},
	}
	for _, tc := range cases {
		_, err := c.Exec(ctxT(t), tc.sql, pgx.QueryExecModeSimpleProtocol)
		if sqlstate(err) != "0A000" || !strings.Contains(err.Error(), tc.mentions) {
			t.Errorf("%s:\n got %v\nwant 0A000 mentioning %q", tc.sql, err, tc.mentions)
		}
	}
	// Without the key and with no default for it, the answer is
	// PostgreSQL's.
	if _, err := c.Exec(ctxT(t), "INSERT INTO customers (name) VALUES ('no key')"); sqlstate(err) != "23502" {
		t.Errorf("INSERT without a key that has no default: %v, want 23502", err)
	}
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("session unusable after refusals: %v", err)
	}
	// With parameters, a write whose keys land on two clusters runs on
	// both, atomically.
	a, b := keyOn(t, "s0"), keyOn(t, "s1")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'a'), ($2, 'b')", a, b)
	tag, err := c.Exec(ctxT(t), "DELETE FROM customers WHERE id IN ($1, $2)", a, b)
	if err != nil || tag.String() != "DELETE 2" {
		t.Errorf("DELETE with keys on two clusters: %v %v, want DELETE 2", tag, err)
	}
	if countOn(t, "s0", "customers", "id", a)+countOn(t, "s1", "customers", "id", b) != 0 {
		t.Errorf("DELETE with keys on two clusters left rows behind")
	}
}

// A read that needs every cluster gathers them all: the count through the
// router is the sum of the counts of the primaries.
func TestReadsAcrossShards(t *testing.T) {
	c := connect(t)
	for range 6 {
		mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'spread')", newKey())
	}
	var total int
	for _, cl := range clusters() {
		var n int
		primary(t, cl).QueryRow(ctxT(t), "SELECT count(*) FROM customers WHERE name = 'spread'").Scan(&n)
		total += n
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		var n int
		if err := c.QueryRow(ctxT(t), "SELECT count(*) FROM customers WHERE name = $1", mode, "spread").Scan(&n); err != nil || n != total {
			t.Errorf("%v: count through the router %d (%v), want %d", mode, n, err, total)
		}
	}
	a, b := keyOn(t, "s0"), keyOn(t, "s1")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'x'), ($2, 'y')", a, b)
	rows, err := c.Query(ctxT(t), "SELECT name FROM customers WHERE id IN ($1, $2) ORDER BY name", a, b)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(names, []string{"x", "y"}) {
		t.Errorf("IN with keys on two clusters: %v %v", names, err)
	}
}

// UPDATE and DELETE by key, with a literal or a parameter, change the row
// on the key's cluster only: copies planted by hand on the other clusters
// stay as they were.
func TestUpdateAndDeleteRunOnTheKeysShard(t *testing.T) {
	c := connect(t)
	for _, literal := range []bool{true, false} {
		for _, owner := range clusters() {
			id := keyOn(t, owner)
			for _, cl := range clusters() {
				if _, err := primary(t, cl).Exec(ctxT(t), "INSERT INTO customers (id, name) VALUES ($1, 'orig')", id); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if literal {
				_, err = c.Exec(ctxT(t), fmt.Sprintf("UPDATE customers SET name = 'changed' WHERE id = %d", id), pgx.QueryExecModeSimpleProtocol)
			} else {
				_, err = c.Exec(ctxT(t), "UPDATE customers SET name = 'changed' WHERE id = $1", id)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, cl := range clusters() {
				var name string
				primary(t, cl).QueryRow(ctxT(t), "SELECT name FROM customers WHERE id = $1", id).Scan(&name)
				want := "orig"
				if cl == owner {
					want = "changed"
				}
				if name != want {
					t.Errorf("literal=%v: after UPDATE of %d (owner %s) the row on %s is %q, want %q", literal, id, owner, cl, name, want)
				}
			}
			if literal {
				_, err = c.Exec(ctxT(t), fmt.Sprintf("DELETE FROM customers WHERE id = %d", id), pgx.QueryExecModeSimpleProtocol)
			} else {
				_, err = c.Exec(ctxT(t), "DELETE FROM customers WHERE id = $1", id)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, cl := range clusters() {
				want := 1
				if cl == owner {
					want = 0
				}
				if n := countOn(t, cl, "customers", "id", id); n != want {
					t.Errorf("literal=%v: after DELETE of %d (owner %s): %d rows on %s, want %d", literal, id, owner, n, cl, want)
				}
				primary(t, cl).Exec(ctxT(t), "DELETE FROM customers WHERE id = $1", id)
			}
		}
	}
}

// statementsOn returns the router's per-cluster statement counters.
func statementsOn() map[string]int64 {
	out := map[string]int64{}
	for _, c := range stack.Router.Stats() {
		out[c.Cluster] = c.Statements
	}
	return out
}

// A statement pruned to one cluster touches only that cluster: the
// router's per-cluster counters move for it alone. Arrays of keys
// (= ANY($1)) prune too, at Bind.
func TestPrunedStatementsTouchOnlyTheirClusters(t *testing.T) {
	c := connect(t)
	a0, b0, a1 := keyOn(t, "s0"), keyOn(t, "s0"), keyOn(t, "s1")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'p'), ($2, 'p'), ($3, 'p')", a0, b0, a1)
	cases := []struct {
		name string
		sql  string
		args []any
		want []string // clusters touched
		rows int
	}{
		{"key parameter", "SELECT name FROM customers WHERE id = $1", []any{a1}, []string{"s1"}, 1},
		{"key literal", fmt.Sprintf("SELECT name FROM customers WHERE id = %d", a0), nil, []string{"s0"}, 1},
		{"IN list on one cluster", fmt.Sprintf("SELECT name FROM customers WHERE id IN (%d, %d)", a0, b0), nil, []string{"s0"}, 2},
		{"array parameter on one cluster", "SELECT name FROM customers WHERE id = ANY($1)", []any{[]int64{a0, b0}}, []string{"s0"}, 2},
		{"array parameter on two clusters", "SELECT name FROM customers WHERE id = ANY($1)", []any{[]int64{a0, a1}}, []string{"s0", "s1"}, 2},
		{"all clusters", "SELECT count(*) FROM customers WHERE name = 'p'", nil, []string{"s0", "s1"}, 1},
	}
	for _, tc := range cases {
		before := statementsOn()
		rows, err := c.Query(ctxT(t), tc.sql, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after := statementsOn()
		var touched []string
		for _, cl := range clusters() {
			if after[cl] > before[cl] {
				touched = append(touched, cl)
			}
		}
		if !slices.Equal(touched, tc.want) || n != tc.rows {
			t.Errorf("%s: touched %v with %d rows, want %v with %d", tc.name, touched, n, tc.want, tc.rows)
		}
	}
}
