package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// fanoutRow is one fan-out query, through the router and on one
// PostgreSQL holding every row.
type fanoutRow struct {
	Name  string `json:"name"`
	SQL   string `json:"sql"`
	Plan  string `json:"router_plan"`
	Error string `json:"error,omitempty"`
	// Status is ok, unsupported (0A000 from the router) or error.
	Status    string  `json:"status"`
	DirectMs  float64 `json:"direct_ms_median"`
	RouterMs  float64 `json:"router_ms_median"`
	RouterCPU float64 `json:"router_cpu_ms_per_query"`
	// PeakRSSGrowth is how far the router's peak resident memory rose
	// above its resident memory before the runs, in KiB (-1 unknown).
	PeakRSSGrowth int64 `json:"router_peak_rss_growth_kib"`
	SameAnswer    bool  `json:"same_answer"`
	Rows          int   `json:"rows"`
}

// fanoutDDL is the fan-out table (created through the router, and in the
// direct database).
const fanoutDDL = `create table fanout_items (id bigint primary key, grp int not null, val int not null, pad text not null)`

// fanoutQueries are the fan-out shapes the issue names.
var fanoutQueries = []struct{ name, sql string }{
	{"count(*)", "SELECT count(*) FROM fanout_items"},
	{"ORDER BY ... LIMIT 100", "SELECT id, val FROM fanout_items ORDER BY val DESC, id LIMIT 100"},
	{"GROUP BY, 1,000 groups", "SELECT grp, count(*), sum(val) FROM fanout_items GROUP BY grp ORDER BY grp"},
}

// fanoutLine is row i of the fan-out table: ids 1..n, 1,000 groups.
func fanoutLine(buf []byte, i int) []byte {
	id := int64(i + 1)
	buf = strconv.AppendInt(buf, id, 10)
	buf = append(buf, '\t')
	buf = strconv.AppendInt(buf, id%1000, 10)
	buf = append(buf, '\t')
	buf = strconv.AppendInt(buf, (id*7919)%1_000_003, 10)
	return append(buf, "\tpadding-padding-padding\n"...)
}

// loadFanout creates fanout_items through the router and in the direct
// database, and copies the same rows into both (split by the router's hash
// for the shards).
func (h *harness) loadFanout(ctx context.Context, s *stack, direct endpoint, doc string) error {
	began := time.Now()
	for _, e := range []endpoint{s.router, direct} {
		if err := execOn(ctx, e, "drop table if exists fanout_items", fanoutDDL); err != nil {
			return err
		}
	}
	p, err := newPlacer(doc, "by_id")
	if err != nil {
		return err
	}
	n := h.cfg.FanoutRows
	const copySQL = "copy fanout_items (id, grp, val, pad) from stdin"
	if _, err := copyRows(ctx, s.primaries, copySQL, rowSource{n: n, line: fanoutLine, route: func(i int) int { return p.shardOf(int64(i + 1)) }}); err != nil {
		return err
	}
	if _, err := copyRows(ctx, []endpoint{direct}, copySQL, rowSource{n: n, line: fanoutLine, route: func(int) int { return 0 }}); err != nil {
		return err
	}
	for _, e := range []endpoint{s.router, direct} {
		if err := execOn(ctx, e, "vacuum analyze fanout_items"); err != nil {
			return err
		}
	}
	h.res.note("Fan-out: %d rows of fanout_items over %d clusters (hash of id), the same rows in one table of database bench_direct on s0's primary; loaded in %.1fs",
		n, len(s.primaries), time.Since(began).Seconds())
	return nil
}

// execOn runs statements on one server (simple protocol).
func execOn(ctx context.Context, e endpoint, sqls ...string) error {
	conn, err := pgx.Connect(ctx, e.url())
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	defer conn.Close(context.Background())
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("%s: %s: %w", e.Name, sql, err)
		}
	}
	return nil
}

