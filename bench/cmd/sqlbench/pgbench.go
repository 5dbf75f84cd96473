package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mode is one pgbench workload.
type mode struct {
	Name  string   // short id, e.g. "select-simple"
	Label string   // for tables and the chart
	Args  []string // pgbench options besides clients, threads, duration
}

var modes = []mode{
	{Name: "select-simple", Label: "-S simple", Args: []string{"-n", "-S", "-M", "simple"}},
	{Name: "select-prepared", Label: "-S prepared", Args: []string{"-n", "-S", "-M", "prepared"}},
	{Name: "select-extended", Label: "-S extended", Args: []string{"-n", "-S", "-M", "extended"}},
	// Without -n: pgbench vacuums branches and tellers and truncates
	// history before each run, through whichever target it talks to.
	{Name: "tpcb", Label: "TPC-B", Args: []string{"-M", "simple"}},
}

// target is where pgbench connects.
type target struct {
	Name  string // direct, pgbouncer, sqlrouter
	Label string
	End   endpoint
	// ProxyPID is the process between pgbench and PostgreSQL (0 for none).
	ProxyPID int
	// Servers are the postmasters doing the work.
	Servers []int
	// Unavailable, when set, says why the target cannot be measured.
	Unavailable string
	// unstick frees the servers after a stalled run; it returns what it
	// found stuck.
	unstick func(ctx context.Context) string
}

// runResult is one pgbench run.
type runResult struct {
	Mode   string `json:"mode"`
	Target string `json:"target"`
	Rep    int    `json:"rep"`
	// Status is ok, error, stalled, unavailable or skipped.
	Status       string  `json:"status"`
	Error        string  `json:"error,omitempty"`
	TPS          float64 `json:"tps"`
	Transactions int64   `json:"transactions"`
	Failed       int64   `json:"failed"`
	LatAvgMs     float64 `json:"latency_avg_ms"`
	P50Ms        float64 `json:"latency_p50_ms"`
	P99Ms        float64 `json:"latency_p99_ms"`
	// ProxyCPUus is the CPU time of the proxy process (router or
	// PgBouncer) per transaction, in microseconds; 0 without a proxy.
	ProxyCPUus float64 `json:"proxy_cpu_us_per_txn"`
	// ServerCPUus is the CPU time of the PostgreSQL servers per
	// transaction (every backend and the postmaster), in microseconds.
	ServerCPUus float64 `json:"server_cpu_us_per_txn"`
	Seconds     float64 `json:"seconds"`
}

var (
	reTPS       = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	reProcessed = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)
	reFailed    = regexp.MustCompile(`number of failed transactions: ([0-9]+)`)
	reLatAvg    = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	reProgress  = regexp.MustCompile(`^progress: [0-9.]+ s, ([0-9.]+) tps`)
)

// stallSeconds is how long every client may make no progress before the
// run is declared stalled (a lock wait nobody will end, a hung router).
const stallSeconds = 8

// runPgbench runs one pgbench and measures it.
func (h *harness) runPgbench(ctx context.Context, m mode, t target, rep int) runResult {
	r := runResult{Mode: m.Name, Target: t.Name, Rep: rep}
	if t.Unavailable != "" {
		r.Status, r.Error = "unavailable", t.Unavailable
		return r
	}
	logDir := filepath.Join(h.work, "pgbench-logs", fmt.Sprintf("%s-%s-%d", m.Name, t.Name, rep))
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		r.Status, r.Error = "error", err.Error()
		return r
	}
	defer os.RemoveAll(logDir) // hundreds of MB in long runs
	secs := int(h.cfg.Duration.Round(time.Second) / time.Second)
	args := append(slices.Clone(m.Args),
		"-c", strconv.Itoa(h.cfg.Clients), "-j", strconv.Itoa(h.cfg.Threads),
		"-T", strconv.Itoa(secs), "-P", "1",
		"-l", "--log-prefix", filepath.Join(logDir, "tx"),
		t.End.conninfo())
	rctx, cancel := context.WithTimeout(ctx, h.cfg.Duration+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, h.pg.Path("pgbench"), args...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		r.Status, r.Error = "error", err.Error()
		return r
	}

	proxy0, _ := processCPUOrZero(t.ProxyPID)
	server0 := treeCPU(t.Servers)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		r.Status, r.Error = "error", err.Error()
		return r
	}
	stalled := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		zero := 0
		sc := bufio.NewScanner(io.TeeReader(errPipe, &stderr))
		for sc.Scan() {
			mm := reProgress.FindStringSubmatch(sc.Text())
			if mm == nil {
				continue
			}
			if tps, _ := strconv.ParseFloat(mm[1], 64); tps == 0 {
				zero++
			} else {
				zero = 0
			}
			if zero == stallSeconds {
				close(stalled)
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
		io.Copy(&stderr, errPipe)
	}()
	<-scanned
	waitErr := cmd.Wait()
	r.Seconds = time.Since(began).Seconds()
	proxy1, _ := processCPUOrZero(t.ProxyPID)
	server1 := treeCPU(t.Servers)

	out := stdout.String()
	r.TPS = parseFloat(reTPS, out)
	r.Transactions = int64(parseFloat(reProcessed, out))
	r.Failed = int64(parseFloat(reFailed, out))
	r.LatAvgMs = parseFloat(reLatAvg, out)
	select {
	case <-stalled:
		r.Status = "stalled"
		r.Error = fmt.Sprintf("no transaction completed for %d s", stallSeconds)
	default:
		switch {
		case ctx.Err() != nil:
			r.Status, r.Error = "error", "interrupted"
		case rctx.Err() != nil:
			r.Status, r.Error = "stalled", "pgbench did not finish in time"
		case waitErr != nil:
			r.Status, r.Error = "error", firstErrorLine(stderr.String()+"\n"+out)
			if r.Error == "" {
				r.Error = waitErr.Error()
			}
		default:
			r.Status = "ok"
		}
	}
	if r.Status == "stalled" && t.unstick != nil {
		if found := t.unstick(ctx); found != "" {
			r.Error += "; " + found
		}
	}
	if r.Transactions > 0 {
		n := float64(r.Transactions)
		if t.ProxyPID != 0 {
			r.ProxyCPUus = float64((proxy1 - proxy0).Microseconds()) / n
		}
		r.ServerCPUus = float64((server1 - server0).Microseconds()) / n
		r.P50Ms, r.P99Ms = latencyPercentiles(logDir)
	}
	return r
}

func processCPUOrZero(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return processCPU(pid)
}

func parseFloat(re *regexp.Regexp, s string) float64 {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// latencyPercentiles reads pgbench's per-transaction logs (-l; the third
// field is the latency in microseconds, or "failed"/"skipped") and returns
// the median and the 99th percentile in milliseconds.
func latencyPercentiles(logDir string) (p50, p99 float64) {
	files, _ := filepath.Glob(filepath.Join(logDir, "tx.*"))
	var lat []int64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			if us, err := strconv.ParseInt(fields[2], 10, 64); err == nil {
				lat = append(lat, us)
			}
		}
		fh.Close()
	}
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return float64(percentile(lat, 0.50)) / 1000, float64(percentile(lat, 0.99)) / 1000
}
