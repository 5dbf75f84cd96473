package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/breaker"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/idrange"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/pool"
	"github.com/sqlrouter/sqlrouter/proxy"
	"github.com/sqlrouter/sqlrouter/replication"
	"github.com/sqlrouter/sqlrouter/shardmap"
	"github.com/sqlrouter/sqlrouter/txn"
)

// Version is the router's version string.
var Version = "0.1.0-dev"

// Router is a running sqlrouter.
type Router struct {
	cfg    Config
	logger *slog.Logger
	etcd   *clientv3.Client
	store  *shardmap.Store
	server *proxy.Server
	ln     net.Listener
	// registration keeps this router's liveness key in etcd.
	registration *txn.Registration
	stats        *executor.Stats
	pool         *pool.Pool[*backend.Conn]
	clientStats  *proxy.ClientStats
	planner      *planner.Planner
	tracker      *replication.Tracker
	breakers     *breaker.Set
	pools        executor.PoolReporter
	// decisions is the two-phase commit decision log; it forgets
	// finished commits in the background.
	decisions *txn.EtcdLog

	metricsLn    net.Listener
	metricsSrv   *http.Server
	shuttingDown atomic.Bool

	stop func()
	wg   sync.WaitGroup
}

// Start connects to etcd, starts watching the shard map and listens for
// clients. It does not wait for a shard map: until one is loaded, clients
// are refused with 57P03 (see WaitReady).
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Router, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RouterID == "" {
		var b [4]byte
		rand.Read(b[:])
		cfg.RouterID = hex.EncodeToString(b[:])
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Etcd.Endpoints,
		DialTimeout: cfg.Etcd.DialTimeout,
		Logger:      zap.NewNop(),
		Context:     context.Background(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	store := shardmap.NewStore(cli, cfg.Etcd.Key, logger)
	stats := &executor.Stats{}
	var dial *dialer
	var tracker *replication.Tracker
	breakers := breaker.New(breaker.Options{
		Threshold: cfg.Breaker.Threshold,
		Cooldown:  cfg.Breaker.Cooldown,
		Probe:     func(ctx context.Context, cluster, url string) error { return dial.probe(ctx, cluster, url) },
		OnChange: func(_, url string, _, to breaker.State) {
			// Replica reads avoid a server whose breaker is not closed.
			tracker.Exclude(url, to != breaker.Closed)
		},
		Name:   executor.NodeName,
		Logger: logger,
	})
	dial = newDialer(cfg.Backend, breakers, stats, nodeRole(store), logger)
	conns := pool.New(dial.connect, executor.ResetConn, pool.Options{
		MaxPerNode:     cfg.Pool.MaxConnsPerNode,
		AcquireTimeout: cfg.Pool.AcquireTimeout,
		MaxWaiters:     cfg.Pool.MaxWaiting,
		IdleTimeout:    cfg.Pool.IdleTimeout,
		MaxLifetime:    cfg.Pool.MaxLifetime,
	})
	decisions := txn.NewEtcdLog(cli, cfg.RouterID, cfg.Txn.DecisionPrefix)
	registry := txn.NewRegistry(cli, cfg.Txn.RoutersPrefix, logger)
	coord := txn.NewCoordinator(cfg.RouterID, decisions, logger)
	recovery := txn.NewRecovery(txn.RecoveryOptions{
		RouterID: cfg.RouterID,
		Log:      decisions,
		Routers:  registry,
		InFlight: coord.InFlight,
		Primaries: func() map[string]string {
			out := map[string]string{}
			if snap := store.Current(); snap != nil {
				for name, c := range snap.Map.Clusters {
					out[name] = c.Primary
				}
			}
			return out
		},
		Connect:           dial.connectPlain,
		Interval:          cfg.Txn.RecoveryInterval,
		NoDecisionTimeout: cfg.Txn.NoDecisionTimeout,
		Logger:            logger,
	})
	tracker, reads, err := newTracker(cfg.Replication, store, dial, logger)
	if err != nil {
		conns.Close()
		cli.Close()
		return nil, err
	}
	r := &Router{cfg: cfg, logger: logger, etcd: cli, store: store, stats: stats, clientStats: &proxy.ClientStats{},
		planner: planner.New(planner.Options{}), tracker: tracker, breakers: breakers, pool: conns, decisions: decisions}
	r.pools = poolReporter{pool: conns, store: store, max: cfg.Pool.MaxConnsPerNode}
	exec := &executor.Config{
		Pool:           conns,
		SessionPooling: cfg.Pool.Mode == "session",
		Coordinator:    coord,
		Logger:         logger,
		Version:        Version,
		Stats:          stats,
		Estimates:      &executor.Estimates{},
		Replicas:       tracker,
		Reads:          reads,
		Admin:          r,
		NodeFailed:     breakers.Failure,
		Keys:           &executor.KeyBlocks{},
		Slots:          idrange.NewSlots(cli, cfg.Sequences.SlotPrefix),
	}
	server, err := proxy.NewServer(proxy.Config{
		Auth:             cfg.proxyAuth(),
		TLS:              cfg.proxyTLS(),
		MaxMessageSize:   cfg.Limits.MaxMessageSize,
		StartupTimeout:   cfg.Limits.StartupTimeout,
		MaxClientConns:   cfg.Limits.MaxClientConns,
		MaxStatementTime: cfg.Limits.MaxStatementTime,
		Stats:            r.clientStats,
		Logger:           logger,
	}, proxy.Deps{
		Planner:  r.planner,
		Executor: exec,
		Snapshot: store.Current,
	})
	if err != nil {
		conns.Close()
		cli.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		conns.Close()
		cli.Close()
		return nil, err
	}
	r.server, r.ln = server, ln
	if err := r.startMonitoring(); err != nil {
		ln.Close()
		conns.Close()
		cli.Close()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.registration = registry.Register(cfg.RouterID, cfg.Txn.LeaseTTL)
	r.wg.Add(6)
	go func() {
		defer r.wg.Done()
		breakers.Run(runCtx)
	}()
	go func() {
		defer r.wg.Done()
		tracker.Run(runCtx)
	}()
	go func() {
		// The tracker follows the shard map's nodes.
		defer r.wg.Done()
		updates, cancel := store.Subscribe()
		defer cancel()
		if snap, err := store.WaitReady(runCtx); err == nil {
			tracker.SetNodes(replication.NodesOf(snap.Map))
		}
		for {
			select {
			case <-runCtx.Done():
				return
			case snap, ok := <-updates:
				if !ok {
					return
				}
				tracker.SetNodes(replication.NodesOf(snap.Map))
			}
		}
	}()
	go func() {
		// Recovery needs the primaries: it starts with the first map.
		defer r.wg.Done()
		if _, err := store.WaitReady(runCtx); err == nil {
			recovery.Run(runCtx)
		}
	}()
	go func() {
		defer r.wg.Done()
		if err := store.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("shard map watch ended", "err", err)
		}
	}()
	go func() {
		defer r.wg.Done()
		if err := server.Serve(ln); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
			logger.Error("listener failed", "err", err)
		}
	}()
	logger.Info("sqlrouter listening", "addr", ln.Addr().String(), "etcd", cfg.Etcd.Endpoints, "key", cfg.Etcd.Key)
	return r, nil
}

