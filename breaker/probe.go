package breaker

import (
	"context"
	"time"
)

// Run probes the open breakers whose cool-down has passed until ctx is
// done, then waits for the probes in flight.
func (s *Set) Run(ctx context.Context) {
	tick := min(max(s.opts.Cooldown/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	defer s.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ProbeDue(ctx)
		}
	}
}

// ProbeDue starts the probe of every open breaker whose cool-down has
// passed, each on its own goroutine; Wait waits for them.
func (s *Set) ProbeDue(ctx context.Context) {
	if s.opts.Probe == nil {
		return
	}
	now := s.opts.Now()
	var due []*node
	s.mu.Lock()
	for _, n := range s.nodes {
		if n.state == Open && !now.Before(n.retryAt) {
			n.state = HalfOpen
			due = append(due, n)
		}
	}
	s.mu.Unlock()
	for _, n := range due {
		s.changed(n.cluster, n.url, Open, HalfOpen)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.probe(ctx, n.cluster, n.url)
		}()
	}
}

// Wait waits for the probes in flight.
func (s *Set) Wait() { s.wg.Wait() }

// probe runs one half-open probe and records its outcome.
func (s *Set) probe(ctx context.Context, cluster, url string) {
	pctx, cancel := context.WithTimeout(ctx, max(s.opts.Cooldown, time.Second))
	err := s.opts.Probe(pctx, cluster, url)
	cancel()
	if err == nil {
		s.Success(cluster, url)
		return
	}
	s.mu.Lock()
	n := s.nodes[url]
	reopened := n != nil && n.state == HalfOpen
	if reopened {
		n.lastErr = err
		s.open(n)
	}
	s.mu.Unlock()
	if reopened {
		s.opts.Logger.Debug("circuit breaker probe failed", "cluster", cluster, "node", s.opts.Name(url), "err", err)
		s.changed(cluster, url, HalfOpen, Open)
	}
}
