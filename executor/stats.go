package executor

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Stats counts what the router sends to each cluster. Safe for concurrent
// use; its zero value is ready.
type Stats struct {
	clusters sync.Map // name -> *ClusterCounters
	// rowsMoved counts rows the router read from one node and sent to
	// another (a cluster, or the coordinator), once per destination.
	rowsMoved atomic.Int64
}

// RowsMoved returns how many rows the router has moved between nodes:
// gathered into the coordinator, partial aggregates combined there, rows
// shipped to clusters by a broadcast or repartition join (a row sent to
// several nodes counts once for each). Rows sent to clients do not count.
func (st *Stats) RowsMoved() int64 {
	if st == nil {
		return 0
	}
	return st.rowsMoved.Load()
}

// ClusterCounters are one cluster's counters.
type ClusterCounters struct {
	// Statements counts client statements (or parts of them) run there.
	Statements atomic.Int64
	// ReplicaReads and PrimaryReads count reads a replica could have
	// served, by the node that did.
	ReplicaReads, PrimaryReads atomic.Int64
}

// ClusterStats is a snapshot of one cluster's counters.
type ClusterStats struct {
	Cluster      string
	Statements   int64
	ReplicaReads int64
	PrimaryReads int64
}

func (st *Stats) cluster(name string) *ClusterCounters {
	if st == nil {
		return nil
	}
	if c, ok := st.clusters.Load(name); ok {
		return c.(*ClusterCounters)
	}
	c, _ := st.clusters.LoadOrStore(name, &ClusterCounters{})
	return c.(*ClusterCounters)
}

// Snapshot returns every cluster's counters, sorted by cluster.
func (st *Stats) Snapshot() []ClusterStats {
	var out []ClusterStats
	st.clusters.Range(func(k, v any) bool {
		c := v.(*ClusterCounters)
		out = append(out, ClusterStats{Cluster: k.(string), Statements: c.Statements.Load(),
			ReplicaReads: c.ReplicaReads.Load(), PrimaryReads: c.PrimaryReads.Load()})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}

// touched counts a statement sent to a cluster.
func (s *Session) touched(cluster string) {
	if c := s.cfg.Stats.cluster(cluster); c != nil {
		c.Statements.Add(1)
	}
}

// countRead counts a read-only statement by the kind of node serving it.
func (s *Session) countRead(c *conn) {
	counters := s.cfg.Stats.cluster(c.cluster)
	switch {
	case counters == nil:
	case c.replica:
		counters.ReplicaReads.Add(1)
	default:
		counters.PrimaryReads.Add(1)
	}
}

// moved counts rows the current statement moved between nodes.
func (s *Session) moved(n int64) {
	s.rowsMoved += n
	if s.cfg.Stats != nil {
		s.cfg.Stats.rowsMoved.Add(n)
	}
}
