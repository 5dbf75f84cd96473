package writetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// foSetup creates the fan-out tables: 30 accounts spread over the three
// clusters, two entries each, and a reference table of rates.
func foSetup(t *testing.T) {
	setup(t,
		`CREATE TABLE fo_accounts (id bigint PRIMARY KEY, owner text NOT NULL, currency text NOT NULL, balance numeric NOT NULL CHECK (balance >= 0))`,
		`CREATE TABLE fo_entries (account_id bigint NOT NULL, n int NOT NULL, amount numeric NOT NULL, PRIMARY KEY (account_id, n))`,
		`CREATE TABLE fo_rates (currency text PRIMARY KEY, rate numeric NOT NULL)`,
		`CREATE TABLE fo_tags (tag text PRIMARY KEY, account_id bigint)`,
		`INSERT INTO fo_rates (currency, rate) VALUES ('eur', 2), ('usd', 1)`,
		`INSERT INTO fo_accounts (id, owner, currency, balance) SELECT g, 'o' || (g % 3), CASE WHEN g % 2 = 0 THEN 'eur' ELSE 'usd' END, 100 FROM generate_series(1, 30) g`,
		`INSERT INTO fo_entries (account_id, n, amount) SELECT g, n, n * 10 FROM generate_series(1, 30) g, generate_series(1, 2) n`,
	)
	for _, cl := range clusters() {
		if countOn(t, cl, "fo_accounts", "") == 0 {
			t.Fatalf("no account on %s: the test needs rows on every cluster", cl)
		}
	}
}

// balances is every account's balance by id, read straight from the
// primaries (each row from the cluster that holds it).
func balances(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, cl := range clusters() {
		for _, r := range rowsOn(t, cl, `SELECT id, balance::text FROM fo_accounts`) {
			id, bal, _ := strings.Cut(r, "|")
			if _, dup := out[id]; dup {
				t.Errorf("account %s is on two clusters", id)
			}
			out[id] = bal
		}
	}
	return out
}

