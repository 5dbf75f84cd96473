package crashtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The bank: accounts distributed by id over s0 and s1, each starting with
// initialBalance, and clients moving money between accounts of different
// clusters, each transfer in one transaction:
//
//	BEGIN
//	UPDATE accounts SET balance = balance - $amount WHERE id = $from
//	UPDATE accounts SET balance = balance + $amount WHERE id = $to
//	INSERT INTO ledger (from_id, transfer_id, to_id, amount) VALUES (...)
//	COMMIT
//
// (the two UPDATEs in account order, so that transfers never wait for
// each other in a cycle across clusters). The ledger row, on the cluster
// of the account money leaves, names the transfer: after the crashes,
// every account's balance must equal its initial balance plus what the
// ledger says came in minus what went out, which holds only if every
// transfer is in full or not at all.
const initialBalance = 1000

// outcome is what a client learned about one transfer.
type outcome int

const (
	// notSent: the transfer failed before COMMIT was sent; it must be
	// absent.
	notSent outcome = iota
	// acked: COMMIT succeeded; it must be present.
	acked
	// refused: COMMIT failed with an error that says nothing was
	// committed; it must be absent.
	refused
	// unknown: the connection was lost during COMMIT, or the router said
	// the outcome is unknown (08007); present or absent, but whole.
	unknown
)

func (o outcome) String() string {
	return [...]string{"not sent", "acknowledged", "refused", "unknown"}[o]
}

// transfer is one attempted transfer and what became of it.
type transfer struct {
	id, from, to, amount int64
	outcome              outcome
	err                  error
}

// bank is the workload's state: the accounts' placement and every
// transfer attempted.
type bank struct {
	t         *testing.T
	clusterOf map[int64]string
	byCluster map[string][]int64
	nextID    atomic.Int64

	mu        sync.Mutex
	transfers map[int64]*transfer
	// ackCount counts acknowledged transfers, for progress checks.
	ackCount atomic.Int64
}

// createBank creates the accounts and ledger tables through the router
// and n accounts, and learns from the primaries where each account lives.
func createBank(t *testing.T, r *routerProc, n int) *bank {
	t.Helper()
	ctx := testContext(t, time.Minute)
	conn := connectRouter(t, r)
	execAll(ctx, t, conn,
		"DROP TABLE IF EXISTS accounts",
		"DROP TABLE IF EXISTS ledger",
		"CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)",
		"CREATE TABLE ledger (from_id bigint NOT NULL, transfer_id bigint NOT NULL, to_id bigint NOT NULL, amount bigint NOT NULL, PRIMARY KEY (from_id, transfer_id))")
	var values []string
	for id := 1; id <= n; id++ {
		values = append(values, fmt.Sprintf("(%d, %d)", id, initialBalance))
	}
	mustExec(ctx, t, conn, "INSERT INTO accounts (id, balance) VALUES "+strings.Join(values, ", "))
	b := &bank{t: t, clusterOf: map[int64]string{}, byCluster: map[string][]int64{}, transfers: map[int64]*transfer{}}
	for _, c := range dep.Clusters {
		for _, id := range queryInts(ctx, t, c.Primary.DSN("app"), "SELECT id FROM accounts ORDER BY id") {
			b.clusterOf[id] = c.Name
			b.byCluster[c.Name] = append(b.byCluster[c.Name], id)
		}
	}
	if len(b.clusterOf) != n || len(b.byCluster["s0"]) == 0 || len(b.byCluster["s1"]) == 0 {
		t.Fatalf("accounts not spread over both clusters: %d on s0, %d on s1, want %d in all", len(b.byCluster["s0"]), len(b.byCluster["s1"]), n)
	}
	return b
}

// runClients starts n clients doing transfers through the routers (client
// i uses routers[i%len(routers)]) until stop is closed; the returned
// function waits for them. Half the clients use the simple protocol, half
// the extended one with cached statements.
func (b *bank) runClients(n int, routers []*routerProc, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for i := range n {
		mode := pgx.QueryExecModeCacheStatement
		if i%2 == 1 {
			mode = pgx.QueryExecModeSimpleProtocol
		}
		r := routers[i%len(routers)]
		rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
		wg.Go(func() { b.client(r, mode, rng, stop) })
	}
	return wg.Wait
}

