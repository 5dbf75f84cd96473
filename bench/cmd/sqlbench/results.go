package main

import (
	"fmt"
	"sync"
	"time"
)

// results is everything one harness run found; it becomes the Markdown
// report, the chart and a JSON file.
type results struct {
	mu sync.Mutex

	Started  time.Time     `json:"started"`
	Elapsed  float64       `json:"elapsed_seconds"`
	Env      environment   `json:"environment"`
	Settings settingsEcho  `json:"settings"`
	Notes    []string      `json:"notes"`
	Problems []problem     `json:"problems"`
	Runs     []runResult   `json:"pgbench_runs"`
	Summary  []summaryRow  `json:"pgbench_summary"`
	RefCheck *refCheck     `json:"reference_check,omitempty"`
	Fanout   []fanoutRow   `json:"fanout,omitempty"`
	Bulk     []bulkRow     `json:"bulk,omitempty"`
	Idle     []idleRow     `json:"idle,omitempty"`
	Failure  string        `json:"failure,omitempty"`
	Chart    string        `json:"chart,omitempty"`
	Targets  []targetCheck `json:"targets"`
}

// environment describes the machine and the software measured.
type environment struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemoryMiB  int64  `json:"memory_mib"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	PostgreSQL string `json:"postgresql"`
	PgBouncer  string `json:"pgbouncer"`
	Commit     string `json:"commit"`
}

// settingsEcho is the configuration the numbers were taken with.
type settingsEcho struct {
	Quick      bool    `json:"quick"`
	Duration   float64 `json:"duration_seconds"`
	Reps       int     `json:"reps"`
	Scale      int     `json:"scale"`
	Clients    int     `json:"clients"`
	Threads    int     `json:"threads"`
	Replicas   int     `json:"replicas"`
	IdleConns  int     `json:"idle_conns"`
	FanoutRows int     `json:"fanout_rows"`
	CopyRows   int     `json:"copy_rows"`
	InsertRows int     `json:"insert_rows"`
}

// problem is something that did not work through the router (or at all):
// what was tried and the error that came back.
type problem struct {
	What  string `json:"what"`
	Error string `json:"error"`
}

func (r *results) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *results) unsupported(what, err string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Problems = append(r.Problems, problem{What: what, Error: err})
}