// An UPDATE or DELETE without a key condition runs on every cluster,
// atomically: the command tag adds up the clusters' counts, RETURNING
// gives every cluster's rows, a failure on one cluster leaves every
// cluster as it was, and ROLLBACK undoes it everywhere. Joins with
// reference tables and with co-located tables on the key run too.
func TestFanOutUpdateAndDelete(t *testing.T) {
	foSetup(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c := connect(t, mode)
		rows, err := c.Query(ctxT(t), `UPDATE fo_accounts SET balance = balance + 1 WHERE balance >= 0 RETURNING id`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) != 30 || rows.CommandTag().String() != "UPDATE 30" {
			t.Fatalf("%v: fan-out UPDATE returned %d ids, tag %q, %v; want 30 and UPDATE 30", mode, len(ids), rows.CommandTag(), err)
		}
		slices.Sort(ids)
		if ids[0] != 1 || ids[29] != 30 {
			t.Errorf("%v: RETURNING ids %v", mode, ids)
		}
	}
	for id, bal := range balances(t) {
		if bal != "102" {
			t.Errorf("account %s: balance %s after two fan-out updates, want 102", id, bal)
		}
	}

	c := connect(t)
	// Account 7 cannot pay 150: its cluster fails the statement, and no
	// cluster keeps its part.
	mustExec(t, c, `UPDATE fo_accounts SET balance = 50 WHERE id = 7`)
	before := balances(t)
	_, err := c.Exec(ctxT(t), `UPDATE fo_accounts SET balance = balance - 60`)
	if sqlstate(err) != "23514" {
		t.Fatalf("UPDATE violating a check on one cluster: %v, want 23514", err)
	}
	if after := balances(t); !mapsEqual(before, after) {
		t.Errorf("a failed fan-out UPDATE changed balances:\nbefore %v\nafter  %v", before, after)
	}
	tx, err := c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if tag, err := tx.Exec(ctxT(t), `DELETE FROM fo_entries WHERE n = 2`); err != nil || tag.String() != "DELETE 30" {
		t.Fatalf("DELETE in a transaction: %v %v", tag, err)
	}
	if err := tx.Rollback(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, cl := range clusters() {
		total += countOn(t, cl, "fo_entries", "n = 2")
	}
	if total != 30 {
		t.Errorf("after ROLLBACK of a fan-out DELETE: %d entries with n = 2, want 30", total)
	}

	// With a reference table: each cluster joins its own copy.
	mustExec(t, c, `UPDATE fo_accounts a SET balance = 100 * r.rate FROM fo_rates r WHERE r.currency = a.currency`)
	for id, bal := range balances(t) {
		want := map[bool]string{true: "200", false: "100"}[id[len(id)-1]%2 == 0]
		if bal != want {
			t.Errorf("account %s: balance %s after UPDATE ... FROM a reference table, want %s", id, bal, want)
		}
	}
	// With a co-located table joined on the key: each account meets its
	// own entries, which live on its cluster.
	tag := mustExec(t, c, `UPDATE fo_accounts a SET balance = a.balance + e.amount FROM fo_entries e WHERE e.account_id = a.id AND e.n = 1`)
	if tag.String() != "UPDATE 30" {
		t.Errorf("UPDATE ... FROM a co-located table: %s, want UPDATE 30", tag)
	}
	tag = mustExec(t, c, `DELETE FROM fo_entries e USING fo_accounts a WHERE a.id = e.account_id AND a.owner = 'o1'`)
	if tag.String() != "DELETE 20" {
		t.Errorf("DELETE ... USING a co-located table: %s, want DELETE 20 (10 accounts of o1, 2 entries each)", tag)
	}
	// Keys of several clusters as one array parameter.
	tag = mustExec(t, c, `DELETE FROM fo_entries WHERE account_id = ANY($1)`, []int64{2, 3, 5, 6, 8, 9})
	if tag.String() != "DELETE 12" {
		t.Errorf("DELETE with keys on several clusters: %s, want DELETE 12 (6 accounts, 2 entries each)", tag)
	}
	left := 0
	for _, cl := range clusters() {
		left += countOn(t, cl, "fo_entries", "")
	}
	if left != 60-20-12 {
		t.Errorf("%d entries left, want 28", left)
	}

	// Reading a table of another distribution is refused: its rows are
	// not where the accounts are.
	_, err = c.Exec(ctxT(t), `UPDATE fo_accounts a SET balance = 0 FROM fo_tags g WHERE g.account_id = a.id`)
	if sqlstate(err) != "0A000" {
		t.Errorf("UPDATE ... FROM a table of another distribution: %v, want 0A000", err)
	}
}

// An UPDATE may set the key to a value that belongs on the row's own
// cluster; one that would move the row to another cluster is refused
// with 0A000 and changes nothing (rows do not move between clusters).
func TestUpdateOfTheKey(t *testing.T) {
	setup(t, `CREATE TABLE fo_keys (id bigint PRIMARY KEY, v text)`)
	from := accountOn(t, "s1", 1000)
	same := accountOn(t, "s1", from+1)
	other := accountOn(t, "s2", from+1)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c := connect(t, mode)
		mustExec(t, c, `DELETE FROM fo_keys WHERE id IN ($1, $2)`, from, same)
		mustExec(t, c, `INSERT INTO fo_keys (id, v) VALUES ($1, 'x')`, from)
		if tag := mustExec(t, c, `UPDATE fo_keys SET id = $1, v = 'moved' WHERE id = $2`, same, from); tag.String() != "UPDATE 1" {
			t.Errorf("%v: UPDATE of the key within its cluster: %s", mode, tag)
		}
		if got := rowsOn(t, "s1", `SELECT id, v FROM fo_keys WHERE id IN ($1, $2)`, from, same); !slices.Equal(got, []string{fmt.Sprintf("%d|moved", same)}) {
			t.Errorf("%v: s1 holds %v after the key changed", mode, got)
		}
		_, err := c.Exec(ctxT(t), `UPDATE fo_keys SET id = $1 WHERE id = $2`, other, same)
		if sqlstate(err) != "0A000" || !strings.Contains(err.Error(), "moves rows to another cluster") {
			t.Errorf("%v: UPDATE moving a row to another cluster: %v, want 0A000", mode, err)
		}
		if countOn(t, "s1", "fo_keys", "id = $1", same) != 1 || countOn(t, "s2", "fo_keys", "id = $1", other) != 0 {
			t.Errorf("%v: a refused key UPDATE changed rows", mode)
		}
		// SET id = id, as ORMs write every column, runs anywhere.
		if tag := mustExec(t, c, `UPDATE fo_keys SET id = id, v = 'again'`); tag.String() != "UPDATE 1" {
			t.Errorf("%v: UPDATE SET id = id over every cluster: %s", mode, tag)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
