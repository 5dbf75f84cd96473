package router

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sqlrouter/sqlrouter/breaker"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/replication"
)

// The admin views SHOW answers (executor.Admin).
const (
	viewClusters = "sqlrouter.clusters"
	viewPools    = "sqlrouter.pools"
	viewShardMap = "sqlrouter.shardmap"
	viewStats    = "sqlrouter.stats"
)

// View implements executor.Admin.
func (r *Router) View(name string) (executor.View, bool) {
	switch name {
	case viewClusters:
		return r.clustersView(), true
	case viewPools:
		return r.poolsView(), true
	case viewShardMap:
		return r.shardMapView(), true
	case viewStats:
		return r.statsView(), true
	}
	return executor.View{}, false
}

// nodeState is one server of the shard map as the router sees it.
type nodeState struct {
	cluster, url, role string
	tracked            bool // the replica tracker knows it
	status             replication.NodeStatus
	breaker            breaker.NodeStatus
}

// state is up, down (failed its last checks) or unknown (not checked
// yet).
func (n nodeState) state() string {
	switch {
	case !n.tracked:
		return "unknown"
	case n.status.Healthy:
		return "up"
	case n.status.Failures > 0:
		return "down"
	}
	return "unknown"
}

// nodes lists every server of the current shard map, cluster by cluster
// (primary first), then the coordinator, with what the tracker and the
// breakers know of it.
func (r *Router) nodes() []nodeState {
	snap := r.store.Current()
	if snap == nil {
		return nil
	}
	tracked := map[string]replication.NodeStatus{}
	for _, st := range r.tracker.Status() {
		tracked[st.URL] = st
	}
	breakers := map[string]breaker.NodeStatus{}
	for _, b := range r.breakers.Status() {
		breakers[b.URL] = b
	}
	var out []nodeState
	add := func(cluster, url, role string) {
		st, ok := tracked[url]
		b, hasB := breakers[url]
		if !hasB {
			b = breaker.NodeStatus{Cluster: cluster, URL: url, State: breaker.Closed}
		}
		out = append(out, nodeState{cluster: cluster, url: url, role: role, tracked: ok, status: st, breaker: b})
	}
	for _, n := range replication.NodesOf(snap.Map) {
		role := executor.RoleReplica
		if n.Primary {
			role = executor.RolePrimary
		}
		add(n.Cluster, n.URL, role)
	}
	if snap.Map.Coordinator != "" {
		add(executor.RoleCoordinator, snap.Map.Coordinator, executor.RoleCoordinator)
	}
	return out
}

// clustersView is SHOW sqlrouter.clusters: every server, its health,
// replication lag and circuit breaker.
func (r *Router) clustersView() executor.View {
	v := executor.View{Columns: []string{"cluster", "node", "role", "state", "lag", "lsn", "breaker", "failures", "last_error"}}
	for _, n := range r.nodes() {
		lag, lsn, lastErr := "", "", ""
		if n.tracked {
			lsn = n.status.LSN.String()
			if n.role == executor.RoleReplica {
				lag = n.status.Lag.Round(time.Millisecond).String()
			}
			if n.status.LastError != nil {
				lastErr = n.status.LastError.Error()
			}
		}
		if n.breaker.LastError != nil && lastErr == "" {
			lastErr = n.breaker.LastError.Error()
		}
		failures := max(n.status.Failures, n.breaker.Failures)
		v.Rows = append(v.Rows, []string{n.cluster, executor.NodeName(n.url), n.role, n.state(), lag, lsn,
			n.breaker.State.String(), strconv.Itoa(failures), lastErr})
	}
	return v
}

// poolsView is SHOW sqlrouter.pools: the backend connections of every
// server.
func (r *Router) poolsView() executor.View {
	v := executor.View{Columns: []string{"cluster", "node", "role", "in_use", "idle", "waiting", "max"}}
	for _, p := range r.pools.PoolStats() {
		v.Rows = append(v.Rows, []string{p.Cluster, p.Node, p.Role, strconv.Itoa(p.InUse), strconv.Itoa(p.Idle),
			strconv.Itoa(p.Waiting), strconv.Itoa(p.Max)})
	}
	return v
}

// shardMapView is SHOW sqlrouter.shardmap: the revision in use and one
// row per table of the map.
func (r *Router) shardMapView() executor.View {
	v := executor.View{Columns: []string{"revision", "table", "placement", "distribution", "type", "key", "key_type", "clusters"}}
	snap := r.store.Current()
	if snap == nil {
		return v
	}
	rev := strconv.FormatInt(snap.Revision, 10)
	for _, name := range slices.Sorted(maps.Keys(snap.Map.Tables)) {
		t := snap.Map.Tables[name]
		row := []string{rev, name, "", "", "", t.Key, "", ""}
		switch {
		case t.Reference:
			row[2], row[7] = "reference", strings.Join(snap.Map.ClusterNames, ",")
		case len(t.Vertical) > 0:
			row[2] = "vertical"
		case t.Distribution != nil:
			row[2] = "distributed"
		}
		if d := t.Distribution; d != nil {
			row[3], row[4], row[6], row[7] = d.Name, string(d.Type), string(d.KeyType), strings.Join(d.Clusters(), ",")
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// statsView is SHOW sqlrouter.stats: the clients' requests, then per
// cluster what the router sent there.
func (r *Router) statsView() executor.View {
	v := executor.View{Columns: []string{"cluster", "statements", "primary_reads", "replica_reads", "rows_moved", "requests", "errors", "avg_request_ms"}}
	cs := r.clientStats
	req := cs.Requests.Snapshot()
	v.Rows = append(v.Rows, []string{"(clients)", "", "", "", "", u64(req.Count), u64(cs.Errors.Total()), ms(req.Mean())})
	type agg struct {
		requests, errors uint64
		sum              float64
	}
	byCluster := map[string]*agg{}
	for _, n := range r.stats.Nodes() {
		a := byCluster[n.Cluster]
		if a == nil {
			a = &agg{}
			byCluster[n.Cluster] = a
		}
		s := n.Requests.Snapshot()
		a.requests += s.Count
		a.sum += s.Sum
		a.errors += n.Errors.Total()
	}
	for _, c := range r.stats.Snapshot() {
		a := byCluster[c.Cluster]
		if a == nil {
			a = &agg{}
		}
		mean := time.Duration(0)
		if a.requests > 0 {
			mean = time.Duration(a.sum / float64(a.requests) * float64(time.Second))
		}
		v.Rows = append(v.Rows, []string{c.Cluster, i64(c.Statements), i64(c.PrimaryReads), i64(c.ReplicaReads), i64(c.RowsMoved),
			u64(a.requests), u64(a.errors), ms(mean)})
	}
	return v
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }
func i64(n int64) string  { return strconv.FormatInt(n, 10) }
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}
