package replication

import (
	"context"
	"testing"
)

// cachedTracker has one cluster of a primary and three replicas, all
// checked at 0/5000, without Run: the state a busy router is in between
// polls.
func cachedTracker(policy Policy) *Tracker {
	tr := NewTracker(Options{Policy: policy, Logger: discardLogger()})
	nodes := []Node{
		{Cluster: "s0", URL: "postgres://p0/app", Primary: true},
		{Cluster: "s0", URL: "postgres://r1/app", Weight: 1},
		{Cluster: "s0", URL: "postgres://r2/app", Weight: 2},
		{Cluster: "s0", URL: "postgres://r3/app", Weight: 3},
	}
	tr.SetNodes(nodes)
	for _, n := range nodes {
		st := tr.top.Load().byURL[n.URL]
		tr.record(st, st.beginCheck(), observation{lsn: 0x5000, receiveLSN: 0x5000, inRecovery: !n.Primary, replayAge: -1}, nil)
	}
	return tr
}

// BenchmarkChooseCached is the hot path: a read-your-writes read whose
// position the cached replay positions already satisfy. It must make no
// query and allocate nothing.
func BenchmarkChooseCached(b *testing.B) {
	for _, policy := range []Policy{RoundRobin, LeastConnections, Weighted} {
		b.Run(policy.String(), func(b *testing.B) {
			tr := cachedTracker(policy)
			ctx := context.Background()
			req := Requirement{Level: ReadYourWrites, MinLSN: 0x4000, AllowPrimary: true}
			b.ReportAllocs()
			for b.Loop() {
				ch, err := tr.Choose(ctx, "s0", req)
				if err != nil || ch.Node.Primary {
					b.Fatalf("Choose = %+v, %v", ch, err)
				}
			}
		})
	}
}

// BenchmarkChooseCachedParallel is the hot path from many sessions at once.
func BenchmarkChooseCachedParallel(b *testing.B) {
	tr := cachedTracker(RoundRobin)
	req := Requirement{Level: ReadYourWrites, MinLSN: 0x4000, AllowPrimary: true}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := tr.Choose(ctx, "s0", req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestChooseCachedDoesNotAllocate(t *testing.T) {
	for _, policy := range []Policy{RoundRobin, LeastConnections, Weighted} {
		tr := cachedTracker(policy)
		req := Requirement{Level: ReadYourWrites, MinLSN: 0x4000}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := tr.Choose(context.Background(), "s0", req); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Choose allocates %.1f times per cached read", policy, allocs)
		}
	}
}
