package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgbenchDDL is the schema `pgbench -i` (PostgreSQL 15) creates, without
// partitions, sent through the router.
var pgbenchDDL = []string{
	`drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers`,
	`create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler char(22))`,
	`create table pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)) with (fillfactor=100)`,
	`create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)`,
	`create table pgbench_branches(bid int not null,bbalance int,filler char(88)) with (fillfactor=100)`,
}

// pgbenchKeys are the primary keys pgbench adds after loading.
var pgbenchKeys = []string{
	`alter table pgbench_branches add primary key (bid)`,
	`alter table pgbench_tellers add primary key (tid)`,
	`alter table pgbench_accounts add primary key (aid)`,
	`vacuum analyze pgbench_branches`,
	`vacuum analyze pgbench_tellers`,
	`vacuum analyze pgbench_accounts`,
	`vacuum analyze pgbench_history`,
}

// sqlState is the SQLSTATE of a server error ("" for other errors).
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// firstErrorLine picks the most telling line of a client program's
// output: the first server ERROR, else the first line that mentions an
// error, else the last lines.
func firstErrorLine(out string) string {
	lines := strings.Split(out, "\n")
	for _, marker := range []string{"ERROR:", "error", "FATAL"} {
		for _, line := range lines {
			if i := strings.Index(line, marker); i >= 0 {
				if marker == "ERROR:" {
					return strings.TrimSpace(line[i:])
				}
				return strings.TrimSpace(line)
			}
		}
	}
	return strings.TrimSpace(tailString(out, 3))
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tryPgbenchInit runs `pgbench -i` against the router, client-side and
// server-side generation, and records what happens: it is how a user would
// load pgbench data; a failure is recorded with the router's error.
func (h *harness) tryPgbenchInit(ctx context.Context, s *stack) {
	for _, variant := range []struct{ label, steps string }{
		{"client-side data generation (COPY)", "dtgvp"},
		{"server-side data generation (INSERT ... SELECT generate_series)", "dtGvp"},
	} {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		cmd := exec.CommandContext(cctx, h.pg.Path("pgbench"), "-i", "-s", "1", "-I", variant.steps, s.router.conninfo())
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		cancel()
		what := "pgbench -i -I " + variant.steps + " through the router, " + variant.label
		if err == nil {
			h.res.note("%s: works", what)
			continue
		}
		h.res.unsupported("pgbench -i ("+variant.label+")", firstErrorLine(string(out)))
		h.logger.Info("pgbench -i through the router fails, as recorded", "variant", variant.steps, "error", firstErrorLine(string(out)))
	}
}

// loadPgbench creates the pgbench tables through the router and fills
// them: branches and tellers (reference tables) with INSERT ... VALUES
// through the router, accounts straight into the shards, split with the
// router's own hash. It then checks the split by reading accounts back
// through the router.
func (h *harness) loadPgbench(ctx context.Context, s *stack, doc string) error {
	began := time.Now()
	conn, err := pgx.Connect(ctx, s.router.url())
	if err != nil {
		return fmt.Errorf("connect to the router: %w", err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string) error {
		if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("through the router: %s: %w", sql, err)
		}
		return nil
	}
	for _, sql := range pgbenchDDL {
		if err := exec(sql); err != nil {
			return err
		}
	}
	scale := h.cfg.Scale
	if err := exec(valuesInsert("pgbench_branches(bid,bbalance)", scale, func(b *strings.Builder, i int) {
		fmt.Fprintf(b, "(%d,0)", i+1)
	})); err != nil {
		return err
	}
	if err := exec(valuesInsert("pgbench_tellers(tid,bid,tbalance)", 10*scale, func(b *strings.Builder, i int) {
		fmt.Fprintf(b, "(%d,%d,0)", i+1, i/10+1)
	})); err != nil {
		return err
	}
	p, err := newPlacer(doc, "by_aid")
	if err != nil {
		return err
	}
	accounts := 100_000 * scale
	counts, err := copyRows(ctx, s.primaries, "copy pgbench_accounts(aid,bid,abalance,filler) from stdin", rowSource{
		n: accounts,
		line: func(buf []byte, i int) []byte {
			aid := i + 1
			buf = strconv.AppendInt(buf, int64(aid), 10)
			buf = append(buf, '\t')
			buf = strconv.AppendInt(buf, int64(i/100_000+1), 10)
			return append(buf, "\t0\t\n"...)
		},
		route: func(i int) int { return p.shardOf(int64(i + 1)) },
	})
	if err != nil {
		return fmt.Errorf("copy pgbench_accounts into the shards: %w", err)
	}
	for _, sql := range pgbenchKeys {
		if err := exec(sql); err != nil {
			return err
		}
	}
	// Every account must be found where the router looks for it.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		aid := rng.IntN(accounts) + 1
		var n int
		if err := conn.QueryRow(ctx, "select count(*) from pgbench_accounts where aid = $1", aid).Scan(&n); err != nil {
			return fmt.Errorf("check the split: %w", err)
		}
		if n != 1 {
			return fmt.Errorf("check the split: account %d found %d times through the router", aid, n)
		}
	}
	h.res.note("pgbench data, scale %d: tables created through the router; %d branches and %d tellers inserted through the router (reference tables: a copy on each of %d clusters); %d accounts copied straight into the shards split by the router's hash (%s rows); loaded in %.1fs",
		scale, scale, 10*scale, len(s.primaries), accounts, joinInts(counts), time.Since(began).Seconds())
	return nil
}

// valuesInsert builds one INSERT ... VALUES with n rows.
func valuesInsert(into string, n int, row func(*strings.Builder, int)) string {
	var b strings.Builder
	b.WriteString("insert into " + into + " values ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		row(&b, i)
	}
	return b.String()
}

func joinInts(v []int64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, strconv.FormatInt(x, 10))
	}
	return strings.Join(parts, " / ")
}

// createDatabase (re)creates a database on a server of the stack.
func createDatabase(ctx context.Context, server endpoint, name string) (endpoint, error) {
	conn, err := pgx.Connect(ctx, server.url())
	if err != nil {
		return endpoint{}, err
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"drop database if exists " + name, "create database " + name} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return endpoint{}, fmt.Errorf("%s on %s: %w", sql, server.Name, err)
		}
	}
	return server.in(name), nil
}

// initDirect creates database bench_direct on the first shard primary and
// loads it with `pgbench -i` at the same scale: the one-PostgreSQL baseline
// that the direct and PgBouncer targets run against (see bench/README.md).
func (h *harness) initDirect(ctx context.Context, primary endpoint) (endpoint, error) {
	direct, err := createDatabase(ctx, primary, "bench_direct")
	if err != nil {
		return direct, err
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, h.pg.Path("pgbench"), "-i", "-q", "-s", strconv.Itoa(h.cfg.Scale), direct.conninfo())
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return direct, fmt.Errorf("pgbench -i on %s: %w\n%s", direct.Name, err, out)
	}
	h.res.note("Baseline: database bench_direct on %s's primary, loaded by pgbench -i -s %d in %.1fs; the direct and PgBouncer targets run against it",
		primary.Name, h.cfg.Scale, time.Since(began).Seconds())
	return direct, nil
}
