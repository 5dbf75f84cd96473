package replication

import "errors"

// ErrNoEligibleNode means that no node may serve a read: no replica
// qualifies for its consistency level (after waiting, for ReadYourWrites)
// and the primary is not allowed to serve it (Requirement.AllowPrimary is
// false), or the cluster has no primary. The wrapping error names the
// cluster, the level and the reason.
var ErrNoEligibleNode = errors.New("no node may serve the read")

// ErrUnknownCluster means that the cluster is not among the Tracker's
// nodes (SetNodes has not named it).
var ErrUnknownCluster = errors.New("unknown cluster")

// ErrNotRunning means that Tracker.Run is not running, so PrimaryLSN has
// no one to ask.
var ErrNotRunning = errors.New("replication tracker is not running")
