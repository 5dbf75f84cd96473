package txn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultRoutersPrefix is where routers register unless told otherwise.
const DefaultRoutersPrefix = "/sqlrouter/routers/"

// DefaultLeaseTTL is the lifetime of a router's registration without
// keep-alives: how long after a router dies others start resolving its
// transactions.
const DefaultLeaseTTL = 10 * time.Second

// Registry is the set of live routers: each registers the key
// <prefix><router id> under an etcd lease that it keeps alive. Recovery
// resolves another router's transactions only once that key is gone.
type Registry struct {
	cli    *clientv3.Client
	prefix string
	logger *slog.Logger
}

// NewRegistry makes a registry under prefix (DefaultRoutersPrefix when
// ""); logger nil discards.
func NewRegistry(cli *clientv3.Client, prefix string, logger *slog.Logger) *Registry {
	if prefix == "" {
		prefix = DefaultRoutersPrefix
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{cli: cli, prefix: prefix, logger: logger}
}

// LiveRouters returns the ids of the registered routers.
func (r *Registry) LiveRouters(ctx context.Context) (map[string]bool, error) {
	resp, err := r.cli.Get(ctx, r.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("txn: list live routers: %w", err)
	}
	live := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		live[strings.TrimPrefix(string(kv.Key), r.prefix)] = true
	}
	return live, nil
}

// Register starts keeping routerID registered with a lease of ttl
// (DefaultLeaseTTL when 0), in the background and until Close: it
// registers again, with a new lease, whenever the lease is lost. An
// existing registration of the same id (a previous run of this router
// that has not expired yet) is taken over.
func (r *Registry) Register(routerID string, ttl time.Duration) *Registration {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Registration{reg: r, key: r.prefix + routerID, routerID: routerID, ttl: ttl, cancel: cancel,
		ready: make(chan struct{}), done: make(chan struct{})}
	go g.run(ctx)
	return g
}

// Registration keeps one router registered. Make one with
// Registry.Register.
type Registration struct {
	reg      *Registry
	key      string
	routerID string
	ttl      time.Duration
	cancel   func()
	ready    chan struct{} // closed once the key was first written
	done     chan struct{} // closed when run returns

	readyOnce sync.Once
	mu        sync.Mutex
	lease     clientv3.LeaseID // current lease, 0 when none
}

// registrationValue is what a router's key holds, for operators.
type registrationValue struct {
	Router  string    `json:"router"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// Ready waits until the router is registered.
func (g *Registration) Ready(ctx context.Context) error {
	select {
	case <-g.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("txn: router %s not registered yet: %w", g.routerID, ctx.Err())
	}
}

// Lease returns the current lease, 0 when not registered.
func (g *Registration) Lease() clientv3.LeaseID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lease
}

// Close stops keeping the registration alive and revokes its lease, so
// that the key disappears at once.
func (g *Registration) Close(ctx context.Context) error {
	g.cancel()
	select {
	case <-g.done:
	case <-ctx.Done():
		return fmt.Errorf("txn: unregister router %s: %w", g.routerID, ctx.Err())
	}
	lease := g.Lease()
	if lease == 0 {
		return nil
	}
	if _, err := g.reg.cli.Revoke(ctx, lease); err != nil {
		return fmt.Errorf("txn: unregister router %s: %w", g.routerID, err)
	}
	return nil
}

// run registers, keeps the lease alive while it lasts, and registers
// again when it is lost, until ctx ends.
func (g *Registration) run(ctx context.Context) {
	defer close(g.done)
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		alive, err := g.register(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			g.reg.logger.Warn("router registration failed; retrying", "router", g.routerID, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
		g.readyOnce.Do(func() { close(g.ready) })
		for range alive {
		}
		if ctx.Err() == nil {
			g.reg.logger.Warn("router registration lapsed (etcd unreachable?); registering again", "router", g.routerID)
		}
	}
}

// register grants a lease, writes the key under it and starts keeping it
// alive; the returned channel closes when the lease is lost or ctx ends.
func (g *Registration) register(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	actx, cancel := context.WithTimeout(ctx, g.ttl)
	defer cancel()
	grant, err := g.reg.cli.Grant(actx, int64((g.ttl+time.Second-1)/time.Second))
	if err != nil {
		return nil, fmt.Errorf("grant lease: %w", err)
	}
	host, _ := os.Hostname()
	val, _ := json.Marshal(registrationValue{Router: g.routerID, Host: host, PID: os.Getpid(), Started: time.Now().UTC()})
	resp, err := g.reg.cli.Put(actx, g.key, string(val), clientv3.WithLease(grant.ID), clientv3.WithPrevKV())
	if err != nil {
		g.reg.cli.Revoke(actx, grant.ID)
		return nil, fmt.Errorf("write %s: %w", g.key, err)
	}
	if prev := resp.PrevKv; prev != nil && clientv3.LeaseID(prev.Lease) != g.Lease() {
		g.reg.logger.Warn("router id was registered by another process (a previous run of this router, or another router with the same id); taking it over",
			"router", g.routerID, "previous", string(prev.Value))
	}
	alive, err := g.reg.cli.KeepAlive(ctx, grant.ID)
	if err != nil {
		g.reg.cli.Revoke(actx, grant.ID)
		return nil, fmt.Errorf("keep lease alive: %w", err)
	}
	g.mu.Lock()
	g.lease = grant.ID
	g.mu.Unlock()
	return alive, nil
}
