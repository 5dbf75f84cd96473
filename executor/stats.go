package executor

import (
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/metrics"
)

// Stats counts what the router sends to each cluster and each server.
// Safe for concurrent use; its zero value is ready.
type Stats struct {
	clusters sync.Map // name -> *ClusterCounters
	nodes    sync.Map // URL -> *NodeCounters
	// rowsShipped counts rows the router read from one node and sent to
	// another (a cluster, or the coordinator), once per destination.
	rowsShipped atomic.Int64
}

// RowsShipped returns how many rows the router has sent from one node to
// another: gathered into the coordinator, partial aggregates combined
// there, rows shipped to clusters by a broadcast or repartition join (a
// row sent to several nodes counts once for each). Rows merged for the
// client do not count.
func (st *Stats) RowsShipped() int64 {
	if st == nil {
		return 0
	}
	return st.rowsShipped.Load()
}

// ClusterCounters are one cluster's counters.
type ClusterCounters struct {
	// Statements counts client statements (or parts of them) run there.
	Statements atomic.Int64
	// ReplicaReads and PrimaryReads count reads a replica could have
	// served, by the node that did.
	ReplicaReads, PrimaryReads atomic.Int64
	// RowsMoved counts rows the router read from the cluster to merge
	// them with other clusters' rows or to gather them at the coordinator.
	RowsMoved atomic.Int64
}

// ClusterStats is a snapshot of one cluster's counters.
type ClusterStats struct {
	Cluster      string
	Statements   int64
	ReplicaReads int64
	PrimaryReads int64
	RowsMoved    int64
}

// Node roles, as NodeCounters and the admin views name them.
const (
	RolePrimary     = "primary"
	RoleReplica     = "replica"
	RoleCoordinator = "coordinator"
)

// NodeCounters are one server's counters. They are the backend.Observer
// of every connection to the server.
type NodeCounters struct {
	// Cluster, Node (host:port, never credentials) and URL identify the
	// server.
	Cluster, Node, URL string
	role               atomic.Pointer[string]
	// Statements counts client statements (or parts of them) it served.
	Statements atomic.Int64
	// Requests times round trips (a Query or a Sync to its ReadyForQuery).
	Requests metrics.Histogram
	// Errors counts the ErrorResponses it sent, by SQLSTATE.
	Errors metrics.CodeCounts
}

// Role is primary, replica or coordinator.
func (n *NodeCounters) Role() string {
	if r := n.role.Load(); r != nil {
		return *r
	}
	return RolePrimary
}

// RoundTrip implements backend.Observer.
func (n *NodeCounters) RoundTrip(d time.Duration) { n.Requests.Observe(d) }

// ServerError implements backend.Observer.
func (n *NodeCounters) ServerError(code string) { n.Errors.Add(code) }

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

// Node returns the counters of the server at url, of cluster, in role,
// creating them on first use (a later role replaces the earlier one: a
// promoted replica).
func (st *Stats) Node(cluster, url, role string) *NodeCounters {
	if st == nil {
		return nil
	}
	n, ok := st.nodes.Load(url)
	if !ok {
		n, _ = st.nodes.LoadOrStore(url, &NodeCounters{Cluster: cluster, Node: NodeName(url), URL: url})
	}
	nc := n.(*NodeCounters)
	if r := nc.role.Load(); r == nil || *r != role {
		nc.role.Store(&role)
	}
	return nc
}

// Nodes returns the counters of every server used so far, by cluster and
// node.
func (st *Stats) Nodes() []*NodeCounters {
	var out []*NodeCounters
	st.nodes.Range(func(_, v any) bool {
		out = append(out, v.(*NodeCounters))
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Node < out[j].Node
	})
	return out
}

// NodeName is the host:port of a server URL or connection string, without
// user or password (for logs, metrics labels and admin views).
func NodeName(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "?"
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// Snapshot returns every cluster's counters, sorted by cluster.
func (st *Stats) Snapshot() []ClusterStats {
	var out []ClusterStats
	st.clusters.Range(func(k, v any) bool {
		c := v.(*ClusterCounters)
		out = append(out, ClusterStats{Cluster: k.(string), Statements: c.Statements.Load(),
			ReplicaReads: c.ReplicaReads.Load(), PrimaryReads: c.PrimaryReads.Load(), RowsMoved: c.RowsMoved.Load()})
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

// countNode counts a statement a node serves.
func (s *Session) countNode(c *conn) {
	if s.cfg.Stats == nil {
		return
	}
	role := RolePrimary
	switch {
	case c.replica:
		role = RoleReplica
	case c.cluster == coordinatorName:
		role = RoleCoordinator
	}
	s.cfg.Stats.Node(c.cluster, c.url, role).Statements.Add(1)
}

// moved counts rows read from a cluster to be merged or gathered.
func (s *Session) moved(cluster string, rows int) {
	if c := s.cfg.Stats.cluster(cluster); c != nil && rows > 0 {
		c.RowsMoved.Add(int64(rows))
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

// countShipped counts rows the current statement sent from one node to
// another.
func (s *Session) countShipped(n int64) {
	s.rowsShipped += n
	if s.cfg.Stats != nil {
		s.cfg.Stats.rowsShipped.Add(n)
	}
}