// Addr is the address clients connect to.
func (r *Router) Addr() string { return r.ln.Addr().String() }

// WaitReady waits until a shard map is loaded.
func (r *Router) WaitReady(ctx context.Context) error {
	_, err := r.store.WaitReady(ctx)
	return err
}

// Snapshot is the shard map in use (nil before the first).
func (r *Router) Snapshot() *shardmap.Snapshot { return r.store.Current() }

// ShutdownTimeout is a bound for a whole Shutdown: the drain timeout and
// time to stop the rest.
func (r *Router) ShutdownTimeout() time.Duration { return r.cfg.Shutdown.DrainTimeout + 15*time.Second }

// Stats returns the per-cluster counters.
func (r *Router) Stats() []executor.ClusterStats { return r.stats.Snapshot() }

// Sessions is the number of connected clients.
func (r *Router) Sessions() int { return r.server.Sessions() }

// Shutdown stops accepting clients and drains the client sessions: each
// leaves with 57P01 once idle outside a transaction, and those still busy
// after shutdown.drain_timeout, or when ctx ends if sooner, are terminated
// (57P01 too). Then it stops the monitoring listener and watching etcd.
// /readyz answers 503 from the start. The error is ctx's when ctx ended
// before every session had left on its own. Calls after the first return
// nil at once.
func (r *Router) Shutdown(ctx context.Context) error {
	if r.shuttingDown.Swap(true) {
		return nil // shut down already, or shutting down
	}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Shutdown.DrainTimeout)
	r.server.Shutdown(dctx)
	cancel()
	err := ctx.Err()
	if r.metricsSrv != nil {
		mctx, mcancel := context.WithTimeout(context.Background(), time.Second)
		r.metricsSrv.Shutdown(mctx)
		mcancel()
	}
	r.stop()
	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := r.decisions.Flush(fctx); err != nil {
		r.logger.Warn("forgetting commit decisions at shutdown failed; recovery will", "err", err)
	}
	fcancel()
	if r.registration != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.registration.Close(rctx)
		cancel()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	r.pool.Close()
	r.etcd.Close()
	return err
}

