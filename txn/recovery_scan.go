package txn

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// preparedQuery lists the prepared transactions a coordinator may have
// left, with their age by the server's clock (so that router clocks do not
// matter).
const preparedQuery = `SELECT gid, floor(extract(epoch FROM statement_timestamp() - prepared) * 1000)::bigint
FROM pg_prepared_xacts WHERE gid LIKE 'sqlr\_%' AND database = current_database()`

// primaryScan is one primary as a recovery pass sees it: a session to it
// and its prepared transactions, or the error that kept them unknown.
type primaryScan struct {
	cluster  string
	conn     *pgconn.PgConn
	prepared []preparedXact
	err      error
}

type preparedXact struct {
	gid string
	age time.Duration
}

// scanPrimaries connects to every primary and lists its prepared
// transactions, all at once; the result is in cluster order.
func (r *Recovery) scanPrimaries(ctx context.Context) []*primaryScan {
	var primaries map[string]string
	if r.opts.Primaries != nil {
		primaries = r.opts.Primaries()
	}
	scans := make([]*primaryScan, 0, len(primaries))
	for cluster := range primaries {
		scans = append(scans, &primaryScan{cluster: cluster})
	}
	slices.SortFunc(scans, func(a, b *primaryScan) int { return cmp.Compare(a.cluster, b.cluster) })
	var wg sync.WaitGroup
	for _, s := range scans {
		wg.Go(func() { s.err = s.scan(ctx, r.opts.Connect, primaries[s.cluster]) })
	}
	wg.Wait()
	return scans
}

func (s *primaryScan) scan(ctx context.Context, connect func(context.Context, string, string) (*pgconn.PgConn, error), url string) error {
	conn, err := connect(ctx, s.cluster, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	results, err := conn.Exec(ctx, preparedQuery).ReadAll()
	if err != nil {
		conn.Close(ctx)
		return fmt.Errorf("list prepared transactions: %w", err)
	}
	for _, row := range results[0].Rows {
		ms, err := strconv.ParseInt(string(row[1]), 10, 64)
		if err != nil {
			conn.Close(ctx)
			return fmt.Errorf("list prepared transactions: age %q: %w", row[1], err)
		}
		s.prepared = append(s.prepared, preparedXact{gid: string(row[0]), age: time.Duration(ms) * time.Millisecond})
	}
	s.conn = conn
	return nil
}

// isPrepared reports whether gid is still prepared.
func (s *primaryScan) isPrepared(ctx context.Context, gid string) (bool, error) {
	results, err := s.conn.Exec(ctx, "SELECT 1 FROM pg_prepared_xacts WHERE gid = "+quote(gid)+" AND database = current_database()").ReadAll()
	if err != nil {
		return false, fmt.Errorf("look up prepared transaction %s: %w", gid, err)
	}
	return len(results[0].Rows) > 0, nil
}

// exec runs one command on the primary.
func (s *primaryScan) exec(ctx context.Context, sql string) error {
	_, err := s.conn.Exec(ctx, sql).ReadAll()
	return err
}

// closeScans closes the sessions of a pass.
func closeScans(scans []*primaryScan) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range scans {
		if s.conn != nil {
			s.conn.Close(ctx)
		}
	}
}
