package crashtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// gateValue is the items.v value whose transactions a gate holds.
const gateValue = 4242

// gate holds PREPARE TRANSACTION on one cluster, for transactions that set
// an item's v to gateValue, until the test opens it: PostgreSQL fires
// deferred constraint triggers at PREPARE, and the gate's trigger waits
// for an advisory lock the test holds. With it a test stops a router's
// two-phase commit at a known point: the other clusters prepared, no
// decision recorded.
type gate struct {
	t    testing.TB
	conn *pgx.Conn
}

// closeGate installs the gate on cluster's items table (created through
// the router, so the gate goes with the next DROP TABLE) and closes it.
func closeGate(t testing.TB, cluster string) *gate {
	t.Helper()
	ctx := testContext(t, 20*time.Second)
	conn := connectPrimary(t, cluster)
	execAll(ctx, t, conn,
		`CREATE OR REPLACE FUNCTION crash_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_lock_shared(4242);
	PERFORM pg_advisory_unlock_shared(4242);
	RETURN NULL;
END $$`,
		fmt.Sprintf(`CREATE CONSTRAINT TRIGGER crash_gate AFTER UPDATE ON items DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.v = %d) EXECUTE FUNCTION crash_gate()`, gateValue),
		"SELECT pg_advisory_lock(4242)")
	g := &gate{t: t, conn: conn}
	t.Cleanup(g.open)
	return g
}

// open lets the held PREPAREs go on.
func (g *gate) open() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
}

// gatedCommit starts, through c, a transaction that sets v = gateValue on
// every item of ids and commits it in the background; the returned
// channel gets COMMIT's error.
func gatedCommit(ctx context.Context, t *testing.T, c *pgx.Conn, ids ...int64) <-chan error {
	t.Helper()
	mustExec(ctx, t, c, "BEGIN")
	for _, id := range ids {
		mustExec(ctx, t, c, "UPDATE items SET v = $2 WHERE id = $1", id, gateValue)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "COMMIT")
		done <- err
	}()
	return done
}

// preparedOf waits until cluster holds a prepared transaction of router
// id and at least minAge old by the server's clock, and returns its GID.
func preparedOf(ctx context.Context, t *testing.T, cluster, routerID string, minAge time.Duration) string {
	t.Helper()
	conn := connectPrimary(t, cluster)
	deadline := time.Now().Add(minAge + 20*time.Second)
	for time.Now().Before(deadline) {
		var gid string
		err := conn.QueryRow(ctx, `SELECT gid FROM pg_prepared_xacts
WHERE gid LIKE 'sqlr\_' || $1 || '.%' AND now() - prepared >= $2::interval ORDER BY gid LIMIT 1`,
			routerID, fmt.Sprintf("%d microseconds", minAge.Microseconds())).Scan(&gid)
		if err == nil {
			return gid
		}
		if err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no prepared transaction of router %s on %s at least %s old", routerID, cluster, minAge)
	return ""
}

// gatedValues counts, on each primary, the items that hold gateValue.
func gatedValues(ctx context.Context, t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range dep.Clusters {
		out[c.Name] = queryInts(ctx, t, c.Primary.DSN("app"), fmt.Sprintf("SELECT count(*) FROM items WHERE v = %d", gateValue))[0]
	}
	return out
}

// isPrepared reports whether gid is prepared on cluster.
func isPrepared(ctx context.Context, t *testing.T, cluster, gid string) bool {
	t.Helper()
	n := queryInts(ctx, t, primaryDSN(cluster), "SELECT count(*) FROM pg_prepared_xacts WHERE gid = '"+strings.ReplaceAll(gid, "'", "''")+"'")
	return n[0] > 0
}
