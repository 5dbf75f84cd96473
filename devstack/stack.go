package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Options configure a stack. The zero value is two shards with one
// replica each, the built-in example map and schema, and a router on a
// free port set up as in production: TLS with a self-signed certificate
// made in Dir/tls, and SCRAM-SHA-256 for user app with a random password.
type Options struct {
	Dir      string
	Shards   int // 0 = 2
	Replicas int // 0 = 1; localdeploy.None = none
	// Listen is the router's address ("" = a free port on 127.0.0.1).
	Listen string
	// ShardMap is a user's shard map (nil = the built-in example); its
	// clusters are replaced by the deployment's.
	ShardMap []byte
	// NoExampleSchema skips creating the example tables.
	NoExampleSchema bool
	// PlainText turns the router's TLS off (SSLRequest is answered N).
	PlainText bool
	// Trust lets clients in without a password (auth method trust).
	Trust bool
	// Password is the password of user app ("" = a random one).
	Password string
	// Router adjusts the router's configuration (auth, limits...) after
	// the settings above.
	Router func(*router.Config)
	Logger *slog.Logger
}

// Stack is a running embedded deployment with its router.
type Stack struct {
	Deployment *localdeploy.Deployment
	Router     *router.Router
	// MapKey is the etcd key of the shard map.
	MapKey string
	Etcd   *clientv3.Client
	// Password is user app's password, "" with Options.Trust.
	Password string
	// CertFile is the router's self-signed certificate, which clients
	// name as sslrootcert for sslmode=verify-full; "" with
	// Options.PlainText.
	CertFile string
	logger   *slog.Logger
}

// User is the user RouterDSN logs in as.
const User = "app"

// Start brings everything up. On error, whatever started is stopped.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dep, err := localdeploy.Start(ctx, localdeploy.Options{
		Dir:         opts.Dir,
		Shards:      opts.Shards,
		Replicas:    opts.Replicas,
		Coordinator: true,
		Etcd:        true,
		Logger:      logger,
	})
	if err != nil {
		return nil, err
	}
	s := &Stack{Deployment: dep, MapKey: shardmap.DefaultKey, logger: logger}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s.Stop(sctx)
		}
	}()
	doc := ExampleMap(dep)
	if opts.ShardMap != nil {
		if doc, err = AdaptMap(opts.ShardMap, dep); err != nil {
			return nil, err
		}
	}
	s.Etcd, err = clientv3.New(clientv3.Config{Endpoints: dep.Etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	if _, err = shardmap.Apply(ctx, s.Etcd, s.MapKey, doc); err != nil {
		return nil, err
	}
	cfg := router.Config{Listen: opts.Listen, Etcd: router.EtcdConfig{Endpoints: dep.Etcd.Endpoints(), Key: s.MapKey},
		Metrics: router.MetricsConfig{Listen: "127.0.0.1:0"}}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if err = s.secure(&cfg, opts); err != nil {
		return nil, err
	}
	if opts.Router != nil {
		opts.Router(&cfg)
	}
	if s.Router, err = router.Start(ctx, cfg, logger); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err = s.Router.WaitReady(wctx); err != nil {
		return nil, fmt.Errorf("router did not load the shard map: %w", err)
	}
	if opts.ShardMap == nil && !opts.NoExampleSchema {
		if err = s.createExampleSchema(ctx); err != nil {
			return nil, fmt.Errorf("example schema: %w", err)
		}
	}
	return s, nil
}

func (s *Stack) createExampleSchema(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.RouterDSN())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, sql := range ExampleSchema {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// RouterDSN is a connection string for the router: user app with its
// password, sslmode=require when the router serves TLS.
func (s *Stack) RouterDSN() string {
	u := url.URL{Scheme: "postgres", Host: s.Router.Addr(), Path: "/" + Database, User: url.User(User)}
	if s.Password != "" {
		u.User = url.UserPassword(User, s.Password)
	}
	mode := "disable"
	if s.CertFile != "" {
		mode = "require"
	}
	u.RawQuery = "sslmode=" + mode
	return u.String()
}

// Info is what cluster.json holds: how to reach every part.
type Info struct {
	Router string `json:"router"`
	// TLSCert is the router's self-signed certificate (sslrootcert for
	// sslmode=verify-full), absent without TLS.
	TLSCert     string                 `json:"tls_cert,omitempty"`
	Etcd        []string               `json:"etcd"`
	ShardMapKey string                 `json:"shardmap_key"`
	Coordinator string                 `json:"coordinator"`
	Clusters    map[string]ClusterInfo `json:"clusters"`
	// Metrics is the router's Prometheus endpoint; /healthz and /readyz
	// are beside it.
	Metrics string `json:"metrics,omitempty"`
}

// ClusterInfo is one cluster in cluster.json.
type ClusterInfo struct {
	Primary  string   `json:"primary"`
	Replicas []string `json:"replicas"`
}

// Info describes the running stack.
func (s *Stack) Info() Info {
	d := s.Deployment
	info := Info{Router: s.RouterDSN(), TLSCert: s.CertFile, Etcd: d.Etcd.Endpoints(), ShardMapKey: s.MapKey, Clusters: map[string]ClusterInfo{},
		Metrics: s.Router.MetricsURL()}
	if d.Coordinator != nil {
		info.Coordinator = d.Coordinator.DSN(Database)
	}
	for _, c := range d.Clusters {
		ci := ClusterInfo{Primary: c.Primary.DSN(Database), Replicas: []string{}}
		for _, r := range c.Replicas {
			ci.Replicas = append(ci.Replicas, r.DSN(Database))
		}
		info.Clusters[c.Name] = ci
	}
	return info
}

// WriteInfo writes cluster.json into dir atomically: its presence means
// the stack is ready.
func (s *Stack) WriteInfo(dir string) (string, error) {
	data, err := json.MarshalIndent(s.Info(), "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "cluster.json")
	tmp := path + ".tmp." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// Stop stops the router, then every server. It is safe to call twice.
func (s *Stack) Stop(ctx context.Context) error {
	var errs []error
	if s.Router != nil {
		errs = append(errs, s.Router.Shutdown(ctx))
		s.Router = nil
	}
	if s.Etcd != nil {
		s.Etcd.Close()
		s.Etcd = nil
	}
	if s.Deployment != nil {
		errs = append(errs, s.Deployment.Stop(ctx))
	}
	return errors.Join(errs...)
}
