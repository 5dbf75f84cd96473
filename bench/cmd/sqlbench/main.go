// Command sqlbench is sqlrouter's benchmark harness (`make bench`): it
// brings up `sqlrouter dev` deployments, loads pgbench and fan-out data,
// runs pgbench against one PostgreSQL directly, through PgBouncer and
// through sqlrouter with the targets alternating, runs the fan-out, bulk
// load and idle-connection benchmarks, and writes a Markdown report, a PNG
// chart and the raw numbers as JSON into bench/results/. Every process it
// starts is stopped at the end, on failure and on Ctrl-C.
//
// See bench/README.md for what it measures and how to read the results.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// harness holds what every phase needs.
type harness struct {
	cfg       config
	work      string
	sqlrouter string
	pg        localdeploy.Binaries
	daemons   *daemons
	logger    *slog.Logger
	res       *results
}

func main() {
	// Children are started from the main goroutine, which stays on the
	// main thread: their parent-death signal follows the thread that
	// forked them, and this one lives as long as the process.
	runtime.LockOSThread()
	os.Exit(run())
}

func run() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "sqlbench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{cfg: cfg, daemons: &daemons{logger: logger}, logger: logger, res: &results{Started: time.Now()}}
	defer h.daemons.stopAll(90 * time.Second)

	runErr := h.run(ctx)
	if runErr != nil {
		h.res.Failure = runErr.Error()
		logger.Error("benchmark failed", "err", runErr)
	}
	h.daemons.stopAll(90 * time.Second)
	h.res.Elapsed = time.Since(h.res.Started).Seconds()
	report, err := h.writeResults()
	if err != nil {
		logger.Error("writing results", "err", err)
		return 1
	}
	fmt.Println(report)
	if h.work != "" {
		if cfg.Keep || runErr != nil {
			logger.Info("kept the scratch directory (server logs, shard maps)", "dir", h.work)
		} else if cfg.Work == "" {
			os.RemoveAll(h.work)
		}
	}
	if runErr != nil {
		return 1
	}
	return 0
}