// PoolStats describes the backend connection pool of every server.
func (r *Router) PoolStats() []pool.NodeStats { return r.pool.Stats() }

// newTracker makes the replica tracker and the read defaults from the
// configuration.
func newTracker(cfg ReplicationConfig, store *shardmap.Store, dial *dialer, logger *slog.Logger) (*replication.Tracker, executor.ReadDefaults, error) {
	var reads executor.ReadDefaults
	if cfg.DefaultConsistency != "" {
		l, err := replication.ParseLevel(cfg.DefaultConsistency)
		if err != nil {
			return nil, reads, err
		}
		reads.Level = l
	}
	var policy replication.Policy
	if cfg.Policy != "" {
		p, err := replication.ParsePolicy(cfg.Policy)
		if err != nil {
			return nil, reads, err
		}
		policy = p
	}
	reads.MaxLag = cfg.MaxReplicaLag
	reads.Wait = cfg.RYWWait
	reads.PrimaryForbidden = cfg.PrimaryReads == "forbidden"
	tracker := replication.NewTracker(replication.Options{
		PollInterval:  cfg.PollInterval,
		Policy:        policy,
		FailThreshold: cfg.FailThreshold,
		Logger:        logger,
		Connect: func(ctx context.Context, url string) (*pgconn.PgConn, error) {
			// The node's cluster says which credentials apply.
			cluster := ""
			if snap := store.Current(); snap != nil {
				for _, n := range replication.NodesOf(snap.Map) {
					if n.URL == url {
						cluster = n.Cluster
					}
				}
			}
			return dial.connectPlain(ctx, cluster, url)
		},
	})
	return tracker, reads, nil
}

// nodeRole names a server's role in the current shard map: coordinator,
// the primary of its cluster, or a replica.
func nodeRole(store *shardmap.Store) func(cluster, url string) string {
	return func(cluster, url string) string {
		snap := store.Current()
		switch {
		case snap == nil:
			return executor.RolePrimary
		case url == snap.Map.Coordinator:
			return executor.RoleCoordinator
		}
		if c, ok := snap.Map.Clusters[cluster]; ok && c.Primary != url {
			return executor.RoleReplica
		}
		return executor.RolePrimary
	}
}
