package executor

import (
	"context"
	"strings"

	"github.com/sqlrouter/sqlrouter/replication"
)

// positionedCommit is a participant that wrote, on a cluster with
// replicas, as the transaction coordinator sees it: its COMMIT (or COMMIT
// PREPARED) goes out together with the query of the primary's WAL
// position, so that the session's read-your-writes token costs no round
// trip after the commit.
type positionedCommit struct {
	*conn
	// lsn is the primary's position after the commit, 0 when unknown.
	lsn replication.LSN
}

// Exec runs sql (txn.Participant); a commit is followed, in the same
// flush, by the position query.
func (p *positionedCommit) Exec(ctx context.Context, sql string) error {
	if sql != "COMMIT" && !strings.HasPrefix(sql, "COMMIT PREPARED ") {
		return p.conn.Exec(ctx, sql)
	}
	p.SendQuery(sql)
	p.SendQuery(positionQuery)
	p.unnamed = ""
	if err := p.Flush(ctx); err != nil {
		return err
	}
	if _, err := p.awaitReady(ctx); err != nil {
		// The position query still runs, in a transaction of its own:
		// read its answer so that the session stays in step.
		p.awaitReady(ctx)
		return err
	}
	rows, err := p.awaitReady(ctx)
	if err == nil && len(rows) == 1 {
		p.lsn, _ = replication.ParseLSN(rows[0][0])
	}
	return nil
}
