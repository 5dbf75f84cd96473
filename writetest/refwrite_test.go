package writetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Many clients run TPC-B shaped transactions through the router: an
// account (distributed) and then a teller and a branch (reference tables,
// a copy on every cluster) change in each. With few branches and tellers
// the same reference rows are written all the time. A write to a
// reference table takes its row lock on the first cluster before it
// touches the other copies, so writers queue there and every transaction
// finishes (sent everywhere at once, two writers lock different copies
// first and wait for each other forever). Afterwards every copy holds the
// same rows, and the balances add up to what the committed transactions
// changed. The clients use every protocol path: simple queries, one
// multi-statement query per transaction, the extended protocol, and pgx
// batches (a pipeline with BEGIN and COMMIT inside).
func TestReferenceWritesUnderContentionFinish(t *testing.T) {
	setup(t,
		`CREATE TABLE rw_accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)`,
		`CREATE TABLE rw_history (account_id bigint NOT NULL, teller int NOT NULL, branch int NOT NULL, delta int NOT NULL)`,
		`CREATE TABLE rw_branches (bid int PRIMARY KEY, balance bigint NOT NULL)`,
		`CREATE TABLE rw_tellers (tid int PRIMARY KEY, bid int NOT NULL, balance bigint NOT NULL)`,
		`INSERT INTO rw_branches (bid, balance) VALUES (1, 0), (2, 0)`,
		`INSERT INTO rw_tellers (tid, bid, balance) VALUES (1, 1, 0), (2, 1, 0), (3, 2, 0), (4, 2, 0)`,
		`INSERT INTO rw_accounts (id, balance) SELECT g, 0 FROM generate_series(1, 200) g`,
	)
	const clients, txns = 16, 25
	type mode int
	const (
		simple mode = iota
		oneQuery
		extended
		batch
	)
	var mu sync.Mutex
	committed := int64(0)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		m := mode(i % 4)
		c := connect(t, map[mode]pgx.QueryExecMode{simple: pgx.QueryExecModeSimpleProtocol, oneQuery: pgx.QueryExecModeSimpleProtocol, extended: pgx.QueryExecModeCacheStatement, batch: pgx.QueryExecModeCacheStatement}[m])
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			ctx := ctxT(t)
			for range txns {
				aid, tid := 1+r.Int64N(200), 1+r.IntN(4)
				bid := 1 + (tid-1)/2
				delta := r.IntN(1000) - 500
				if err := tpcb(ctx, c, m == oneQuery, m == batch, aid, tid, bid, delta); err != nil {
					errs <- fmt.Errorf("client %d (mode %d): %w", i, m, err)
					return
				}
				mu.Lock()
				committed += int64(delta)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var first []string
	for _, cl := range clusters() {
		rows := rowsOn(t, cl, `SELECT 'b', bid, balance FROM rw_branches UNION ALL SELECT 't', tid, balance FROM rw_tellers ORDER BY 1, 2`)
		if first == nil {
			first = rows
		} else if !slices.Equal(rows, first) {
			t.Errorf("reference copies differ:\n%s: %v\n%s: %v", clusters()[0], first, cl, rows)
		}
	}
	c := connect(t)
	var branches, tellers, accounts, history int64
	if err := c.QueryRow(ctxT(t), `SELECT (SELECT sum(balance) FROM rw_branches), (SELECT sum(balance) FROM rw_tellers), (SELECT sum(balance) FROM rw_accounts), (SELECT sum(delta) FROM rw_history)`).Scan(&branches, &tellers, &accounts, &history); err != nil {
		t.Fatal(err)
	}
	if branches != committed || tellers != committed || accounts != committed || history != committed {
		t.Errorf("sums: branches %d tellers %d accounts %d history %d, want all %d", branches, tellers, accounts, history, committed)
	}
}

// tpcb runs one transfer in one transaction: as separate statements, as
// one query string, or as one pipelined batch.
func tpcb(ctx context.Context, c *pgx.Conn, oneQuery, batch bool, aid int64, tid, bid, delta int) error {
	stmts := []struct {
		sql  string
		args []any
	}{
		{`UPDATE rw_accounts SET balance = balance + $1 WHERE id = $2`, []any{delta, aid}},
		{`UPDATE rw_tellers SET balance = balance + $1 WHERE tid = $2`, []any{delta, tid}},
		{`UPDATE rw_branches SET balance = balance + $1 WHERE bid = $2`, []any{delta, bid}},
		{`INSERT INTO rw_history (account_id, teller, branch, delta) VALUES ($1, $2, $3, $4)`, []any{aid, tid, bid, delta}},
	}
	switch {
	case oneQuery:
		text := "BEGIN;"
		for _, s := range stmts {
			text += fmt.Sprintf(" %s;", literal(s.sql, s.args))
		}
		_, err := c.Exec(ctx, text+" COMMIT")
		return err
	case batch:
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		for _, s := range stmts {
			b.Queue(s.sql, s.args...)
		}
		b.Queue("COMMIT")
		return c.SendBatch(ctx, b).Close()
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// literal writes integer arguments into a statement's $n placeholders.
func literal(sql string, args []any) string {
	for i := len(args); i >= 1; i-- {
		sql = strings.ReplaceAll(sql, fmt.Sprintf("$%d", i), fmt.Sprint(args[i-1]))
	}
	return sql
}
