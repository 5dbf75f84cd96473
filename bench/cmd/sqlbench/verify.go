package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// refCheck is what the harness found on the shards after the TPC-B runs.
type refCheck struct {
	// Tables has one entry per reference table.
	Tables []refTable `json:"tables"`
	// Identical is true when every copy of every reference table matched.
	Identical bool `json:"identical"`
	// Sums are sum(abalance) over all shards, and sum(bbalance) and
	// sum(tbalance) of the first copy: every TPC-B transaction adds the
	// same delta to one row of each, all starting at 0, so they must be
	// equal unless a transaction was committed in part.
	SumAccounts   int64  `json:"sum_abalance"`
	SumBranches   int64  `json:"sum_bbalance"`
	SumTellers    int64  `json:"sum_tbalance"`
	Balanced      bool   `json:"balanced"`
	PreparedXacts int64  `json:"prepared_xacts"`
	Error         string `json:"error,omitempty"`
}

// refTable is one reference table's copies.
type refTable struct {
	Table  string    `json:"table"`
	Copies []refCopy `json:"copies"`
}

// refCopy is one cluster's copy, summarized.
type refCopy struct {
	Cluster string `json:"cluster"`
	Rows    int64  `json:"rows"`
	MD5     string `json:"md5"`
}

// checkReferences compares every copy of pgbench_branches and
// pgbench_tellers (md5 of all rows in key order) on the primaries, checks
// the TPC-B balance invariant and looks for prepared transactions left
// behind. (History is truncated by pgbench before each run, so its sum
// is not part of the invariant.)
func (h *harness) checkReferences(ctx context.Context, s *stack) *refCheck {
	rc := &refCheck{Identical: true}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tables := []struct{ name, key, balance string }{
		{"pgbench_branches", "bid", "bbalance"},
		{"pgbench_tellers", "tid", "tbalance"},
	}
	for _, t := range tables {
		rc.Tables = append(rc.Tables, refTable{Table: t.name})
	}
	for i, p := range s.primaries {
		conn, err := pgx.Connect(ctx, p.url())
		if err != nil {
			rc.Error = err.Error()
			return rc
		}
		for j, t := range tables {
			var c refCopy
			var sum int64
			q := fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY %s)), ''), coalesce(sum(%s), 0) FROM %s t`, t.key, t.balance, t.name)
			if err := conn.QueryRow(ctx, q).Scan(&c.Rows, &c.MD5, &sum); err != nil {
				rc.Error = fmt.Sprintf("%s on %s: %v", t.name, p.Name, err)
				conn.Close(context.Background())
				return rc
			}
			c.Cluster = p.Name
			rc.Tables[j].Copies = append(rc.Tables[j].Copies, c)
			if first := rc.Tables[j].Copies[0]; c.Rows != first.Rows || c.MD5 != first.MD5 {
				rc.Identical = false
			}
			if i == 0 && t.name == "pgbench_branches" {
				rc.SumBranches = sum
			}
			if i == 0 && t.name == "pgbench_tellers" {
				rc.SumTellers = sum
			}
		}
		var acc, prepared int64
		err = conn.QueryRow(ctx, `SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
  (SELECT count(*) FROM pg_prepared_xacts)`).Scan(&acc, &prepared)
		conn.Close(context.Background())
		if err != nil {
			rc.Error = fmt.Sprintf("sums on %s: %v", p.Name, err)
			return rc
		}
		rc.SumAccounts += acc
		rc.PreparedXacts += prepared
	}
	rc.Balanced = rc.SumAccounts == rc.SumBranches && rc.SumBranches == rc.SumTellers
	return rc
}