// run does every phase the configuration asks for.
func (h *harness) run(ctx context.Context) error {
	if err := h.prepare(ctx); err != nil {
		return err
	}
	if h.cfg.Phases["pgbench"] || h.cfg.Phases["idle"] {
		if err := h.pgbenchPhase(ctx); err != nil {
			return err
		}
	}
	if h.cfg.Phases["fanout"] || h.cfg.Phases["copy"] {
		if err := h.fanoutPhase(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// prepare finds or builds the programs and raises the file limit.
func (h *harness) prepare(ctx context.Context) error {
	c := h.cfg
	h.res.Settings = settingsEcho{Quick: c.Quick, Duration: c.Duration.Seconds(), Reps: c.Reps, Scale: c.Scale, Clients: c.Clients,
		Threads: c.Threads, Replicas: c.Replicas, IdleConns: c.IdleConns, FanoutRows: c.FanoutRows, CopyRows: c.CopyRows, InsertRows: c.InsertRows}
	// Thousands of idle connections need as many descriptors, here and in
	// the router and PgBouncer, which inherit the limit.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		if need := uint64(2*c.IdleConns + 1000); c.Phases["idle"] && lim.Cur < need {
			h.res.note("open file limit %d is below the %d the idle-connection test needs; raise it with ulimit -n", lim.Cur, need)
		}
	}
	var err error
	if h.pg, err = localdeploy.FindBinaries(); err != nil {
		return err
	}
	h.work = c.Work
	if h.work == "" {
		if h.work, err = os.MkdirTemp("", "sqlbench-*"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(h.work, 0o755); err != nil {
		return err
	}
	if h.work, err = filepath.Abs(h.work); err != nil {
		return err
	}
	// The postgres OS user runs PgBouncer and the servers below this.
	os.Chmod(h.work, 0o755)
	h.sqlrouter = c.SQLRouter
	if h.sqlrouter == "" {
		h.sqlrouter = filepath.Join(h.work, "sqlrouter")
		h.logger.Info("building sqlrouter", "into", h.sqlrouter)
		build := exec.CommandContext(ctx, "go", "build", "-o", h.sqlrouter, "./cmd/sqlrouter")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/sqlrouter (run from the repository root, or pass -sqlrouter): %w\n%s", err, out)
		}
	}
	if h.sqlrouter, err = filepath.Abs(h.sqlrouter); err != nil {
		return err
	}
	h.res.Env = describeEnvironment(h.pg.Path("pgbench"))
	return nil
}

// pgbenchPhase: two shards, pgbench against direct, PgBouncer and
// sqlrouter, then the reference check and the idle connections.
func (h *harness) pgbenchPhase(ctx context.Context) error {
	doc := pgbenchMap(2)
	s, err := h.startStack(ctx, "pgbench", 2, doc)
	if err != nil {
		return fmt.Errorf("start sqlrouter dev: %w", err)
	}
	defer h.stopStack(s)
	h.tryPgbenchInit(ctx, s)
	if err := h.loadPgbench(ctx, s, doc); err != nil {
		return fmt.Errorf("load the pgbench tables: %w", err)
	}
	direct, err := h.initDirect(ctx, s.primaries[0])
	if err != nil {
		return fmt.Errorf("baseline database: %w", err)
	}
	s0, _ := postmasterPID(s.primaries[0].DataDir)
	targets := []target{
		{Name: "direct", End: direct, Servers: []int{s0}, unstick: unstick([]endpoint{direct})},
		{Name: "pgbouncer", Servers: []int{s0}, unstick: unstick([]endpoint{direct})},
		{Name: "sqlrouter", End: s.router, ProxyPID: s.routerPID(), Servers: s.postmasters(), unstick: unstick(s.primaries)},
	}
	bouncerBin, err := h.ensurePgBouncer(ctx)
	var bouncer *pgbouncer
	if err == nil {
		bouncer, err = h.startPgBouncer(ctx, bouncerBin, direct)
	}
	if err != nil {
		targets[1].Unavailable = err.Error()
		h.res.unsupported("PgBouncer", err.Error())
	} else {
		defer h.daemons.stop(bouncer.proc, 30*time.Second)
		h.res.Env.PgBouncer = bouncer.version
		targets[1].End, targets[1].ProxyPID = bouncer.endpoint, bouncer.proc.PID()
		h.res.note("PgBouncer (%s) in front of bench_direct: transaction pooling, default_pool_size %d (as many server connections as pgbench clients), trust auth, run as the postgres OS user",
			bouncer.version, h.cfg.Clients)
	}
	if h.cfg.Phases["pgbench"] {
		h.runSuite(ctx, s, targets)
		h.res.Summary = summarize(h.res.Runs)
	}
	if h.cfg.Phases["idle"] && ctx.Err() == nil {
		h.logger.Info("idle connections", "count", h.cfg.IdleConns)
		h.res.Idle = append(h.res.Idle, idleConnections(ctx, "sqlrouter", s.router, s.routerPID(), h.cfg.IdleConns, s.primaries))
		if bouncer != nil {
			h.res.Idle = append(h.res.Idle, idleConnections(ctx, "PgBouncer", bouncer.endpoint, bouncer.proc.PID(), h.cfg.IdleConns, []endpoint{direct}))
		}
		for _, i := range h.res.Idle {
			if i.Error != "" {
				h.res.unsupported(fmt.Sprintf("%d idle connections to %s", i.Wanted, i.Target), i.Error)
			}
		}
	}
	return nil
}

// fanoutPhase: four shards, the fan-out queries and the bulk loads.
func (h *harness) fanoutPhase(ctx context.Context) error {
	doc := fanoutMap(4)
	s, err := h.startStack(ctx, "fanout", 4, doc)
	if err != nil {
		return fmt.Errorf("start sqlrouter dev: %w", err)
	}
	defer h.stopStack(s)
	direct, err := createDatabase(ctx, s.primaries[0], "bench_direct")
	if err != nil {
		return fmt.Errorf("baseline database: %w", err)
	}
	if h.cfg.Phases["fanout"] {
		if err := h.loadFanout(ctx, s, direct, doc); err != nil {
			h.res.unsupported("fan-out: load fanout_items", err.Error())
		} else {
			h.runFanout(ctx, s, direct, doc)
		}
	}
	if h.cfg.Phases["copy"] && ctx.Err() == nil {
		h.runBulk(ctx, s, direct, doc)
	}
	return nil
}

// writeResults writes the report, the chart and the JSON, and returns the
// report.
func (h *harness) writeResults() (string, error) {
	r := h.res
	r.Targets = checkTargets(r)
	if err := os.MkdirAll(h.cfg.Out, 0o755); err != nil {
		return "", err
	}
	stamp := r.Started.UTC().Format("20060102-150405")
	if h.cfg.Quick {
		stamp += "-quick"
	}
	base := filepath.Join(h.cfg.Out, stamp)
	if len(r.Summary) > 0 {
		if err := writeChart(base+".png", r); err != nil {
			h.logger.Warn("chart", "err", err)
		} else {
			r.Chart = filepath.Base(base + ".png")
		}
	}
	report := markdown(r)
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(raw, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".md", []byte(report), 0o644); err != nil {
		return "", err
	}
	h.logger.Info("results written", "markdown", base+".md", "chart", r.Chart, "json", base+".json")
	return report, nil
}
