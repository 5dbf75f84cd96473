// Package refsync gives a cluster newly added to the shard map its copy of
// every reference table, then marks it active so that routers read
// reference tables from it.
//
// The procedure (docs/operations.md): create the schema on the new
// cluster, add it to the map with `state: syncing` (routers then send it
// every write and DDL of reference tables but read them elsewhere), wait
// until every router runs that map, then Sync. For each reference table,
// Sync locks the source copy (the default cluster's) against writes and
// the new copy against everything, replaces the new copy's rows with the
// source's (a writer that had reached one copy first holds its row locks
// there until it commits everywhere, so once both locks are held no write
// is half done), checks the row counts, and commits. Writes that come
// later reach both copies. Last, the map's cluster state is set to active
// with a compare-and-swap on the map's etcd revision.
package refsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Options say what to sync and how to reach it.
type Options struct {
	// Etcd holds the shard map under Key (shardmap.DefaultKey when "").
	Etcd *clientv3.Client
	Key  string
	// Cluster is the syncing cluster to fill.
	Cluster string
	// Connect opens a session on a cluster's primary (the router's
	// backend credentials).
	Connect func(ctx context.Context, cluster, url string) (*pgconn.PgConn, error)
	// LockTimeout bounds each wait for a table lock (default 5 s); a
	// table whose locks time out is tried again, up to Attempts times
	// (default 5), each after a pause of Pause (default 1 s).
	LockTimeout time.Duration
	Attempts    int
	Pause       time.Duration
	// Logger gets one line per table; nil discards.
	Logger *slog.Logger
}

// Report is what Sync did.
type Report struct {
	// Source is the cluster the rows were read from.
	Source string
	// Rows is the number of rows copied, by table.
	Rows map[string]int64
	// Revision is the shard map revision that marks the cluster active.
	Revision int64
}

// ErrNotSyncing means the cluster is not in state syncing: there is
// nothing to do (it is active already, or not in the map).
var ErrNotSyncing = errors.New("refsync: the cluster is not syncing")

func (o *Options) defaults() {
	if o.Key == "" {
		o.Key = shardmap.DefaultKey
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Pause <= 0 {
		o.Pause = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Sync copies every reference table to the syncing cluster and marks it
// active.
func Sync(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	doc, rev, err := shardmap.Get(ctx, opts.Etcd, opts.Key)
	if err != nil {
		return nil, err
	}
	m, err := shardmap.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("refsync: the stored shard map is invalid: %w", err)
	}
	target, ok := m.Clusters[opts.Cluster]
	if !ok || !target.Syncing {
		return nil, fmt.Errorf("%w: %q", ErrNotSyncing, opts.Cluster)
	}
	source := m.DefaultClusterName()
	rep := &Report{Source: source, Rows: map[string]int64{}}
	src, err := opts.Connect(ctx, source, m.Clusters[source].Primary)
	if err != nil {
		return nil, fmt.Errorf("refsync: connect to %s: %w", source, err)
	}
	defer src.Close(context.Background())
	dst, err := opts.Connect(ctx, opts.Cluster, target.Primary)
	if err != nil {
		return nil, fmt.Errorf("refsync: connect to %s: %w", opts.Cluster, err)
	}
	defer dst.Close(context.Background())
	var tables []*shardmap.Table
	for _, t := range m.Tables {
		if t.Reference {
			tables = append(tables, t)
		}
	}
	slices.SortFunc(tables, func(a, b *shardmap.Table) int { return strings.Compare(a.QualifiedName(), b.QualifiedName()) })
	for _, t := range tables {
		n, err := copyWithRetries(ctx, &opts, src, dst, t)
		if err != nil {
			return nil, fmt.Errorf("refsync: %s: %w", t.QualifiedName(), err)
		}
		rep.Rows[t.QualifiedName()] = n
		opts.Logger.Info("reference table copied", "table", t.QualifiedName(), "rows", n, "from", source, "to", opts.Cluster)
	}
	if rep.Revision, err = activate(ctx, &opts, doc, rev); err != nil {
		return nil, err
	}
	return rep, nil
}

// errLocked is a lock wait that timed out: the table is tried again.
var errLocked = errors.New("lock not available")

func copyWithRetries(ctx context.Context, opts *Options, src, dst *pgconn.PgConn, t *shardmap.Table) (int64, error) {
	for attempt := 1; ; attempt++ {
		n, err := copyTable(ctx, opts, src, dst, t)
		if !errors.Is(err, errLocked) || attempt >= opts.Attempts {
			return n, err
		}
		opts.Logger.Info("reference table busy, trying again", "table", t.QualifiedName(), "attempt", attempt)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(opts.Pause):
		}
	}
}

// copyTable replaces the target copy of one table with the source's, both
// locked, in one transaction on each side.
func copyTable(ctx context.Context, opts *Options, src, dst *pgconn.PgConn, t *shardmap.Table) (n int64, err error) {
	name := quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
	timeout := fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", opts.LockTimeout.Milliseconds())
	// The source's snapshot is taken by the first query after its lock:
	// it holds every write committed before.
	if err := exec(ctx, src, "BEGIN ISOLATION LEVEL REPEATABLE READ; "+timeout+"; LOCK TABLE "+name+" IN SHARE MODE"); err != nil {
		exec(ctx, src, "ROLLBACK")
		return 0, err
	}
	defer func() {
		end := "COMMIT"
		if err != nil {
			end = "ROLLBACK"
		}
		if e := exec(ctx, src, end); err == nil && e != nil {
			err = e
		}
	}()
	if err := exec(ctx, dst, "BEGIN; "+timeout+"; LOCK TABLE "+name+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		exec(ctx, dst, "ROLLBACK")
		return 0, err
	}
	committed := false
	defer func() {
		if !committed {
			exec(ctx, dst, "ROLLBACK")
		}
	}()
	cols, err := columns(ctx, src, name)
	if err != nil {
		return 0, err
	}
	list := name + " (" + strings.Join(cols, ", ") + ")"
	if err := exec(ctx, dst, "TRUNCATE "+name); err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		_, err := src.CopyTo(ctx, pw, "COPY "+list+" TO STDOUT")
		pw.CloseWithError(err)
		copied <- err
	}()
	tag, err := dst.CopyFrom(ctx, pr, "COPY "+list+" FROM STDIN")
	pr.CloseWithError(err)
	if cerr := <-copied; err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	want, err := count(ctx, src, name)
	if err != nil {
		return 0, err
	}
	if got := tag.RowsAffected(); got != want {
		return 0, fmt.Errorf("copied %d rows, the source holds %d", got, want)
	}
	if err := exec(ctx, dst, "COMMIT"); err != nil {
		return 0, err
	}
	committed = true
	return want, nil
}

