package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// summaryRow is the median over the repetitions of one mode and target.
type summaryRow struct {
	Mode   string `json:"mode"`
	Target string `json:"target"`
	OKRuns int    `json:"ok_runs"`
	Runs   int    `json:"runs"`
	// Status is ok when every run succeeded, else the first problem.
	Status    string  `json:"status"`
	Error     string  `json:"error,omitempty"`
	TPS       float64 `json:"tps_median"`
	TPSMin    float64 `json:"tps_min"`
	TPSMax    float64 `json:"tps_max"`
	P50Ms     float64 `json:"latency_p50_ms_median"`
	P99Ms     float64 `json:"latency_p99_ms_median"`
	ProxyCPU  float64 `json:"proxy_cpu_us_per_txn_median"`
	ServerCPU float64 `json:"server_cpu_us_per_txn_median"`
}

// runSuite runs every mode against every target, targets alternating
// within each repetition (A B C A B C ...), so that drift in the machine
// spreads over all of them. A target that fails in one repetition is not
// retried in the later ones.
func (h *harness) runSuite(ctx context.Context, s *stack, targets []target) {
	for _, m := range modes {
		failed := map[string]string{}
		for rep := 1; rep <= h.cfg.Reps; rep++ {
			for _, t := range targets {
				if ctx.Err() != nil {
					return
				}
				var r runResult
				if why, ok := failed[t.Name]; ok {
					r = runResult{Mode: m.Name, Target: t.Name, Rep: rep, Status: "skipped", Error: "failed in an earlier repetition: " + why}
				} else {
					h.logger.Info("pgbench", "mode", m.Name, "target", t.Name, "rep", rep)
					r = h.runPgbench(ctx, m, t, rep)
					h.logger.Info("pgbench done", "mode", m.Name, "target", t.Name, "rep", rep, "status", r.Status, "tps", fmt.Sprintf("%.0f", r.TPS), "err", r.Error)
				}
				if r.Status != "ok" && r.Status != "skipped" {
					failed[t.Name] = r.Status
				}
				h.res.mu.Lock()
				h.res.Runs = append(h.res.Runs, r)
				h.res.mu.Unlock()
			}
		}
		if m.Name == "tpcb" {
			h.res.RefCheck = h.checkReferences(ctx, s)
		}
	}
}

// summarize computes the medians of every mode and target.
func summarize(runs []runResult) []summaryRow {
	var out []summaryRow
	index := map[[2]string]int{}
	for _, r := range runs {
		k := [2]string{r.Mode, r.Target}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, summaryRow{Mode: r.Mode, Target: r.Target, Status: "ok"})
		}
		row := &out[i]
		row.Runs++
		if r.Status == "ok" {
			row.OKRuns++
		} else if row.Status == "ok" && r.Status != "skipped" {
			row.Status, row.Error = r.Status, r.Error
		}
	}
	for i := range out {
		row := &out[i]
		var tps, p50, p99, proxy, server []float64
		for _, r := range runs {
			if r.Mode != row.Mode || r.Target != row.Target || r.Status != "ok" {
				continue
			}
			tps = append(tps, r.TPS)
			p50 = append(p50, r.P50Ms)
			p99 = append(p99, r.P99Ms)
			proxy = append(proxy, r.ProxyCPUus)
			server = append(server, r.ServerCPUus)
		}
		if len(tps) == 0 {
			continue
		}
		row.TPS, row.P50Ms, row.P99Ms = median(tps), median(p50), median(p99)
		row.ProxyCPU, row.ServerCPU = median(proxy), median(server)
		row.TPSMin, row.TPSMax = tps[0], tps[0]
		for _, v := range tps {
			row.TPSMin, row.TPSMax = min(row.TPSMin, v), max(row.TPSMax, v)
		}
	}
	return out
}

// lookupSummary finds the row of a mode and target.
func lookupSummary(rows []summaryRow, mode, target string) (summaryRow, bool) {
	for _, r := range rows {
		if r.Mode == mode && r.Target == target {
			return r, true
		}
	}
	return summaryRow{}, false
}

// ratio is a/b of the median TPS, or 0 when either side has no number.
func ratio(rows []summaryRow, mode, a, b string) float64 {
	ra, ok1 := lookupSummary(rows, mode, a)
	rb, ok2 := lookupSummary(rows, mode, b)
	if !ok1 || !ok2 || ra.OKRuns == 0 || rb.OKRuns == 0 || rb.TPS == 0 {
		return 0
	}
	return ra.TPS / rb.TPS
}

// unstick ends every session in the databases of servers (for the
// router: its backend sessions on every primary), after recording what
// they were waiting for: a stalled run leaves them waiting on locks that
// only each other could release.
func unstick(servers []endpoint) func(ctx context.Context) string {
	return func(ctx context.Context) string {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var found []string
		for _, p := range servers {
			conn, err := pgx.Connect(ctx, p.url())
			if err != nil {
				found = append(found, fmt.Sprintf("%s: %v", p.Name, err))
				continue
			}
			rows, err := conn.Query(ctx, `SELECT coalesce(wait_event_type, 'CPU') || '/' || coalesce(wait_event, '-') || ' ' || state, count(*)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'
GROUP BY 1 ORDER BY 2 DESC`)
			if err == nil {
				var parts []string
				for rows.Next() {
					var what string
					var n int
					if rows.Scan(&what, &n) == nil {
						parts = append(parts, fmt.Sprintf("%d %s", n, what))
					}
				}
				rows.Close()
				if len(parts) > 0 {
					found = append(found, fmt.Sprintf("%s sessions: %s", p.Name, strings.Join(parts, ", ")))
				}
			}
			conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
			conn.Close(context.Background())
		}
		time.Sleep(time.Second)
		if len(found) == 0 {
			return ""
		}
		return "found stuck (then terminated): " + strings.Join(found, "; ")
	}
}
