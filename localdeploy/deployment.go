package localdeploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// None, as Options.Shards or Options.Replicas, asks for zero of them (the
// zero value asks for the default).
const None = -1

// Options describes a whole local deployment. The zero value is two
// shards of one primary and one replica each, without coordinator or etcd,
// in a new directory under os.TempDir().
type Options struct {
	// Dir is the root; each instance gets a subdirectory (etcd/,
	// s0-primary/, s0-replica1/, coordinator/...). Empty: a new directory
	// under os.TempDir(), which Stop does not remove.
	Dir string
	// Shards is the number of clusters, named s0, s1, ...; 0 means 2, None
	// means no clusters.
	Shards int
	// Replicas is the number of streaming replicas per cluster; 0 means 1,
	// None means none.
	Replicas int
	// Coordinator starts the scratch coordinator Postgres.
	Coordinator bool
	// Etcd starts an embedded etcd.
	Etcd bool
	// Settings are extra -c settings for every Postgres instance.
	Settings map[string]string
	// Logger receives Info "started" lines and Debug details; nil discards.
	Logger *slog.Logger
}

// counts resolves the defaults of Shards and Replicas.
func (o Options) counts() (shards, replicas int) {
	resolve := func(n, dflt int) int {
		switch {
		case n == 0:
			return dflt
		case n < 0:
			return 0
		}
		return n
	}
	return resolve(o.Shards, 2), resolve(o.Replicas, 1)
}

// Node is one named Postgres instance of a deployment.
type Node struct {
	// Name is e.g. "s0-primary", "s0-replica1" or "coordinator".
	Name string
	*Postgres
}

// Cluster is one shard: a primary and its streaming replicas.
type Cluster struct {
	// Name is e.g. "s0".
	Name     string
	Primary  *Node
	Replicas []*Node
}

// Deployment is a running local deployment.
type Deployment struct {
	Clusters    []*Cluster // s0, s1, ... in order
	Coordinator *Node      // nil unless Options.Coordinator
	Etcd        *Etcd      // nil unless Options.Etcd
	Dir         string     // the root directory, absolute
}

// Start brings a deployment up: etcd, the coordinator and every primary in
// parallel, and each cluster's replicas in parallel as soon as its primary
// is up. On any error it stops whatever it started and returns the errors.
func Start(ctx context.Context, opts Options) (*Deployment, error) {
	began := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := deploymentDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	shards, replicas := opts.counts()
	d := &Deployment{Dir: dir}
	for i := range shards {
		d.Clusters = append(d.Clusters, &Cluster{Name: fmt.Sprintf("s%d", i), Replicas: make([]*Node, replicas)})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex // guards errs and the fields of d being filled in
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel() // the others give up early
	}
	startNode := func(name string, primary *Postgres, place **Node) bool {
		popts := PostgresOptions{DataDir: filepath.Join(dir, name), Settings: opts.Settings, Logger: logger, Name: name}
		var p *Postgres
		var err error
		if primary == nil {
			p, err = StartPostgres(ctx, bin, popts)
		} else {
			p, err = StartReplica(ctx, bin, primary, popts)
		}
		if err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
			return false
		}
		mu.Lock()
		*place = &Node{Name: name, Postgres: p}
		mu.Unlock()
		return true
	}

	if opts.Etcd {
		wg.Go(func() {
			e, err := startEtcd(ctx, filepath.Join(dir, "etcd"), logger)
			if err != nil {
				fail(fmt.Errorf("etcd: %w", err))
				return
			}
			mu.Lock()
			d.Etcd = e
			mu.Unlock()
		})
	}
	if opts.Coordinator {
		wg.Go(func() { startNode("coordinator", nil, &d.Coordinator) })
	}
	for _, c := range d.Clusters {
		wg.Go(func() {
			if !startNode(c.Name+"-primary", nil, &c.Primary) {
				return
			}
			var rwg sync.WaitGroup
			for i := range c.Replicas {
				rwg.Go(func() { startNode(fmt.Sprintf("%s-replica%d", c.Name, i+1), c.Primary.Postgres, &c.Replicas[i]) })
			}
			rwg.Wait()
		})
	}
	wg.Wait()

	if len(errs) > 0 {
		stopCtx, stopCancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer stopCancel()
		stopErr := d.Stop(stopCtx)
		return nil, errors.Join(append(rootCauses(errs), stopErr)...)
	}
	logger.Info("deployment ready", "dir", dir, "shards", shards, "replicas", replicas,
		"coordinator", opts.Coordinator, "etcd", opts.Etcd, "elapsed", time.Since(began).Round(time.Millisecond))
	return d, nil
}

// deploymentDir makes the root directory, a temporary one if dir is empty.
func deploymentDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "sqlrouter-dev-*")
		if err != nil {
			return "", fmt.Errorf("localdeploy: %w", err)
		}
		return d, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("localdeploy: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("localdeploy: %w", err)
	}
	return abs, nil
}

// rootCauses drops the cancellation errors that one failure caused in the
// other starts, unless nothing else is left.
func rootCauses(errs []error) []error {
	var out []error
	for _, err := range errs {
		if !errors.Is(err, context.Canceled) {
			out = append(out, err)
		}
	}
	if len(out) == 0 {
		return errs
	}
	return out
}

// Nodes returns every Postgres instance: each cluster's primary then its
// replicas, cluster by cluster, then the coordinator.
func (d *Deployment) Nodes() []*Node {
	var nodes []*Node
	for _, c := range d.Clusters {
		if c.Primary != nil {
			nodes = append(nodes, c.Primary)
		}
		for _, r := range c.Replicas {
			if r != nil {
				nodes = append(nodes, r)
			}
		}
	}
	if d.Coordinator != nil {
		nodes = append(nodes, d.Coordinator)
	}
	return nodes
}

// Cluster returns the cluster with the given name, or nil.
func (d *Deployment) Cluster(name string) *Cluster {
	for _, c := range d.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Stop stops every instance in parallel, then etcd. It keeps the files and
// may be called again.
func (d *Deployment) Stop(ctx context.Context) error {
	nodes := d.Nodes()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Stop(ctx) })
	}
	wg.Wait()
	if d.Etcd != nil {
		d.Etcd.Stop()
	}
	return errors.Join(errs...)
}
