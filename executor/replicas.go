package executor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/replication"
)

// Replicas chooses the node a read goes to (a *replication.Tracker).
type Replicas interface {
	Choose(ctx context.Context, cluster string, req replication.Requirement) (replication.Choice, error)
	Acquire(url string) (release func())
	MarkFailed(url string, err error)
	// InFlight is the node's count of reads in flight (for the
	// least-connections policy), nil for an unknown node.
	InFlight(url string) *atomic.Int64
}

// ReadDefaults are the router's defaults for reads; sessions may change
// them with SET sqlrouter.read_consistency, sqlrouter.max_replica_lag and
// sqlrouter.ryw_wait.
type ReadDefaults struct {
	// Level is the default consistency level (the zero value is ryw).
	Level replication.Level
	// MaxLag bounds replica lag at the bounded level.
	MaxLag time.Duration
	// Wait is how long a ryw read waits for a replica to catch up (0 = 50
	// ms).
	Wait time.Duration
	// PrimaryForbidden makes a read fail when no replica qualifies,
	// instead of going to the primary.
	PrimaryForbidden bool
}

// readSettings are a session's read settings, nil meaning the default.
type readSettings struct {
	level      *replication.Level
	localLevel *replication.Level // SET LOCAL: until the end of the transaction
	maxLag     *time.Duration
	wait       *time.Duration
	// join and localJoin force a join strategy (sqlrouter.join_strategy).
	join, localJoin string
}

// level is the consistency a statement reads at: its comment hint, else
// the transaction's, the session's, the router's.
func (s *Session) level(hint string) replication.Level {
	if hint != "" {
		if l, err := replication.ParseLevel(hint); err == nil {
			return l
		}
	}
	switch {
	case s.reads.localLevel != nil:
		return *s.reads.localLevel
	case s.reads.level != nil:
		return *s.reads.level
	}
	return s.cfg.Reads.Level
}

// mayReadReplica reports whether a read of this session, now, may go to a
// replica. Inside a transaction that may write, every statement goes to
// the primaries: a read before a write in the same transaction must see
// the rows the write will change.
func (s *Session) mayReadReplica(readOnly bool) bool {
	if !readOnly || s.cfg.Replicas == nil || s.tempObjects {
		return false
	}
	if s.state != txIdle {
		return s.readOnlyTxn
	}
	return !s.batchWrites
}

// readConn returns the conn a read of cluster runs on: a replica chosen by
// the consistency level, or the primary. The choice is recorded for SHOW
// sqlrouter.last_route.
func (s *Session) readConn(ctx context.Context, cluster string, readOnly bool, hint string) (*conn, error) {
	c, err := s.chooseReadConn(ctx, cluster, readOnly, hint)
	if err != nil {
		return nil, err
	}
	s.routed(c)
	if readOnly {
		s.countRead(c)
	}
	return c, nil
}

func (s *Session) chooseReadConn(ctx context.Context, cluster string, readOnly bool, hint string) (*conn, error) {
	if !s.mayReadReplica(readOnly) {
		return s.routeConn(ctx, cluster)
	}
	if c := s.txnConns[cluster]; c != nil {
		// A read-only transaction reads each cluster from one node, in one
		// snapshot.
		if err := s.readyConn(ctx, c); err != nil {
			return nil, err
		}
		return c, nil
	}
	level := s.level(hint)
	req := replication.Requirement{
		Level:        level,
		MinLSN:       s.token.Position(cluster),
		MaxLag:       s.cfg.Reads.MaxLag,
		Wait:         s.cfg.Reads.Wait,
		AllowPrimary: !s.cfg.Reads.PrimaryForbidden,
	}
	if s.reads.maxLag != nil {
		req.MaxLag = *s.reads.maxLag
	}
	if s.reads.wait != nil {
		req.Wait = *s.reads.wait
		if req.Wait == 0 {
			req.Wait = -1
		}
	}
	if s.token.Revision > s.snap.Revision && req.Level == replication.ReadYourWrites && s.token.Position(cluster) > 0 {
		// The token comes from a newer shard map than ours: its positions
		// may name another primary. Read where the writes are.
		req.Level = replication.Strong
	}
	var lastErr error
	for range 3 {
		choice, err := s.cfg.Replicas.Choose(ctx, cluster, req)
		if err != nil {
			if errors.Is(err, replication.ErrNoEligibleNode) {
				return nil, pgerror.New(pgerror.CannotConnectNow, "no node of cluster %s can serve a %s read now: %s", cluster, level, reason(err)).
					WithHint("Reads from the primary are forbidden by replication.primary_reads; choose another sqlrouter.read_consistency or wait for the replicas.")
			}
			if errors.Is(err, replication.ErrUnknownCluster) || errors.Is(err, replication.ErrNotRunning) {
				break // the tracker does not know it yet: the primary answers
			}
			return nil, err
		}
		if choice.Node.Primary {
			break
		}
		c, err := s.replicaConn(ctx, choice.Node)
		if err != nil {
			s.cfg.Replicas.MarkFailed(choice.Node.URL, err)
			lastErr = err
			continue
		}
		if err := s.readyConn(ctx, c); err != nil {
			return nil, err
		}
		return c, nil
	}
	if s.cfg.Reads.PrimaryForbidden && lastErr != nil {
		return nil, connectError(cluster, lastErr)
	}
	return s.routeConn(ctx, cluster)
}