// activate marks the cluster active in the map it was syncing in; should
// the map have changed since, it is read again and changed if the cluster
// is still syncing there.
func activate(ctx context.Context, opts *Options, doc []byte, rev int64) (int64, error) {
	for range 5 {
		next, err := setActive(doc, opts.Cluster)
		if err != nil {
			return 0, err
		}
		if _, err := shardmap.Parse(next); err != nil {
			return 0, fmt.Errorf("refsync: the map with %s active is invalid: %w", opts.Cluster, err)
		}
		resp, err := opts.Etcd.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(opts.Key), "=", rev)).
			Then(clientv3.OpPut(opts.Key, string(next))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("refsync: store the map: %w", err)
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
		if doc, rev, err = shardmap.Get(ctx, opts.Etcd, opts.Key); err != nil {
			return 0, err
		}
		m, err := shardmap.Parse(doc)
		if err != nil {
			return 0, fmt.Errorf("refsync: the stored shard map is invalid: %w", err)
		}
		if c, ok := m.Clusters[opts.Cluster]; !ok || !c.Syncing {
			return 0, fmt.Errorf("refsync: the shard map changed while copying and %s is no longer syncing there", opts.Cluster)
		}
	}
	return 0, errors.New("refsync: the shard map keeps changing; run again")
}

func exec(ctx context.Context, c *pgconn.PgConn, sql string) error {
	_, err := c.Exec(ctx, sql).ReadAll()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" {
		return fmt.Errorf("%w: %s", errLocked, pe.Message)
	}
	return err
}

// columns lists a table's columns in order (generated ones excepted, as
// COPY does), quoted.
func columns(ctx context.Context, c *pgconn.PgConn, name string) ([]string, error) {
	res := c.ExecParams(ctx, "SELECT quote_ident(attname) FROM pg_catalog.pg_attribute WHERE attrelid = $1::pg_catalog.regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
		[][]byte{[]byte(name)}, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	var out []string
	for _, row := range res.Rows {
		out = append(out, string(row[0]))
	}
	return out, nil
}

func count(ctx context.Context, c *pgconn.PgConn, name string) (int64, error) {
	res := c.ExecParams(ctx, "SELECT count(*) FROM "+name, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return 0, res.Err
	}
	var n int64
	_, err := fmt.Sscan(string(res.Rows[0][0]), &n)
	return n, err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
