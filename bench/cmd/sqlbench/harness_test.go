package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMedianAndPercentile(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v, want 2.5", got)
	}
	if got := median(nil); got != 0 {
		t.Errorf("median empty = %v, want 0", got)
	}
	sorted := make([]int64, 100)
	for i := range sorted {
		sorted[i] = int64(i + 1)
	}
	if p50, p99 := percentile(sorted, 0.5), percentile(sorted, 0.99); p50 != 50 || p99 != 99 {
		t.Errorf("p50, p99 of 1..100 = %d, %d; want 50, 99", p50, p99)
	}
	if got := percentile([]int64{7}, 0.99); got != 7 {
		t.Errorf("p99 of one value = %d, want 7", got)
	}
}

func TestLatencyPercentilesReadsPgbenchLogs(t *testing.T) {
	dir := t.TempDir()
	// client_id transaction_no time script_no time_epoch time_us
	var a, b strings.Builder
	for i := 1; i <= 50; i++ {
		a.WriteString("0 1 " + strconv.Itoa(i*100) + " 0 1700000000 1\n")
		b.WriteString("1 1 " + strconv.Itoa((i+50)*100) + " 0 1700000000 1\n")
	}
	b.WriteString("1 2 failed 0 1700000000 1\n")
	os.WriteFile(filepath.Join(dir, "tx.123"), []byte(a.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "tx.123.1"), []byte(b.String()), 0o644)
	p50, p99 := latencyPercentiles(dir)
	if p50 != 5 || p99 != 9.9 {
		t.Errorf("p50, p99 = %v, %v ms; want 5, 9.9", p50, p99)
	}
}

func TestFirstErrorLinePrefersServerErrors(t *testing.T) {
	out := "pgbench (15.18)\npgbench: error: client 3 script 0 aborted in command 1 query 0: ERROR:  prepared statement \"P_0\" already exists\npgbench: error: Run was aborted\n"
	if got, want := firstErrorLine(out), `ERROR:  prepared statement "P_0" already exists`; got != want {
		t.Errorf("firstErrorLine = %q, want %q", got, want)
	}
	if got := firstErrorLine("pgbench: error: connection refused\n"); got != "pgbench: error: connection refused" {
		t.Errorf("firstErrorLine = %q", got)
	}
}

func TestSummarizeMediansAndFailures(t *testing.T) {
	runs := []runResult{
		{Mode: "select-simple", Target: "direct", Rep: 1, Status: "ok", TPS: 100, P50Ms: 1},
		{Mode: "select-simple", Target: "direct", Rep: 2, Status: "ok", TPS: 300, P50Ms: 3},
		{Mode: "select-simple", Target: "direct", Rep: 3, Status: "ok", TPS: 200, P50Ms: 2},
		{Mode: "select-simple", Target: "sqlrouter", Rep: 1, Status: "ok", TPS: 50},
		{Mode: "select-simple", Target: "sqlrouter", Rep: 2, Status: "stalled", Error: "no progress"},
		{Mode: "select-simple", Target: "sqlrouter", Rep: 3, Status: "skipped"},
	}
	rows := summarize(runs)
	d, _ := lookupSummary(rows, "select-simple", "direct")
	if d.TPS != 200 || d.TPSMin != 100 || d.TPSMax != 300 || d.P50Ms != 2 || d.OKRuns != 3 || d.Status != "ok" {
		t.Errorf("direct summary = %+v", d)
	}
	r, _ := lookupSummary(rows, "select-simple", "sqlrouter")
	if r.TPS != 50 || r.OKRuns != 1 || r.Runs != 3 || r.Status != "stalled" {
		t.Errorf("sqlrouter summary = %+v", r)
	}
	if got := ratio(rows, "select-simple", "sqlrouter", "direct"); got != 0.25 {
		t.Errorf("ratio = %v, want 0.25", got)
	}
	if got := ratio(rows, "tpcb", "sqlrouter", "direct"); got != 0 {
		t.Errorf("ratio without numbers = %v, want 0", got)
	}
}

func TestPlacerMatchesShardMapHash(t *testing.T) {
	p, err := newPlacer(pgbenchMap(2), "by_aid")
	if err != nil {
		t.Fatal(err)
	}
	counts := [2]int{}
	for aid := int64(1); aid <= 10000; aid++ {
		counts[p.shardOf(aid)]++
	}
	// An even hash split puts roughly half on each shard.
	if counts[0] < 4500 || counts[1] < 4500 {
		t.Errorf("split of 10,000 keys = %v, want about half each", counts)
	}
	if _, err := newPlacer(fanoutMap(4), "by_id"); err != nil {
		t.Errorf("fan-out map: %v", err)
	}
}

func TestReportAndChart(t *testing.T) {
	r := &results{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Settings: settingsEcho{Clients: 16, Scale: 10, Reps: 1, Duration: 3}}
	r.Runs = []runResult{
		{Mode: "select-simple", Target: "direct", Status: "ok", TPS: 30000},
		{Mode: "select-simple", Target: "pgbouncer", Status: "ok", TPS: 20000},
		{Mode: "select-simple", Target: "sqlrouter", Status: "ok", TPS: 15000},
		{Mode: "tpcb", Target: "direct", Status: "ok", TPS: 3000},
		{Mode: "tpcb", Target: "pgbouncer", Status: "unavailable", Error: "not installed"},
		{Mode: "tpcb", Target: "sqlrouter", Status: "stalled", Error: "no progress | locks"},
	}
	r.Summary = summarize(r.Runs)
	r.Bulk = []bulkRow{{Name: "COPY through the router", Status: "unsupported", Error: "0A000"}, {Name: "COPY split by hand into 4 shards (concurrent)", Status: "ok", RowsPerSec: 1}}
	r.Targets = checkTargets(r)
	md := markdown(r)
	for _, want := range []string{"| -S simple | sqlrouter | 15000 |", "| -S simple | 0.50x | 0.75x | 0.67x |", `stalled: no progress \| locks`, "| COPY through the router >= 0.5x hand-split direct COPY | unsupported | no |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := writeChart(path, r); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("chart is %v", b)
	}
}

func TestParseConfigQuickAndValidation(t *testing.T) {
	t.Setenv("BENCH_QUICK", "1")
	c, err := parseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Duration != 3*time.Second || c.Reps != 3 || c.Clients != 16 || c.Threads != 2 || c.Scale != 10 || !c.Phases["copy"] {
		t.Errorf("quick config = %+v", c)
	}
	t.Setenv("BENCH_QUICK", "")
	c, err = parseConfig([]string{"-fanout-rows", "7", "-quick"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Duration != 3*time.Second || c.FanoutRows != 7 || c.InsertRows != 20_000 {
		t.Errorf("-quick after other flags: %+v", c)
	}
	if c, _ := parseConfig(nil); c.Duration != 20*time.Second || c.FanoutRows != 1_000_000 {
		t.Errorf("default config = %+v", c)
	}
	if _, err := parseConfig([]string{"-clients", "15"}); err == nil {
		t.Error("15 clients over 2 threads accepted")
	}
	if _, err := parseConfig([]string{"-only", "pgbench,nope"}); err == nil {
		t.Error("unknown phase accepted")
	}
}