// reason is the tracker's explanation in an ErrNoEligibleNode error.
func reason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// readyConn drains another conn's pipeline and replays the settings, as
// routeConn does for primaries.
func (s *Session) readyConn(ctx context.Context, c *conn) error {
	if s.pipe.busy != nil && s.pipe.busy != c {
		if err := s.drain(ctx); err != nil {
			return err
		}
		if s.pipe.failed {
			return errSkipped
		}
	}
	if !c.participant {
		s.syncSettings(c)
	}
	return nil
}

// replicaConn returns the session's conn to a replica, connecting when
// needed. An open connection counts for the least-connections policy.
func (s *Session) replicaConn(ctx context.Context, n replication.Node) (*conn, error) {
	c := s.replicas[n.URL]
	if c != nil && c.Broken() {
		c.Close()
		delete(s.replicas, n.URL)
		s.publishConns()
		c = nil
	}
	if c != nil {
		return c, nil
	}
	c, err := s.lease(ctx, n.Cluster, n.URL)
	if err != nil {
		return nil, err
	}
	c.replica = true
	if n := s.cfg.Replicas.InFlight(n.URL); n != nil {
		n.Add(1)
		c.untrack = n
	}
	s.replicas[n.URL] = c
	s.publishConns()
	return c, nil
}

// routed records a node that served (part of) the current statement.
func (s *Session) routed(c *conn) {
	entry := routeName(c.cluster, c.replica, c.url)
	for _, e := range s.route {
		if e == entry {
			return
		}
	}
	s.route = append(s.route, entry)
	s.countNode(c)
}

// routeNames caches the SHOW sqlrouter.last_route text of each node.
var routeNames sync.Map // routeKey -> string

type routeKey struct {
	cluster, url string
	replica      bool
}

// routeName is cluster:role:host:port.
func routeName(cluster string, replica bool, nodeURL string) string {
	k := routeKey{cluster, nodeURL, replica}
	if v, ok := routeNames.Load(k); ok {
		return v.(string)
	}
	role := "primary"
	if replica {
		role = "replica"
	}
	host := nodeURL
	if u, err := url.Parse(nodeURL); err == nil {
		host = u.Host
	}
	name := fmt.Sprintf("%s:%s:%s", cluster, role, host)
	routeNames.Store(k, name)
	return name
}

// newStatement starts the record of where a statement runs.
func (s *Session) newStatement() {
	if len(s.route) > 0 {
		s.lastRoute = append(s.lastRoute[:0], s.route...)
		s.lastRowsShipped = s.rowsShipped
	}
	s.route = s.route[:0]
	s.rowsShipped = 0
}

// hasReplicas reports whether a cluster of the map has replicas (only
// then is a read-your-writes position worth keeping).
func (s *Session) hasReplicas(cluster string) bool {
	cl, ok := s.snap.Map.Clusters[cluster]
	return ok && len(cl.Replicas) > 0 && s.cfg.Replicas != nil
}

// lsnSink reads the answer to SELECT pg_current_wal_insert_lsn().
type lsnSink struct {
	s       *Session
	cluster string
}

func (k lsnSink) message(typ byte, body []byte) {
	if typ != 'D' {
		return
	}
	var dr pgproto3.DataRow
	if err := dr.Decode(body); err != nil || len(dr.Values) != 1 {
		return
	}
	if lsn, err := replication.ParseLSN(string(dr.Values[0])); err == nil {
		k.s.advance(k.cluster, lsn)
	}
}

// positionQuery reads the WAL position a write's commit reached: the
// insert position is at or past the commit record, so a replica that has
// replayed it has the write.
const positionQuery = "SELECT pg_current_wal_insert_lsn()"

