package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/replication"
)

// walPosition is a primary's current WAL insert position.
func walPosition(ctx context.Context, t *testing.T, cluster string) replication.LSN {
	t.Helper()
	var s string
	if err := connectPrimary(t, cluster).QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	lsn, err := replication.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// rywToken is the session's read-your-writes token as the router last
// reported it.
func rywToken(t *testing.T, c *pgx.Conn) replication.Token {
	t.Helper()
	tok, err := replication.DecodeToken(c.PgConn().ParameterStatus("sqlrouter.ryw_token"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The position that the read-your-writes token gets from a COMMIT (sent
// with it, in the same round trip) is past the transaction's writes, on
// each cluster the transaction wrote on, whether it committed plainly or
// by two-phase commit; a cluster it did not write on keeps its position.
func TestCommitAdvancesTheReadYourWritesToken(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "ryw"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	c := connectRouter(t, r)
	a, b := it.on["s0"][0], it.on["s1"][0]
	for _, tc := range []struct {
		name  string
		wrote []string
		ids   []int64
	}{
		{"one cluster", []string{"s0"}, []int64{a}},
		{"two clusters", []string{"s0", "s1"}, []int64{a, b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]replication.LSN{"s0": walPosition(ctx, t, "s0"), "s1": walPosition(ctx, t, "s1")}
			old := rywToken(t, c)
			mustExec(ctx, t, c, "BEGIN")
			for _, id := range tc.ids {
				mustExec(ctx, t, c, "UPDATE items SET v = v + 1 WHERE id = $1", id)
			}
			mustExec(ctx, t, c, "COMMIT")
			tok := rywToken(t, c)
			for _, cl := range []string{"s0", "s1"} {
				wrote := cl == tc.wrote[0] || len(tc.wrote) == 2
				switch got := tok.Position(cl); {
				case wrote && got <= before[cl]:
					t.Errorf("%s: token position %s, not past %s (before the transaction)", cl, got, before[cl])
				case !wrote && got != old.Position(cl):
					t.Errorf("%s: token position moved from %s to %s without a write there", cl, old.Position(cl), got)
				}
			}
		})
	}
}
