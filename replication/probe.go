package replication

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// prober runs the checks of one node. Only the node's worker uses it.
type prober interface {
	// probe runs one check.
	probe(ctx context.Context) (observation, error)
	// close releases the prober's connection.
	close()
}

// The check queries, one round trip each.
const (
	primaryCheckSQL = "SELECT pg_current_wal_lsn()"
	replicaCheckSQL = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(), " +
		"(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000000)::bigint"
)

// pgProber checks a node over one long-lived pgconn connection, opened on
// first use and again after any failure.
type pgProber struct {
	connect func(ctx context.Context, url string) (*pgconn.PgConn, error)
	node    Node
	conn    *pgconn.PgConn
}

func (p *pgProber) probe(ctx context.Context) (observation, error) {
	sql := replicaCheckSQL
	if p.node.Primary {
		sql = primaryCheckSQL
	}
	reused := p.conn != nil
	if !reused {
		if err := p.open(ctx); err != nil {
			return observation{}, err
		}
	}
	obs, err := p.query(ctx, sql)
	if err == nil || !p.broken(err) {
		return obs, err
	}
	p.close()
	if !reused || ctx.Err() != nil {
		return obs, err
	}
	// The connection may have died while idle (a server restart, an idle
	// timeout): that says nothing about the node now, so try a new one.
	if err := p.open(ctx); err != nil {
		return observation{}, err
	}
	obs, err = p.query(ctx, sql)
	if err != nil && p.broken(err) {
		p.close()
	}
	return obs, err
}

// open connects to the node.
func (p *pgProber) open(ctx context.Context) error {
	conn, err := p.connect(ctx, p.node.URL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	p.conn = conn
	return nil
}

// broken reports whether err leaves the connection unusable: anything
// but an error the server reported on a connection still open.
func (p *pgProber) broken(err error) bool {
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr) || p.conn.IsClosed()
}

// query runs the check and reads its one row.
func (p *pgProber) query(ctx context.Context, sql string) (observation, error) {
	results, err := p.conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return observation{}, err
	}
	if len(results) != 1 || len(results[0].Rows) != 1 {
		return observation{}, fmt.Errorf("check query: unexpected answer (%d results)", len(results))
	}
	row := results[0].Rows[0]
	if p.node.Primary {
		if len(row) != 1 || row[0] == nil {
			return observation{}, fmt.Errorf("check query: unexpected row")
		}
		lsn, err := ParseLSN(string(row[0]))
		return observation{lsn: lsn}, err
	}
	if len(row) != 4 {
		return observation{}, fmt.Errorf("check query: unexpected row")
	}
	obs := observation{inRecovery: string(row[0]) == "t", replayAge: -1}
	if obs.lsn, err = optionalLSN(row[1]); err != nil {
		return observation{}, err
	}
	if obs.receiveLSN, err = optionalLSN(row[2]); err != nil {
		return observation{}, err
	}
	if row[3] != nil {
		us, err := strconv.ParseInt(string(row[3]), 10, 64)
		if err != nil {
			return observation{}, fmt.Errorf("check query: replay age: %w", err)
		}
		obs.replayAge = max(time.Duration(us)*time.Microsecond, 0)
	}
	return obs, nil
}

// optionalLSN parses an LSN column, NULL being 0.
func optionalLSN(v []byte) (LSN, error) {
	if v == nil {
		return 0, nil
	}
	return ParseLSN(string(v))
}

func (p *pgProber) close() {
	if p.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.conn.Close(ctx)
	p.conn = nil
}
