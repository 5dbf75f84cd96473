package replication

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Tracker knows the nodes of every cluster, their health, replay positions
// and lag, and chooses the node that serves each read. Its methods are safe
// for concurrent use. It polls nothing until Run is called.
type Tracker struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	// newProber makes the checker of one node; tests replace it.
	newProber func(Node) prober

	mu      sync.Mutex // serialises SetNodes
	top     atomic.Pointer[topology]
	changed chan struct{} // capacity 1: SetNodes tells Run to reconcile

	runOnce sync.Once
	running atomic.Bool
	runDone chan struct{} // closed when Run returns
}

// NewTracker makes a Tracker without nodes; give it nodes with SetNodes and
// start polling with Run.
func NewTracker(opts Options) *Tracker {
	opts = opts.withDefaults()
	t := &Tracker{
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Now,
		changed: make(chan struct{}, 1),
		runDone: make(chan struct{}),
	}
	t.newProber = func(n Node) prober { return &pgProber{connect: opts.Connect, node: n} }
	t.top.Store(&topology{clusters: map[string]*clusterState{}, byURL: map[string]*nodeState{}})
	return t
}

// topology is one immutable set of nodes, replaced whole by SetNodes.
type topology struct {
	clusters map[string]*clusterState
	byURL    map[string]*nodeState
	members  []member // every node, in SetNodes order
}

// clusterState is one cluster of a topology.
type clusterState struct {
	shared     *clusterShared
	primary    member
	hasPrimary bool
	replicas   []member
}

// member is a node of a topology with its (longer-lived) state.
type member struct {
	Node
	st *nodeState
}

// SetNodes replaces the whole set of nodes, typically with NodesOf of a new
// shard map. Nodes that stay (same cluster, URL and role) keep their
// state: health, positions, in-flight counts. A cluster's first primary
// wins over later ones, and a URL listed twice in a cluster keeps its
// first entry. Run starts checking new nodes at once and stops checking
// removed ones.
func (t *Tracker) SetNodes(nodes []Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.top.Load()
	oldStates := make(map[nodeKey]*nodeState, len(old.members))
	for _, m := range old.members {
		oldStates[m.st.key] = m.st
	}
	top := &topology{
		clusters: map[string]*clusterState{},
		byURL:    map[string]*nodeState{},
		members:  make([]member, 0, len(nodes)),
	}
	seen := map[nodeKey]bool{}
	for _, n := range nodes {
		key := nodeKey{cluster: n.Cluster, url: n.URL, primary: n.Primary}
		c := top.clusters[n.Cluster]
		if c == nil {
			shared := newClusterShared(n.Cluster)
			if oc := old.clusters[n.Cluster]; oc != nil {
				shared = oc.shared
			}
			c = &clusterState{shared: shared}
			top.clusters[n.Cluster] = c
		}
		if seen[key] || (n.Primary && c.hasPrimary) {
			continue
		}
		seen[key] = true
		st := oldStates[key]
		if st == nil {
			st = newNodeState(key, c.shared)
		}
		m := member{Node: n, st: st}
		if n.Primary {
			m.Weight = 0
			c.primary, c.hasPrimary = m, true
		} else {
			c.replicas = append(c.replicas, m)
		}
		top.members = append(top.members, m)
		if _, dup := top.byURL[n.URL]; !dup {
			top.byURL[n.URL] = st
		}
	}
	t.top.Store(top)
	select {
	case t.changed <- struct{}{}:
	default:
	}
}