// client runs transfers until stop is closed, reconnecting whenever its
// connection breaks (the router died, or a cluster did).
func (b *bank) client(r *routerProc, mode pgx.QueryExecMode, rng *rand.Rand, stop <-chan struct{}) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if conn == nil || conn.IsClosed() {
			cfg, err := pgx.ParseConfig(r.DSN())
			if err != nil {
				b.t.Error(err)
				return
			}
			cfg.DefaultQueryExecMode = mode
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			conn, err = pgx.ConnectConfig(ctx, cfg)
			cancel()
			if err != nil {
				conn = nil
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		x := b.newTransfer(rng)
		x.outcome, x.err = b.run(conn, x)
		b.mu.Lock()
		b.transfers[x.id] = x
		b.mu.Unlock()
		if x.outcome == acked {
			b.ackCount.Add(1)
		}
		if x.err != nil && conn.PgConn().TxStatus() != 'I' {
			// A failed statement inside the block: end it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn.Exec(ctx, "ROLLBACK")
			cancel()
		}
		if x.err != nil {
			// Something is down: do not spin.
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// newTransfer picks two accounts on different clusters and an amount.
func (b *bank) newTransfer(rng *rand.Rand) *transfer {
	a, c := b.byCluster["s0"], b.byCluster["s1"]
	x := &transfer{id: b.nextID.Add(1), from: a[rng.IntN(len(a))], to: c[rng.IntN(len(c))], amount: 1 + rng.Int64N(100)}
	if rng.IntN(2) == 0 {
		x.from, x.to = x.to, x.from
	}
	return x
}

// run attempts one transfer and classifies what the client learned.
func (b *bank) run(conn *pgx.Conn, x *transfer) (outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, second := [2]int64{x.from, -x.amount}, [2]int64{x.to, x.amount}
	if x.to < x.from {
		first, second = second, first
	}
	steps := []struct {
		sql  string
		args []any
	}{
		{"BEGIN", nil},
		{"UPDATE accounts SET balance = balance + $2 WHERE id = $1", []any{first[0], first[1]}},
		{"UPDATE accounts SET balance = balance + $2 WHERE id = $1", []any{second[0], second[1]}},
		{"INSERT INTO ledger (from_id, transfer_id, to_id, amount) VALUES ($1, $2, $3, $4)", []any{x.from, x.id, x.to, x.amount}},
	}
	for _, s := range steps {
		tag, err := conn.Exec(ctx, s.sql, s.args...)
		if err != nil {
			return notSent, err
		}
		if s.args != nil && tag.RowsAffected() != 1 {
			return notSent, fmt.Errorf("%s affected %d rows, want 1", s.sql, tag.RowsAffected())
		}
	}
	tag, err := conn.Exec(ctx, "COMMIT")
	var pgErr *pgconn.PgError
	switch {
	case err == nil && tag.String() == "COMMIT":
		return acked, nil
	case err == nil:
		return refused, fmt.Errorf("COMMIT answered %q", tag)
	case errors.As(err, &pgErr) && pgErr.Code == "08007":
		return unknown, err
	case errors.As(err, &pgErr):
		return refused, err
	}
	return unknown, err
}

// waitAcks waits until n more transfers than before were acknowledged,
// failing the test after limit: the router serves again.
func (b *bank) waitAcks(n int64, limit time.Duration) {
	b.t.Helper()
	target := b.ackCount.Load() + n
	deadline := time.Now().Add(limit)
	for b.ackCount.Load() < target {
		if time.Now().After(deadline) {
			b.t.Fatalf("only %d of %d more transfers acknowledged in %s", b.ackCount.Load()-target+n, n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// chaos runs clients doing transfers through routers while disrupt
// strikes rounds times, each at a random instant after at least 50 more
// transfers were acknowledged (so that every blow lands on a working
// system), then waits for 50 more and stops the clients.
func (b *bank) chaos(clients int, routers []*routerProc, rounds int, disrupt func(round int, rng *rand.Rand)) {
	seed := time.Now().UnixNano()
	b.t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	stop := make(chan struct{})
	wait := b.runClients(clients, routers, stop)
	defer wait()
	defer close(stop)
	for round := range rounds {
		b.waitAcks(50, 30*time.Second)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		disrupt(round, rng)
	}
	b.waitAcks(50, 30*time.Second)
}

// ledgerRow is one row of the ledger as a primary holds it.
type ledgerRow struct {
	cluster                      string
	transferID, from, to, amount int64
}

// verify checks the bank's invariants on the primaries, once recovery had
// time to resolve what the crashes left in doubt, and returns how many
// transfers had each outcome.
func (b *bank) verify() map[outcome]int {
	t := b.t
	t.Helper()
	ctx := testContext(t, time.Minute)
	waitNoPrepared(ctx, t, 30*time.Second)
	waitNoCommitDecisions(ctx, t, 30*time.Second)

	balances := map[int64]int64{}
	var ledger []ledgerRow
	onPrimaries(ctx, t, func(cluster string, conn *pgx.Conn) {
		rows, _ := conn.Query(ctx, "SELECT id, balance FROM accounts")
		var id, bal int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &bal}, func() error {
			if _, dup := balances[id]; dup {
				t.Errorf("account %d on two clusters", id)
			}
			balances[id] = bal
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		rows, _ = conn.Query(ctx, "SELECT transfer_id, from_id, to_id, amount FROM ledger")
		l := ledgerRow{cluster: cluster}
		if _, err := pgx.ForEachRow(rows, []any{&l.transferID, &l.from, &l.to, &l.amount}, func() error {
			ledger = append(ledger, l)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})

	// Money is neither created nor destroyed.
	var total int64
	for _, bal := range balances {
		total += bal
	}
	if want := int64(len(b.clusterOf)) * initialBalance; total != want || len(balances) != len(b.clusterOf) {
		t.Errorf("%d accounts hold %d in all, want %d accounts holding %d", len(balances), total, len(b.clusterOf), want)
	}

	// Every ledger row is a transfer a client attempted, on the right
	// cluster, and fully applied: each balance is what its ledger rows
	// say.
	expected := map[int64]int64{}
	for id := range b.clusterOf {
		expected[id] = initialBalance
	}
	present := map[int64]bool{}
	for _, l := range ledger {
		x := b.transfers[l.transferID]
		switch {
		case present[l.transferID]:
			t.Errorf("transfer %d in the ledger twice", l.transferID)
		case x == nil:
			t.Errorf("ledger row %+v of a transfer nobody attempted", l)
		case x.from != l.from || x.to != l.to || x.amount != l.amount || l.cluster != b.clusterOf[x.from]:
			t.Errorf("ledger row %+v does not match transfer %+v", l, x)
		}
		present[l.transferID] = true
		expected[l.from] -= l.amount
		expected[l.to] += l.amount
	}
	mismatches := 0
	for id, want := range expected {
		if got := balances[id]; got != want {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("account %d (%s) holds %d, but its ledger rows say %d: a transfer was applied in part", id, b.clusterOf[id], got, want)
			}
		}
	}

	// Every acknowledged transfer is there; none the client was told
	// failed is.
	counts := map[outcome]int{}
	unknownCommitted := 0
	for _, x := range b.transfers {
		counts[x.outcome]++
		if x.outcome == unknown && present[x.id] {
			unknownCommitted++
		}
		switch {
		case x.outcome == acked && !present[x.id]:
			t.Errorf("acknowledged transfer %d (%d -> %d, %d) is missing", x.id, x.from, x.to, x.amount)
		case (x.outcome == notSent || x.outcome == refused) && present[x.id]:
			t.Errorf("transfer %d is present although the client was told %s: %v", x.id, x.outcome, x.err)
		}
	}
	t.Logf("transfers: %v (of the unknown, %d committed)", counts, unknownCommitted)
	if counts[acked] == 0 {
		t.Error("no transfer was acknowledged")
	}
	return counts
}

// waitNoPrepared polls every primary until none holds a prepared
// transaction, and fails the test with what is left after limit.
func waitNoPrepared(ctx context.Context, t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := preparedXacts(ctx, t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prepared transactions left %s after the crashes: %v", limit, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// preparedXacts lists the prepared transactions of every primary as
// cluster:gid.
func preparedXacts(ctx context.Context, t testing.TB) []string {
	t.Helper()
	var out []string
	onPrimaries(ctx, t, func(cluster string, conn *pgx.Conn) {
		rows, _ := conn.Query(ctx, "SELECT gid FROM pg_prepared_xacts ORDER BY gid")
		gids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gids {
			out = append(out, cluster+":"+g)
		}
	})
	return out
}
