# sqlrouter's developer entry points; `make help` lists them.
#
# The benchmark harness is configured with BENCH_* variables, e.g.
#   BENCH_QUICK=1 make bench           # 3 s runs, smaller data: a smoke test
#   BENCH_DURATION=60 BENCH_REPS=5 make bench
# (bench/README.md lists them all), or with flags in BENCH_ARGS.

GO        ?= go
BENCH_BIN ?= bench/results/bin
BENCH_ARGS ?=
GO_BENCH_PKGS = ./planner ./shardmap ./backend

.PHONY: help test vet fmt-check bench bench-quick bench-go bench-go-full bench-profile

help:
	@echo "make test           the README's test command (starts real PostgreSQL servers)"
	@echo "make vet            go vet ./..."
	@echo "make fmt-check      fail if gofmt would change a file"
	@echo "make bench          the benchmark harness: pgbench direct / PgBouncer / sqlrouter, fan-out, bulk, idle"
	@echo "make bench-quick    the same in quick mode (BENCH_QUICK=1)"
	@echo "make bench-go       the Go benchmarks once each (-benchtime=1x), as CI runs them"
	@echo "make bench-go-full  the Go benchmarks with -benchmem at full length"
	@echo "make bench-profile  CPU and allocation profiles of the Go benchmarks into bench/results/"

test:
	$(GO) test -bench . -benchtime=1x ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The harness and the router are built first and run as binaries, so that
# Ctrl-C reaches the harness (which then stops everything it started) and
# the router's CPU time is its own.
bench:
	$(GO) build -o $(BENCH_BIN)/sqlbench ./bench/cmd/sqlbench
	$(GO) build -o $(BENCH_BIN)/sqlrouter ./cmd/sqlrouter
	$(BENCH_BIN)/sqlbench -sqlrouter $(BENCH_BIN)/sqlrouter -out bench/results $(BENCH_ARGS)

bench-quick:
	BENCH_QUICK=1 $(MAKE) bench

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime=1x $(GO_BENCH_PKGS)

bench-go-full:
	$(GO) test -run '^$$' -bench . -benchmem $(GO_BENCH_PKGS)

# One package at a time: go test writes one profile per run.
bench-profile:
	@mkdir -p bench/results/profiles
	@for p in planner shardmap backend; do \
		echo "== $$p"; \
		$(GO) test -run '^$$' -bench . -benchmem -o bench/results/profiles/$$p.test \
			-cpuprofile bench/results/profiles/$$p.cpu.pprof \
			-memprofile bench/results/profiles/$$p.mem.pprof ./$$p || exit 1; \
	done
	@echo "inspect with: go tool pprof -top bench/results/profiles/planner.test bench/results/profiles/planner.cpu.pprof"
