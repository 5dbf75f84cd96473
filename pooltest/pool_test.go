package pooltest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Many more clients than connections: idle clients hold none, all of
// them run statements (prepared, simple, in transactions) through the few
// the router keeps, and those are reused rather than reopened.
func TestManyClientsShareFewConnections(t *testing.T) {
	const clients = 40
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = connect(t)
	}
	before := poolOf(t, "s0")
	if n := routerBackends(t, "s0"); n > connsPerNode {
		t.Errorf("%d idle clients hold %d sessions on s0, cap %d", clients, n, connsPerNode)
	}
	id := keyOn(t, "s0")
	if _, err := conns[0].Exec(ctxT(t), "INSERT INTO customers (id, name) VALUES ($1, 'shared')", id); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range conns {
		wg.Go(func() {
			ctx := ctxT(t)
			for j := range 10 {
				var name string
				var err error
				switch (i + j) % 3 {
				case 0: // prepared (pgx caches the statement)
					err = c.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", id).Scan(&name)
				case 1:
					err = c.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", pgx.QueryExecModeSimpleProtocol, id).Scan(&name)
				default:
					err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
						return tx.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", id).Scan(&name)
					})
				}
				if err == nil && name != "shared" {
					err = fmt.Errorf("client %d read %q", i, name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after := poolOf(t, "s0")
	t.Logf("before %+v after %+v", before, after)
	if after.Open > connsPerNode {
		t.Errorf("%d connections open to s0, cap %d", after.Open, connsPerNode)
	}
	if leases, dialed := after.Acquired-before.Acquired, after.Dialed-before.Dialed; dialed > connsPerNode || leases < clients*10 {
		t.Errorf("%d leases dialed %d new connections: they are not reused", leases, dialed)
	}
	if n := routerBackends(t, "s0"); n > connsPerNode {
		t.Errorf("after the load %d sessions on s0, cap %d", n, connsPerNode)
	}
}

// What a client sets stays its own: other clients sharing the
// connections see the defaults; startup parameters are the client's
// defaults, and RESET returns to them, as in PostgreSQL.
func TestSettingsDoNotLeak(t *testing.T) {
	a := connect(t)
	b := connect(t)
	s := connect(t, "options", "-c DateStyle=SQL,DMY", "application_name", "pooltest-s")
	for range 3 { // several rounds: the connections change hands
		if _, err := a.Exec(ctxT(t), "SET DateStyle = 'German'"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Exec(ctxT(t), "SET application_name = 'pooltest-a'"); err != nil {
			t.Fatal(err)
		}
		if got := showSetting(t, b, "DateStyle"); got != "ISO, MDY" {
			t.Errorf("client b sees DateStyle %q: a's SET leaked", got)
		}
		if got := showSetting(t, b, "application_name"); got != "" {
			t.Errorf("client b sees application_name %q", got)
		}
		if got := showSetting(t, a, "DateStyle"); got != "German, DMY" {
			t.Errorf("client a lost its DateStyle: %q", got)
		}
		if got := showSetting(t, s, "DateStyle"); got != "SQL, DMY" {
			t.Errorf("client s (startup DateStyle) sees %q", got)
		}
		if got := showSetting(t, s, "application_name"); got != "pooltest-s" {
			t.Errorf("client s sees application_name %q", got)
		}
	}
	if _, err := s.Exec(ctxT(t), "SET DateStyle = 'Postgres'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctxT(t), "RESET DateStyle"); err != nil {
		t.Fatal(err)
	}
	if got := showSetting(t, s, "DateStyle"); got != "SQL, DMY" {
		t.Errorf("after RESET, client s has DateStyle %q, want its startup value", got)
	}
	if _, err := a.Exec(ctxT(t), "RESET ALL"); err != nil {
		t.Fatal(err)
	}
	if got := showSetting(t, a, "DateStyle"); got != "ISO, MDY" {
		t.Errorf("after RESET ALL, client a has DateStyle %q", got)
	}
	// The startup ParameterStatus reports the client's own values.
	if got := s.PgConn().ParameterStatus("DateStyle"); got != "SQL, DMY" {
		t.Errorf("ParameterStatus DateStyle at startup = %q", got)
	}
}

// State that lives in one server session pins the client to its
// connection; once the client leaves, the connection is reset before
// anyone else gets it.
func TestSessionStatePins(t *testing.T) {
	ctx := ctxT(t)
	a := connect(t)
	if _, err := a.Exec(ctx, "CREATE TEMP TABLE scratch (x int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "INSERT INTO scratch VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "SELECT pg_advisory_lock(4242)"); err != nil {
		t.Fatal(err)
	}
	churn(t)
	var n int
	if err := a.QueryRow(ctx, "SELECT count(*) FROM scratch").Scan(&n); err != nil || n != 2 {
		t.Errorf("temporary table after other clients ran: %d %v", n, err)
	}
	probe := primary(t, "s0")
	locks := func() int {
		var n int
		probe.QueryRow(ctxT(t), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242").Scan(&n)
		return n
	}
	if locks() != 1 {
		t.Fatalf("advisory lock not held: %d", locks())
	}
	b := connect(t)
	var got bool
	if err := b.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(4242)").Scan(&got); err != nil || got {
		t.Errorf("another client took the advisory lock a holds: %v %v", got, err)
	}
	a.Close(ctx)
	eventually(t, "the lock of a client that left is released", func() bool { return locks() == 0 })
	churn(t)
	c := connect(t)
	if err := c.QueryRow(ctx, "SELECT to_regclass('scratch') IS NULL").Scan(&got); err != nil || !got {
		t.Errorf("a later client sees the temporary table of one that left: %v %v", got, err)
	}
}

// LISTEN keeps the client on its connection: notifications reach it.
func TestListenPins(t *testing.T) {
	ctx := ctxT(t)
	var mu sync.Mutex
	var got []string
	cfg, _ := pgx.ParseConfig(stack.RouterDSN())
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		mu.Lock()
		got = append(got, n.Channel+":"+n.Payload)
		mu.Unlock()
	}
	l, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if _, err := l.Exec(ctx, "LISTEN pooltest"); err != nil {
		t.Fatal(err)
	}
	churn(t)
	if _, err := connect(t).Exec(ctx, "NOTIFY pooltest, 'hello'"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the notification reaches the listener", func() bool {
		l.Exec(ctx, "SELECT 1")
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && got[0] == "pooltest:hello"
	})
}

// SET ROLE pins too, and never reaches the next client.
func TestRoleDoesNotLeak(t *testing.T) {
	ctx := ctxT(t)
	for _, cl := range []string{"s0", "s1"} {
		p := primary(t, cl)
		p.Exec(ctx, "CREATE ROLE pooltest_role")
		if _, err := p.Exec(ctx, "GRANT pooltest_role TO CURRENT_USER"); err != nil {
			t.Fatal(err)
		}
	}
	a := connect(t)
	var me string
	if err := a.QueryRow(ctx, "SELECT current_user").Scan(&me); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "SET ROLE pooltest_role"); err != nil {
		t.Fatal(err)
	}
	churn(t)
	var who string
	a.QueryRow(ctx, "SELECT current_user").Scan(&who)
	if who != "pooltest_role" {
		t.Errorf("client a lost its role: %q", who)
	}
	a.Close(ctx)
	for range 2 * connsPerNode {
		b := connect(t)
		if err := b.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != me {
			t.Fatalf("a later client runs as %q (%v), want %q", who, err, me)
		}
		b.Close(ctx)
	}
}

// churn runs statements from more clients than there are connections.
func churn(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	for range 2 * connsPerNode {
		c := connect(t)
		wg.Go(func() {
			for range 5 {
				if _, err := c.Exec(ctxT(t), "SELECT count(*) FROM customers"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// When every connection of a server is held by open transactions, a
// statement waits pool.acquire_timeout, then fails with 53300; once one
// transaction ends the next statement runs.
func TestAcquireTimeout(t *testing.T) {
	ctx := ctxT(t)
	id := keyOn(t, "s1")
	var txs []pgx.Tx
	for range connsPerNode {
		tx, err := connect(t).Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	c := connect(t)
	start := time.Now()
	_, err := c.Exec(ctx, "SELECT count(*) FROM customers WHERE id = $1", id)
	if sqlstate(err) != "53300" {
		t.Fatalf("with every connection held: %v, want 53300", err)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("failed after %v: it should wait for a connection first", waited)
	}
	txs[0].Rollback(ctx)
	if _, err := c.Exec(ctx, "SELECT count(*) FROM customers WHERE id = $1", id); err != nil {
		t.Errorf("after a transaction ended: %v", err)
	}
	for _, tx := range txs[1:] {
		tx.Rollback(ctx)
	}
}

// A pooled connection the server closed is noticed when it is lent: the
// client's statement runs on another one.
func TestDeadPooledConnectionsAreReplaced(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	for range 3 {
		if _, err := c.Exec(ctx, "SELECT count(*) FROM customers"); err != nil {
			t.Fatal(err)
		}
	}
	probe := primary(t, "s0")
	var killed []int32
	if err := probe.QueryRow(ctx, "SELECT coalesce(array_agg(pid), '{}') FROM (SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = 'app' AND state = 'idle') k").Scan(&killed); err != nil {
		t.Fatal(err)
	}
	// Wait for the servers to be gone (their sockets closed), not a
	// fixed time.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var left int
		if err := probe.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", killed).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d terminated backends still there after 10 s", left)
		}
	}
	for i := range 2 * connsPerNode {
		if _, err := c.Exec(ctx, "SELECT count(*) FROM customers"); err != nil {
			t.Fatalf("statement %d after the server closed idle connections: %v", i, err)
		}
	}
	if poolOf(t, "s0").ClosedDead == 0 {
		t.Error("no dead connection was noticed")
	}
}

// The sequence values a client's session holds (currval, lastval) never
// answer another client: a connection that ran a write is given back
// without them. The client itself gets PostgreSQL's clear error when its
// next transaction lands elsewhere, never another client's value.
func TestSequenceStateDoesNotLeak(t *testing.T) {
	ctx := ctxT(t)
	a := connect(t)
	if _, err := a.Exec(ctx, "CREATE SEQUENCE pooltest_seq"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connect(t).Exec(context.Background(), "DROP SEQUENCE pooltest_seq") })
	for range 3 {
		var v int64
		if err := a.QueryRow(ctx, "SELECT nextval('pooltest_seq')").Scan(&v); err != nil {
			t.Fatal(err)
		}
		for range 2 * connsPerNode {
			b := connect(t)
			var got int64
			err := b.QueryRow(ctx, "SELECT currval('pooltest_seq')").Scan(&got)
			if sqlstate(err) != "55000" {
				t.Fatalf("another client's currval: %d %v, want 55000 (not yet defined in this session)", got, err)
			}
			b.Close(ctx)
		}
	}
	// Within one transaction, currval works as in PostgreSQL.
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n, cur int64
	tx.QueryRow(ctx, "SELECT nextval('pooltest_seq')").Scan(&n)
	if err := tx.QueryRow(ctx, "SELECT currval('pooltest_seq')").Scan(&cur); err != nil || cur != n {
		t.Errorf("currval in the nextval's transaction: %d %v, want %d", cur, err, n)
	}
	tx.Commit(ctx)
}