// queuePosition queues, after a write that commits on its own, the query
// of the primary's position, pipelined (no extra round trip).
func (s *Session) queuePosition(c *conn) {
	if c.replica || !s.hasReplicas(c.cluster) {
		return
	}
	c.SendQuery(positionQuery)
	c.unnamed = ""
	s.push(s.newEntry(entry{kind: expQuery, conn: c, sink: lsnSink{s, c.cluster}}))
}

// fetchPositions asks the primaries a transaction wrote on for their
// position after its commit.
func (s *Session) fetchPositions(ctx context.Context, conns []*conn) {
	for _, c := range conns {
		if c.replica || !s.hasReplicas(c.cluster) || c.Broken() {
			continue
		}
		rows, err := c.queryText(ctx, positionQuery)
		if err != nil || len(rows) != 1 {
			continue
		}
		if lsn, err := replication.ParseLSN(rows[0][0]); err == nil {
			s.advance(c.cluster, lsn)
		}
	}
}

// advance moves the session's read-your-writes position for a cluster.
func (s *Session) advance(cluster string, lsn replication.LSN) {
	if lsn <= s.token.Position(cluster) {
		return
	}
	s.token = s.token.Advance(cluster, lsn)
	if s.snap.Revision > s.token.Revision {
		s.token.Revision = s.snap.Revision
	}
	s.tokenChanged = true
}

// reportToken tells the client its new read-your-writes token after a
// writing commit.
func (s *Session) reportToken() {
	if !s.tokenChanged {
		return
	}
	s.tokenChanged = false
	s.client.Send(&pgproto3.ParameterStatus{Name: "sqlrouter.ryw_token", Value: s.token.Encode()})
}

// setReadSetting applies a router read setting (SET, SET LOCAL, RESET or
// a startup option).
func (s *Session) setReadSetting(name, value string, local, reset bool) error {
	switch name {
	case "sqlrouter.read_consistency":
		if reset {
			s.reads.level = nil
			return nil
		}
		l, err := replication.ParseLevel(value)
		if err != nil {
			return pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"%s\": \"%s\"", name, value).WithHint("Available values: strong, ryw, bounded, eventual.")
		}
		if local {
			s.reads.localLevel = &l
		} else {
			s.reads.level = &l
		}
	case "sqlrouter.max_replica_lag", "sqlrouter.ryw_wait":
		var d time.Duration
		if !reset {
			var err error
			if d, err = parseDuration(value); err != nil {
				return pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"%s\": \"%s\"", name, value)
			}
		}
		target := &s.reads.maxLag
		if name == "sqlrouter.ryw_wait" {
			target = &s.reads.wait
		}
		if reset {
			*target = nil
		} else {
			*target = &d
		}
	case "sqlrouter.join_strategy":
		return s.setJoinStrategy(name, value, local, reset)
	case "sqlrouter.ryw_token":
		if reset {
			s.token = replication.Token{}
			return nil
		}
		t, err := replication.DecodeToken(value)
		if err != nil {
			return pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"%s\": %v", name, err)
		}
		s.token = s.token.Merge(t)
	default:
		return pgerror.New(pgerror.UndefinedObject, "unrecognized configuration parameter \"%s\"", name)
	}
	return nil
}

// parseDuration reads a duration as PostgreSQL settings are written: a
// number of milliseconds, or a number with a unit (ms, s, min).
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(strings.ReplaceAll(v, " ", "")); err == nil && d >= 0 {
		return d, nil
	}
	var n float64
	var unit string
	if _, err := fmt.Sscanf(v, "%g%s", &n, &unit); err != nil {
		if _, err := fmt.Sscanf(v, "%g", &n); err != nil || n < 0 {
			return 0, fmt.Errorf("not a duration")
		}
		return time.Duration(n * float64(time.Millisecond)), nil
	}
	switch strings.ToLower(unit) {
	case "ms":
		return time.Duration(n * float64(time.Millisecond)), nil
	case "s":
		return time.Duration(n * float64(time.Second)), nil
	case "min":
		return time.Duration(n * float64(time.Minute)), nil
	}
	return 0, fmt.Errorf("unknown unit")
}

// ApplyStartupSetting applies a router setting given at connection time
// (options=-c sqlrouter.ryw_token=...).
func (s *Session) ApplyStartupSetting(name, value string) error {
	return s.setReadSetting(strings.ToLower(name), value, false, false)
}
