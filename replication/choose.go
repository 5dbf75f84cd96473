package replication

import (
	"context"
	"fmt"
	"time"
)

// DefaultWait is how long a ReadYourWrites read waits for a replica to
// catch up when Requirement.Wait is 0.
const DefaultWait = 50 * time.Millisecond

// Requirement is what a read needs from the node that serves it.
type Requirement struct {
	// Level is the read's consistency level.
	Level Level
	// MinLSN is, for ReadYourWrites, the position the replica must have
	// replayed: the session's Token position for the cluster (0 means any
	// healthy replica will do).
	MinLSN LSN
	// MaxLag is, for Bounded, the largest lag a replica may have; 0 means
	// fully caught up with the primary as last seen.
	MaxLag time.Duration
	// Wait is, for ReadYourWrites, how long to wait for a replica to catch
	// up before falling back to the primary: 0 means DefaultWait, negative
	// means not at all.
	Wait time.Duration
	// AllowPrimary lets the primary serve the read when no replica
	// qualifies; without it such a read fails with ErrNoEligibleNode.
	AllowPrimary bool
}

// Choice is the node chosen for a read.
type Choice struct {
	// Node is the node that serves the read.
	Node Node
	// Fallback is true when the primary serves a non-Strong read because
	// no replica qualified.
	Fallback bool
	// Waited is how long Choose waited for a replica to catch up.
	Waited time.Duration
}

// Choose picks the node of cluster that serves a read with requirement
// req. Strong reads go to the primary. Otherwise the eligible replicas
// are the healthy ones of non-zero weight that satisfy the level (ryw:
// replayed at least MinLSN as last seen; bounded: lag at most MaxLag;
// eventual: any), and the Tracker's Policy picks one of them.
//
// When the cached positions already satisfy a ReadYourWrites read, Choose
// makes no query and does not allocate. When they do not, it asks the
// cluster's healthy replicas for their replay positions (at most one check
// in flight per node, shared by all waiting reads) until one qualifies or
// req.Wait has passed; then it returns the primary with Fallback set when
// req.AllowPrimary, else an error wrapping ErrNoEligibleNode. It waits
// only while Run runs, and never for a cluster without a healthy replica.
// An unknown cluster is an error wrapping ErrUnknownCluster; ctx ending
// during the wait returns ctx's error.
func (t *Tracker) Choose(ctx context.Context, cluster string, req Requirement) (Choice, error) {
	c := t.top.Load().clusters[cluster]
	if c == nil {
		return Choice{}, fmt.Errorf("replication: %w %q", ErrUnknownCluster, cluster)
	}
	if req.Level < ReadYourWrites || req.Level > Eventual {
		return Choice{}, fmt.Errorf("replication: invalid consistency level %s", req.Level)
	}
	if req.Level == Strong {
		if !c.hasPrimary {
			return Choice{}, t.noNode(c, req, 0)
		}
		return Choice{Node: c.primary.Node}, nil
	}
	var now int64
	if req.Level == Bounded {
		now = t.now().UnixNano()
	}
	if m, ok := t.pick(c, req, now); ok {
		return Choice{Node: m.Node}, nil
	}
	var waited time.Duration
	if req.Level == ReadYourWrites && req.Wait >= 0 && t.running.Load() && c.hasCandidate() {
		m, ok, w, err := t.waitForReplica(ctx, c, req)
		waited = w
		if err != nil {
			return Choice{Waited: waited}, err
		}
		if ok {
			return Choice{Node: m.Node, Waited: waited}, nil
		}
	}
	if req.AllowPrimary && c.hasPrimary {
		return Choice{Node: c.primary.Node, Fallback: true, Waited: waited}, nil
	}
	return Choice{Waited: waited}, t.noNode(c, req, waited)
}

// waitForReplica refreshes the replay positions of c's healthy replicas
// until one satisfies req or req.Wait passes. ok reports success.
func (t *Tracker) waitForReplica(ctx context.Context, c *clusterState, req Requirement) (m member, ok bool, waited time.Duration, err error) {
	wait := req.Wait
	if wait == 0 {
		wait = DefaultWait
	}
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		// Take the signal before looking, so that a check completing in
		// between is not missed.
		checked := c.shared.checkedSignal()
		if m, ok := t.pick(c, req, 0); ok {
			return m, true, time.Since(start), nil
		}
		asked := false
		for _, r := range c.replicas {
			if r.Weight > 0 && r.st.usable() {
				r.st.requestCheck()
				asked = true
			}
		}
		if !asked {
			return member{}, false, time.Since(start), nil
		}
		select {
		case <-checked:
		case <-timer.C:
			return member{}, false, time.Since(start), nil
		case <-t.runDone:
			return member{}, false, time.Since(start), nil
		case <-ctx.Done():
			return member{}, false, time.Since(start), fmt.Errorf("replication: waiting for a replica of %s to replay %s: %w", c.shared.name, req.MinLSN, ctx.Err())
		}
	}
}

// hasCandidate reports whether some replica could qualify by catching up.
func (c *clusterState) hasCandidate() bool {
	for _, r := range c.replicas {
		if r.Weight > 0 && r.st.usable() {
			return true
		}
	}
	return false
}

// eligible reports whether replica r may serve a read needing req; now
// (Unix nanoseconds) is only used for Bounded.
func eligible(r *member, req Requirement, now int64) bool {
	if r.Weight <= 0 || !r.st.usable() {
		return false
	}
	switch req.Level {
	case ReadYourWrites:
		return LSN(r.st.lsn.Load()) >= req.MinLSN
	case Bounded:
		since := r.st.staleSince.Load()
		return since == 0 || now-since <= int64(req.MaxLag)
	case Eventual:
		return true
	}
	return false
}

// noNode builds the ErrNoEligibleNode error, saying why no replica
// qualified.
func (t *Tracker) noNode(c *clusterState, req Requirement, waited time.Duration) error {
	name := c.shared.name
	if req.Level == Strong || (req.AllowPrimary && !c.hasPrimary) {
		return fmt.Errorf("replication: %w: cluster %s has no primary (level %s)", ErrNoEligibleNode, name, req.Level)
	}
	var why string
	switch {
	case len(c.replicas) == 0:
		why = "it has no replicas"
	case !c.hasCandidate():
		why = "no replica is healthy and in rotation"
	case req.Level == ReadYourWrites:
		why = fmt.Sprintf("no replica has replayed %s (waited %s)", req.MinLSN, waited.Round(time.Millisecond))
	case req.Level == Bounded:
		why = fmt.Sprintf("no replica lags less than %s", req.MaxLag)
	default:
		why = "no replica qualifies"
	}
	return fmt.Errorf("replication: %w: cluster %s, level %s: %s, and the primary may not serve reads", ErrNoEligibleNode, name, req.Level, why)
}
