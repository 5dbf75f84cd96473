package main

import (
	"fmt"
	"strings"
)

var targetLabels = map[string]string{"direct": "direct", "pgbouncer": "PgBouncer", "sqlrouter": "sqlrouter"}

var modeLabels = func() map[string]string {
	m := map[string]string{}
	for _, md := range modes {
		m[md.Name] = md.Label
	}
	return m
}()

// targetCheck is one of the performance targets against what this
// run measured.
type targetCheck struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Met is yes, no, or n/a when there is no number.
	Met string `json:"met"`
}

// checkTargets compares the run with the targets of issue 8.
func checkTargets(r *results) []targetCheck {
	var out []targetCheck
	ratioCheck := func(what, mode, a, b string, want float64, extra string) {
		v := ratio(r.Summary, mode, a, b)
		tc := targetCheck{Target: what, Met: "n/a", Measured: "no number"}
		if row, ok := lookupSummary(r.Summary, mode, "sqlrouter"); ok && row.OKRuns == 0 {
			tc.Measured = "sqlrouter: " + row.Status + ": " + row.Error
			tc.Met = "no"
		}
		if v > 0 {
			tc.Measured = fmt.Sprintf("%.2fx", v)
			tc.Met = yesNo(v >= want)
		}
		if extra != "" {
			tc.Measured += "; " + extra
		}
		out = append(out, tc)
	}
	ratioCheck("pgbench -S simple through sqlrouter >= 1.0x PgBouncer", "select-simple", "sqlrouter", "pgbouncer", 1.0, "")
	ratioCheck("pgbench -S -M prepared through sqlrouter >= 0.8x direct", "select-prepared", "sqlrouter", "direct", 0.8, "")
	refs := ""
	if r.RefCheck != nil {
		refs = "reference copies identical: " + yesNo(r.RefCheck.Identical && r.RefCheck.Error == "")
	}
	ratioCheck("TPC-B through sqlrouter >= 0.5x direct, reference tables identical", "tpcb", "sqlrouter", "direct", 0.5, refs)
	if len(out) > 0 && r.RefCheck != nil && !r.RefCheck.Identical {
		out[len(out)-1].Met = "no"
	}
	var routerCopy, splitCopy *bulkRow
	for i := range r.Bulk {
		b := &r.Bulk[i]
		switch {
		case b.Name == "COPY through the router":
			routerCopy = b
		case strings.HasPrefix(b.Name, "COPY split by hand"):
			splitCopy = b
		}
	}
	copyCheck := targetCheck{Target: "COPY through the router >= 0.5x hand-split direct COPY", Met: "n/a", Measured: "not run"}
	if routerCopy != nil {
		copyCheck.Measured, copyCheck.Met = routerCopy.Status, "no"
		if routerCopy.Status == "ok" && splitCopy != nil && splitCopy.Status == "ok" {
			v := routerCopy.RowsPerSec / splitCopy.RowsPerSec
			copyCheck.Measured, copyCheck.Met = fmt.Sprintf("%.2fx", v), yesNo(v >= 0.5)
		}
	}
	out = append(out, copyCheck)
	idleCheck := targetCheck{Target: "idle client connection <= 32 KiB of router memory", Met: "n/a", Measured: "not run"}
	for _, i := range r.Idle {
		if i.Target == "sqlrouter" {
			idleCheck.Measured = fmt.Sprintf("%.1f KiB (%d connections)", i.PerConn, i.Opened)
			idleCheck.Met = yesNo(i.Opened == i.Wanted && i.PerConn <= 32)
			if i.Error != "" {
				idleCheck.Measured += "; " + i.Error
			}
		}
	}
	out = append(out, idleCheck)
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// num formats a measurement, "-" for none.
func num(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// markdown renders the report.
func markdown(r *results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# sqlrouter benchmark, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	if r.Settings.Quick {
		w("**Quick mode** (%.0f s runs, smaller data sets): a smoke test of the harness, not a measurement.\n\n", r.Settings.Duration)
	}
	if r.Failure != "" {
		w("**The run stopped early:** %s\n\n", cell(r.Failure))
	}
	e := r.Env
	w("Machine: %s, %d cores, %d MiB; %s. %s; %s; %s; commit %s.\n\n", e.CPU, e.Cores, e.MemoryMiB, e.Kernel, e.PostgreSQL, orNone(e.PgBouncer, "PgBouncer not available"), e.Go, orNone(e.Commit, "unknown"))
	st := r.Settings
	w("Settings: pgbench scale %d, %d clients, %d threads, %.0f s per run, %d repetitions with the targets alternating (direct, PgBouncer, sqlrouter, direct, ...), %d replicas per shard. Total time %.0f s.\n\n",
		st.Scale, st.Clients, st.Threads, st.Duration, st.Reps, st.Replicas, r.Elapsed)

	if len(r.Summary) > 0 {
		w("## pgbench (2 shards)\n\n")
		if r.Chart != "" {
			w("![median TPS per workload and target](%s)\n\n", r.Chart)
		}
		w("| Workload | Target | TPS (median) | min-max | p50 ms | p99 ms | proxy CPU us/txn | server CPU us/txn | runs ok | status |\n")
		w("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, s := range r.Summary {
			status := s.Status
			if s.Error != "" {
				status += ": " + s.Error
			}
			minmax := "-"
			if s.OKRuns > 0 {
				minmax = fmt.Sprintf("%.0f-%.0f", s.TPSMin, s.TPSMax)
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %d/%d | %s |\n", modeLabels[s.Mode], targetLabels[s.Target],
				num(s.TPS, "%.0f"), minmax, num(s.P50Ms, "%.3f"), num(s.P99Ms, "%.3f"),
				num(s.ProxyCPU, "%.1f"), num(s.ServerCPU, "%.1f"), s.OKRuns, s.Runs, cell(status))
		}
		w("\n| Workload | sqlrouter / direct | sqlrouter / PgBouncer | PgBouncer / direct |\n| --- | ---: | ---: | ---: |\n")
		for _, m := range modes {
			if _, ok := lookupSummary(r.Summary, m.Name, "direct"); !ok {
				continue
			}
			w("| %s | %s | %s | %s |\n", m.Label,
				num(ratio(r.Summary, m.Name, "sqlrouter", "direct"), "%.2fx"),
				num(ratio(r.Summary, m.Name, "sqlrouter", "pgbouncer"), "%.2fx"),
				num(ratio(r.Summary, m.Name, "pgbouncer", "direct"), "%.2fx"))
		}
		w("\n")
	}
	if rc := r.RefCheck; rc != nil {
		w("### Reference tables after TPC-B\n\n")
		if rc.Error != "" {
			w("Check failed: %s\n\n", cell(rc.Error))
		}
		w("| Table | Cluster | Rows | md5 of the rows in key order |\n| --- | --- | ---: | --- |\n")
		for _, t := range rc.Tables {
			for _, c := range t.Copies {
				w("| %s | %s | %d | `%s` |\n", t.Table, c.Cluster, c.Rows, c.MD5)
			}
		}
		w("\nEvery copy identical: **%s**. Balances: sum(abalance) over the shards %d, sum(bbalance) %d, sum(tbalance) %d: **%s**. Prepared transactions left on the shards: %d.\n\n",
			yesNo(rc.Identical), rc.SumAccounts, rc.SumBranches, rc.SumTellers,
			map[bool]string{true: "balanced", false: "NOT balanced"}[rc.Balanced], rc.PreparedXacts)
	}
	if len(r.Targets) > 0 {
		w("## Issue 8 targets\n\n| Target | Measured | Met |\n| --- | --- | --- |\n")
		for _, t := range r.Targets {
			w("| %s | %s | %s |\n", t.Target, cell(t.Measured), t.Met)
		}
		w("\n")
	}
	if len(r.Fanout) > 0 {
		w("## Fan-out (4 shards)\n\n")
		w("| Query | direct ms | sqlrouter ms | sqlrouter / direct | router CPU ms/query | router peak RSS growth | same answer | status |\n")
		w("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
		for _, f := range r.Fanout {
			status := f.Status
			if f.Error != "" {
				status += ": " + f.Error
			}
			rel, growth, same := "-", "-", "-"
			if f.Status == "ok" {
				rel = fmt.Sprintf("%.2fx", f.RouterMs/f.DirectMs)
				same = yesNo(f.SameAnswer)
				if f.PeakRSSGrowth >= 0 {
					growth = fmt.Sprintf("%d KiB", f.PeakRSSGrowth)
				}
			}
			w("| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", cell(f.SQL), num(f.DirectMs, "%.1f"), num(f.RouterMs, "%.1f"), rel,
				num(f.RouterCPU, "%.2f"), growth, same, cell(status))
		}
		w("\nHow the router plans them (planner.Explain of the same map):\n\n")
		for _, f := range r.Fanout {
			w("```\n-- %s\n%s\n```\n\n", f.SQL, f.Plan)
		}
	}
	if len(r.Bulk) > 0 {
		w("## Bulk load (4 shards)\n\n| Load | Rows | Seconds | Rows/s | router CPU ms per 1,000 rows | status |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
		for _, bl := range r.Bulk {
			status := bl.Status
			if bl.Error != "" {
				status += ": " + bl.Error
			}
			secs := "-"
			if bl.Status == "ok" {
				secs = fmt.Sprintf("%.2f", bl.Seconds)
			}
			w("| %s | %d | %s | %s | %s | %s |\n", bl.Name, bl.Rows, secs, num(bl.RowsPerSec, "%.0f"), num(bl.RouterCPU, "%.2f"), cell(status))
		}
		w("\n")
	}
	if len(r.Idle) > 0 {
		w("## Idle client connections\n\n| Target | Opened | RSS before | RSS with them open | RSS after closing | KiB per connection | server sessions held | open time s | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, i := range r.Idle {
			w("| %s | %d/%d | %d KiB | %d KiB | %d KiB | %.1f | %d | %.1f | %s |\n", i.Target, i.Opened, i.Wanted, i.RSSBefore, i.RSSAfter, i.RSSClosed, i.PerConn, i.ServerSessions, i.Seconds, cell(orNone(i.Error, "-")))
		}
		w("\n")
	}
	if len(r.Problems) > 0 {
		w("## What did not work\n\n")
		for _, p := range r.Problems {
			w("- **%s**: %s\n", p.What, strings.ReplaceAll(p.Error, "\n", " "))
		}
		w("\n")
	}
	if len(r.Notes) > 0 {
		w("## Setup\n\n")
		for _, n := range r.Notes {
			w("- %s\n", n)
		}
		w("\n")
	}
	w(`## What the numbers mean

- **TPS**: pgbench's "tps (without initial connection time)"; the median over the repetitions, min-max beside it.
- **p50 / p99 ms**: latency percentiles of every transaction of a run (pgbench -l logs), median over the repetitions.
- **proxy CPU us/txn**: user+system CPU time of the proxy process (PgBouncer, or the sqlrouter dev process: router and embedded etcd, not its PostgreSQL children) during the run, divided by the transactions.
- **server CPU us/txn**: CPU time of every PostgreSQL process the target uses (postmasters, backends, reaped backends) per transaction; for sqlrouter, both shards and the coordinator.
- **direct / PgBouncer** run against database bench_direct on shard s0's primary, loaded by pgbench -i with every account (one PostgreSQL holding all the data); **sqlrouter** runs against the same servers' app database, with accounts split over the two shards. All three share the same two cores with pgbench.
- **stalled**: no transaction completed for several seconds; the harness then recorded what the shard sessions were waiting on and terminated them.
- See bench/README.md for the details.
`)
	return b.String()
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
