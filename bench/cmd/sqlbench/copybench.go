package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// bulkRow is one way of loading rows.
type bulkRow struct {
	Name string `json:"name"`
	Rows int    `json:"rows"`
	// Status is ok, unsupported (0A000 from the router) or error.
	Status     string  `json:"status"`
	Error      string  `json:"error,omitempty"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
	// RouterCPU is the router's CPU time per 1,000 rows, in milliseconds
	// (0 when the router is not involved).
	RouterCPU float64 `json:"router_cpu_ms_per_1000_rows"`
}

const copyItemsDDL = `create table copy_items (id bigint primary key, grp int not null, val int not null, pad text not null)`

// runBulk loads the same rows into copy_items four ways: COPY through the
// router, COPY straight into the shards split by hand (the router's hash,
// computed here), COPY into one PostgreSQL, and INSERT ... VALUES batches
// through the router. Each starts from an empty table and ends with a
// count check.
func (h *harness) runBulk(ctx context.Context, s *stack, direct endpoint, doc string) {
	for _, e := range []endpoint{s.router, direct} {
		if err := execOn(ctx, e, "drop table if exists copy_items", copyItemsDDL); err != nil {
			h.res.unsupported("bulk: create copy_items", err.Error())
			return
		}
	}
	p, err := newPlacer(doc, "by_id")
	if err != nil {
		h.res.unsupported("bulk: shard map", err.Error())
		return
	}
	n := h.cfg.CopyRows
	// Where each row belongs: the check after each load wants every row
	// on the shard that owns it.
	perShard := func(rows int) []int {
		want := make([]int, len(s.primaries))
		for i := range rows {
			want[p.shardOf(int64(i+1))]++
		}
		return want
	}
	const copySQL = "copy copy_items (id, grp, val, pad) from stdin"
	pid := s.routerPID()

	measure := func(name string, rows int, viaRouter bool, countOn []endpoint, want []int, load func() error) {
		row := bulkRow{Name: name, Rows: rows}
		if err := execOn(ctx, s.router, "truncate copy_items"); err != nil {
			row.Status, row.Error = "error", "truncate: "+err.Error()
			h.res.Bulk = append(h.res.Bulk, row)
			return
		}
		if err := execOn(ctx, direct, "truncate copy_items"); err != nil {
			row.Status, row.Error = "error", "truncate: "+err.Error()
			h.res.Bulk = append(h.res.Bulk, row)
			return
		}
		cpu0, _ := processCPU(pid)
		began := time.Now()
		err := load()
		row.Seconds = time.Since(began).Seconds()
		cpu1, _ := processCPU(pid)
		if err == nil {
			var got []int
			if got, err = countRows(ctx, countOn); err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("rows per server after loading %d: %v, expected %v", rows, got, want)
			}
		}
		switch {
		case err == nil:
			row.Status = "ok"
			row.RowsPerSec = float64(rows) / row.Seconds
			if viaRouter {
				row.RouterCPU = float64((cpu1 - cpu0).Microseconds()) / 1000 / (float64(rows) / 1000)
			}
		case sqlState(err) == "0A000":
			row.Status, row.Error = "unsupported", err.Error()
			h.res.unsupported(name, err.Error())
		default:
			row.Status, row.Error = "error", err.Error()
			h.res.unsupported(name, err.Error())
		}
		h.logger.Info("bulk", "load", name, "status", row.Status, "seconds", fmt.Sprintf("%.2f", row.Seconds), "err", row.Error)
		h.res.Bulk = append(h.res.Bulk, row)
	}

	measure("COPY through the router", n, true, s.primaries, perShard(n), func() error {
		_, err := copyRows(ctx, []endpoint{s.router}, copySQL, rowSource{n: n, line: fanoutLine, route: func(int) int { return 0 }})
		return err
	})
	measure(fmt.Sprintf("COPY split by hand into %d shards (concurrent)", len(s.primaries)), n, false, s.primaries, perShard(n), func() error {
		_, err := copyRows(ctx, s.primaries, copySQL, rowSource{n: n, line: fanoutLine, route: func(i int) int { return p.shardOf(int64(i + 1)) }})
		return err
	})
	measure("COPY into one PostgreSQL", n, false, []endpoint{direct}, []int{n}, func() error {
		_, err := copyRows(ctx, []endpoint{direct}, copySQL, rowSource{n: n, line: fanoutLine, route: func(int) int { return 0 }})
		return err
	})
	ins := h.cfg.InsertRows
	measure("INSERT ... VALUES, 1,000 rows per statement, through the router", ins, true, s.primaries, perShard(ins), func() error {
		return insertBatches(ctx, s.router, ins, 1000)
	})
}

// insertBatches inserts rows 0..n-1 of the bulk data set with multi-row
// INSERT statements of batch rows each, one client, simple protocol.
func insertBatches(ctx context.Context, e endpoint, n, batch int) error {
	conn, err := pgx.Connect(ctx, e.url())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var b strings.Builder
	for start := 0; start < n; start += batch {
		b.Reset()
		b.WriteString("INSERT INTO copy_items (id, grp, val, pad) VALUES ")
		for i := start; i < min(start+batch, n); i++ {
			if i > start {
				b.WriteByte(',')
			}
			id := int64(i + 1)
			b.WriteString("(" + strconv.FormatInt(id, 10) + "," + strconv.FormatInt(id%1000, 10) + "," + strconv.FormatInt((id*7919)%1_000_003, 10) + ",'padding-padding-padding')")
		}
		if _, err := conn.Exec(ctx, b.String(), pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
	}
	return nil
}

// countRows counts copy_items on each server (the shards themselves, so
// that the check does not depend on the router).
func countRows(ctx context.Context, servers []endpoint) ([]int, error) {
	var counts []int
	for _, e := range servers {
		conn, err := pgx.Connect(ctx, e.url())
		if err != nil {
			return nil, err
		}
		var n int
		err = conn.QueryRow(ctx, "select count(*) from copy_items").Scan(&n)
		conn.Close(context.Background())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		counts = append(counts, n)
	}
	return counts, nil
}
