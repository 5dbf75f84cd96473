package breaker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// probes answers probes from a script and logs the changes it sees.
type recorder struct {
	mu      sync.Mutex
	probeOK bool
	probes  int
	changes []string
}

func (r *recorder) probe(context.Context, string, string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes++
	if r.probeOK {
		return nil
	}
	return errors.New("connection refused")
}

func (r *recorder) onChange(cluster, url string, from, to State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, fmt.Sprintf("%s %s: %s->%s", cluster, url, from, to))
}

func newTestSet(t *testing.T) (*Set, *clock, *recorder) {
	t.Helper()
	c := &clock{now: time.Unix(1000, 0)}
	r := &recorder{}
	s := New(Options{Threshold: 3, Cooldown: 5 * time.Second, Probe: r.probe, OnChange: r.onChange,
		Now: c.Now, Name: func(u string) string { return u }})
	return s, c, r
}

// The story of one server: failures below the threshold leave it closed
// (a success in between starts the count again); the third in a row
// opens it and connections fail fast; a probe before the cool-down is not
// made; a failed probe reopens it; a successful one closes it.
func TestBreakerOpensProbesAndCloses(t *testing.T) {
	s, clk, rec := newTestSet(t)
	ctx := context.Background()
	boom := errors.New("connection refused")
	s.Failure("s1", "a", boom)
	s.Failure("s1", "a", boom)
	s.Success("s1", "a")
	s.Failure("s1", "a", boom)
	s.Failure("s1", "a", boom)
	if err := s.Allow("a"); err != nil {
		t.Fatalf("allowed after 2 failures in a row: %v", err)
	}
	s.Failure("s1", "a", boom)
	err := s.Allow("a")
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("after 3 failures in a row Allow = %v, want ErrOpen", err)
	}
	if !strings.Contains(err.Error(), "after 3 failures in a row (last: connection refused); next probe in 5s") {
		t.Errorf("error text: %v", err)
	}
	if s.Allow("b") != nil || s.State("b") != Closed {
		t.Errorf("another server's breaker is not closed")
	}

	clk.advance(4 * time.Second)
	s.ProbeDue(ctx)
	s.Wait()
	if rec.probes != 0 {
		t.Fatalf("probed %d times before the cool-down", rec.probes)
	}
	clk.advance(time.Second)
	s.ProbeDue(ctx)
	s.Wait()
	if rec.probes != 1 || s.State("a") != Open {
		t.Fatalf("after a failed probe: %d probes, state %s; want 1, open", rec.probes, s.State("a"))
	}
	rec.probeOK = true
	clk.advance(5 * time.Second)
	s.ProbeDue(ctx)
	s.Wait()
	if s.State("a") != Closed || s.Allow("a") != nil {
		t.Fatalf("after a good probe: state %s", s.State("a"))
	}
	want := []string{"s1 a: closed->open", "s1 a: open->half-open", "s1 a: half-open->open",
		"s1 a: open->half-open", "s1 a: half-open->closed"}
	if fmt.Sprint(rec.changes) != fmt.Sprint(want) {
		t.Errorf("changes\n got %v\nwant %v", rec.changes, want)
	}
	st := s.Status()
	if len(st) != 1 || st[0].Opens != 2 || st[0].Failures != 0 || st[0].Cluster != "s1" {
		t.Errorf("status %+v", st)
	}
}

// A successful connection closes an open breaker without waiting for the
// probe.
func TestBreakerSuccessClosesOpenBreaker(t *testing.T) {
	s, _, rec := newTestSet(t)
	for range 3 {
		s.Failure("s0", "a", errors.New("reset"))
	}
	s.Success("s0", "a")
	if s.State("a") != Closed {
		t.Fatalf("state %s after a success", s.State("a"))
	}
	if len(rec.changes) != 2 || rec.changes[1] != "s0 a: open->closed" {
		t.Errorf("changes %v", rec.changes)
	}
}