// runFanout times each fan-out query on the direct database and through
// the router, and compares their answers.
func (h *harness) runFanout(ctx context.Context, s *stack, direct endpoint, doc string) {
	m, err := shardmap.Parse([]byte(doc))
	var pl *planner.Planner
	if err == nil {
		pl = planner.New(planner.Options{})
	}
	rconn, err := pgx.Connect(ctx, s.router.url())
	if err != nil {
		h.res.unsupported("fan-out: connect to the router", err.Error())
		return
	}
	defer rconn.Close(context.Background())
	dconn, err := pgx.Connect(ctx, direct.url())
	if err != nil {
		h.res.unsupported("fan-out: connect to the direct database", err.Error())
		return
	}
	defer dconn.Close(context.Background())
	for _, q := range fanoutQueries {
		row := fanoutRow{Name: q.name, SQL: q.sql, PeakRSSGrowth: -1}
		if pl != nil {
			if stmts, err := pl.PlanQuery(planner.Context{Map: m, Revision: 1}, q.sql); err != nil {
				row.Plan = "error: " + err.Error()
			} else if len(stmts) == 1 {
				row.Plan = planner.Explain(stmts[0].Plan)
			}
		}
		want, directTimes, err := timeQuery(ctx, dconn, q.sql, h.cfg.FanoutRuns)
		if err != nil {
			row.Status, row.Error = "error", "direct: "+err.Error()
			h.res.Fanout = append(h.res.Fanout, row)
			continue
		}
		row.DirectMs = median(directTimes)
		pid := s.routerPID()
		rss0, _, _ := memStatus(pid)
		hwmReset := resetPeakRSS(pid)
		cpu0, _ := processCPU(pid)
		got, routerTimes, err := timeQuery(ctx, rconn, q.sql, h.cfg.FanoutRuns)
		cpu1, _ := processCPU(pid)
		_, hwm, _ := memStatus(pid)
		if err != nil {
			row.Status, row.Error = "error", err.Error()
			if sqlState(err) == "0A000" {
				row.Status = "unsupported"
			}
			h.res.unsupported("fan-out "+q.name+" through the router", err.Error())
			h.res.Fanout = append(h.res.Fanout, row)
			continue
		}
		row.Status = "ok"
		row.RouterMs = median(routerTimes)
		row.RouterCPU = float64((cpu1 - cpu0).Microseconds()) / 1000 / float64(len(routerTimes))
		if hwmReset {
			row.PeakRSSGrowth = hwm - rss0
		}
		row.Rows = len(want)
		row.SameAnswer = slices.Equal(want, got)
		if !row.SameAnswer {
			h.res.unsupported("fan-out "+q.name+" through the router", fmt.Sprintf("WRONG ANSWER: %d rows, direct %d rows; first router row %q, direct %q", len(got), len(want), first(got), first(want)))
		}
		h.res.Fanout = append(h.res.Fanout, row)
		h.logger.Info("fan-out", "query", q.name, "direct_ms", fmt.Sprintf("%.1f", row.DirectMs), "router_ms", fmt.Sprintf("%.1f", row.RouterMs), "same", row.SameAnswer)
	}
}

func first(rows []string) string {
	if len(rows) == 0 {
		return ""
	}
	return rows[0]
}

// timeQuery runs sql once to warm up, then runs times more, timing each,
// and returns the rows (as text) of the last run.
func timeQuery(ctx context.Context, conn *pgx.Conn, sql string, runs int) ([]string, []float64, error) {
	var rows []string
	var times []float64
	for i := 0; i <= runs; i++ {
		began := time.Now()
		r, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, nil, err
		}
		rows = rows[:0]
		for r.Next() {
			vals, err := r.Values()
			if err != nil {
				r.Close()
				return nil, nil, err
			}
			rows = append(rows, fmt.Sprintf("%v", vals))
		}
		r.Close()
		if err := r.Err(); err != nil {
			return nil, nil, err
		}
		if i > 0 {
			times = append(times, float64(time.Since(began).Microseconds())/1000)
		}
	}
	return rows, times, nil
}
