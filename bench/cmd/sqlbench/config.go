package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is what one harness run measures and how. Every field has a flag
// whose default comes from a BENCH_* environment variable (so that
// `BENCH_QUICK=1 make bench` works), then from the built-in default.
type config struct {
	Out       string // results directory
	Work      string // scratch directory ("" = a new one under os.TempDir)
	Keep      bool   // keep Work afterwards
	SQLRouter string // sqlrouter binary ("" = go build ./cmd/sqlrouter)

	Quick    bool
	Duration time.Duration // per pgbench run
	Reps     int
	Scale    int
	Clients  int
	Threads  int
	Replicas int // per shard cluster, in both stacks
	Phases   map[string]bool

	IdleConns  int
	FanoutRows int
	FanoutRuns int // timed executions of each fan-out query
	CopyRows   int
	InsertRows int // rows of the INSERT ... VALUES bulk load through the router
}

// The phases a run can be limited to with -only.
var allPhases = []string{"pgbench", "idle", "fanout", "copy"}

func envString(name, dflt string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return dflt
}

func envInt(name string, dflt int) int {
	if v, err := strconv.Atoi(envString(name, "")); err == nil {
		return v
	}
	return dflt
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(envString(name, "false"))
	return v
}

// envDuration accepts a Go duration ("20s") or plain seconds ("20").
func envDuration(name string, dflt time.Duration) time.Duration {
	v := envString(name, "")
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	return dflt
}

// parseConfig reads flags (and the environment behind their defaults).
func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("sqlbench", flag.ContinueOnError)
	// Settings whose default depends on quick mode are 0 until the flags
	// are parsed (-quick may come after them).
	fs.BoolVar(&c.Quick, "quick", envBool("BENCH_QUICK"), "short runs for CI and smoke tests [BENCH_QUICK]")
	fs.StringVar(&c.Out, "out", envString("BENCH_OUT", "bench/results"), "results directory [BENCH_OUT]")
	fs.StringVar(&c.Work, "work", envString("BENCH_WORK", ""), "scratch directory (default: a new temporary one) [BENCH_WORK]")
	fs.BoolVar(&c.Keep, "keep", envBool("BENCH_KEEP"), "keep the scratch directory (server logs, pgbench output) [BENCH_KEEP]")
	fs.StringVar(&c.SQLRouter, "sqlrouter", envString("BENCH_SQLROUTER", ""), "sqlrouter binary (default: built from ./cmd/sqlrouter) [BENCH_SQLROUTER]")
	fs.DurationVar(&c.Duration, "duration", envDuration("BENCH_DURATION", 0), "length of each pgbench run (default 20s, quick 3s) [BENCH_DURATION]")
	fs.IntVar(&c.Reps, "reps", envInt("BENCH_REPS", 3), "repetitions of each pgbench run (targets alternate) [BENCH_REPS]")
	fs.IntVar(&c.Scale, "scale", envInt("BENCH_SCALE", 10), "pgbench scale factor (100,000 accounts each) [BENCH_SCALE]")
	fs.IntVar(&c.Clients, "clients", envInt("BENCH_CLIENTS", 16), "pgbench clients [BENCH_CLIENTS]")
	fs.IntVar(&c.Threads, "threads", envInt("BENCH_THREADS", 2), "pgbench threads [BENCH_THREADS]")
	fs.IntVar(&c.Replicas, "replicas", envInt("BENCH_REPLICAS", 0), "streaming replicas per shard (0 = none, fastest) [BENCH_REPLICAS]")
	only := fs.String("only", envString("BENCH_ONLY", strings.Join(allPhases, ",")), "comma-separated phases to run: "+strings.Join(allPhases, ", ")+" [BENCH_ONLY]")
	fs.IntVar(&c.IdleConns, "idle-conns", envInt("BENCH_IDLE_CONNS", 5000), "idle client connections to open [BENCH_IDLE_CONNS]")
	fs.IntVar(&c.FanoutRows, "fanout-rows", envInt("BENCH_FANOUT_ROWS", 0), "rows of the fan-out table (default 1000000, quick 200000) [BENCH_FANOUT_ROWS]")
	fs.IntVar(&c.FanoutRuns, "fanout-runs", envInt("BENCH_FANOUT_RUNS", 0), "timed executions of each fan-out query (default 20, quick 5) [BENCH_FANOUT_RUNS]")
	fs.IntVar(&c.CopyRows, "copy-rows", envInt("BENCH_COPY_ROWS", 1_000_000), "rows of the COPY benchmark [BENCH_COPY_ROWS]")
	fs.IntVar(&c.InsertRows, "insert-rows", envInt("BENCH_INSERT_ROWS", 0), "rows of the INSERT ... VALUES load through the router (default 100000, quick 20000) [BENCH_INSERT_ROWS]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	orDefault := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	orDefault(&c.FanoutRows, 1_000_000, 200_000)
	orDefault(&c.FanoutRuns, 20, 5)
	orDefault(&c.InsertRows, 100_000, 20_000)
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
		if c.Quick {
			c.Duration = 3 * time.Second
		}
	}
	c.Phases = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		known := false
		for _, a := range allPhases {
			known = known || a == p
		}
		if !known {
			return c, fmt.Errorf("-only: unknown phase %q (known: %s)", p, strings.Join(allPhases, ", "))
		}
		c.Phases[p] = true
	}
	switch {
	case c.Reps < 1, c.Clients < 1, c.Threads < 1, c.Scale < 1:
		return c, fmt.Errorf("-reps, -clients, -threads and -scale must be at least 1")
	case c.Clients%c.Threads != 0:
		return c, fmt.Errorf("-clients (%d) must be a multiple of -threads (%d), as pgbench requires", c.Clients, c.Threads)
	case c.Duration < time.Second:
		return c, fmt.Errorf("-duration must be at least 1s")
	}
	return c, nil
}
