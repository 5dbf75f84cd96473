package router

import (
	"fmt"
	"time"

	"github.com/sqlrouter/sqlrouter/proxy"
	"github.com/sqlrouter/sqlrouter/replication"
	"github.com/sqlrouter/sqlrouter/shardmap"
	"github.com/sqlrouter/sqlrouter/txn"
)

// Config is the router's configuration. Its zero value, with etcd
// endpoints filled in, is a working router on 127.0.0.1:6432.
type Config struct {
	// Listen is the address clients connect to.
	Listen string `mapstructure:"listen"`
	// RouterID names this router in its two-phase commit transaction ids;
	// routers sharing shards need distinct ids (default: random).
	RouterID    string            `mapstructure:"router_id"`
	Etcd        EtcdConfig        `mapstructure:"etcd"`
	Auth        AuthConfig        `mapstructure:"auth"`
	Backend     BackendConfig     `mapstructure:"backend"`
	Pool        PoolConfig        `mapstructure:"pool"`
	Limits      LimitsConfig      `mapstructure:"limits"`
	Txn         TxnConfig         `mapstructure:"txn"`
	Replication ReplicationConfig `mapstructure:"replication"`
	Sequences   SequencesConfig   `mapstructure:"sequences"`
	Log         LogConfig         `mapstructure:"log"`
}

// SequencesConfig says where the clusters' sequence slots live: each
// cluster's copy of a sequence created through the router hands out only
// the ids of its slot, so that ids are unique across clusters.
type SequencesConfig struct {
	// SlotPrefix is the etcd prefix of the slots (default
	// /sqlrouter/sequence_slots/). Routers sharing clusters share it.
	SlotPrefix string `mapstructure:"slot_prefix"`
}

// ReplicationConfig says how reads use the clusters' replicas.
type ReplicationConfig struct {
	// DefaultConsistency is the read consistency of sessions that do not
	// choose: strong (primary), ryw (default: replicas that have the
	// session's own writes), bounded (replicas lagging less than
	// max_replica_lag) or eventual (any healthy replica).
	DefaultConsistency string `mapstructure:"default_consistency"`
	// MaxReplicaLag bounds replica lag at the bounded level (default 1 s).
	MaxReplicaLag time.Duration `mapstructure:"max_replica_lag"`
	// RYWWait is how long a ryw read waits for a replica to catch up
	// before it goes to the primary (default 50 ms).
	RYWWait time.Duration `mapstructure:"ryw_wait"`
	// PollInterval is how often replicas' positions are checked (default
	// 1 s).
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// Policy spreads reads over eligible replicas: round_robin (default),
	// least_connections or weighted (by the shard map's weights).
	Policy string `mapstructure:"policy"`
	// PrimaryReads is allowed (default: the primary serves a read no
	// replica qualifies for) or forbidden (such a read fails).
	PrimaryReads string `mapstructure:"primary_reads"`
	// FailThreshold is the number of failed checks in a row that takes a
	// replica out of rotation (default 2); it is back at the first
	// successful check.
	FailThreshold int `mapstructure:"fail_threshold"`
}

// TxnConfig tunes two-phase commit and its recovery. Zero values take the
// defaults of package txn.
type TxnConfig struct {
	// DecisionPrefix is the etcd prefix of commit decisions
	// (default /sqlrouter/txn/).
	DecisionPrefix string `mapstructure:"decision_prefix"`
	// RoutersPrefix is the etcd prefix where live routers register
	// (default /sqlrouter/routers/).
	RoutersPrefix string `mapstructure:"routers_prefix"`
	// LeaseTTL is how long a router's registration outlives it (default
	// 10 s): after that, other routers resolve its prepared transactions.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// RecoveryInterval is the time between recovery passes (default 30 s).
	RecoveryInterval time.Duration `mapstructure:"recovery_interval"`
	// NoDecisionTimeout is how long a prepared transaction without a
	// commit decision may stay before recovery rolls it back (default 60 s).
	NoDecisionTimeout time.Duration `mapstructure:"no_decision_timeout"`
}

// EtcdConfig says where the shard map lives.
type EtcdConfig struct {
	Endpoints   []string      `mapstructure:"endpoints"`
	Key         string        `mapstructure:"key"`
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
}

// AuthConfig says how clients log in.
type AuthConfig struct {
	// Method is trust (default) or scram-sha-256.
	Method string `mapstructure:"method"`
	// Users may log in; with trust and no users, anyone may.
	Users []UserConfig `mapstructure:"users"`
}

// UserConfig is one client account.
type UserConfig struct {
	Name string `mapstructure:"name"`
	// Password is a plain password or a SCRAM-SHA-256 secret as
	// PostgreSQL stores it (pg_authid.rolpassword).
	Password string `mapstructure:"password"`
}

// BackendConfig says how the router logs in to the shards.
type BackendConfig struct {
	// User and Password override the user and password of every cluster
	// URL in the shard map ("" keeps the URL's).
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
	// Clusters override User and Password per cluster name.
	Clusters map[string]Credentials `mapstructure:"clusters"`
	// ConnectTimeout bounds connecting to a backend (default 5 s).
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
}

// Credentials are a user and password for one cluster.
type Credentials struct {
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
}

// PoolConfig bounds backend connections.
type PoolConfig struct {
	// MaxConnsPerNode caps the connections the router opens to one
	// PostgreSQL server (default 100). Each client session uses at most one
	// connection per cluster it touches; beyond the cap, the statement that
	// needs a new connection fails with 53300.
	MaxConnsPerNode int `mapstructure:"max_conns_per_node"`
}

// LimitsConfig protects the router from its clients.
type LimitsConfig struct {
	// MaxMessageSize bounds one client message in bytes (default 64 MiB).
	MaxMessageSize int `mapstructure:"max_message_size"`
	// StartupTimeout bounds a client's handshake (default 15 s).
	StartupTimeout time.Duration `mapstructure:"startup_timeout"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `mapstructure:"level"`
	// Format is text (default) or json.
	Format string `mapstructure:"format"`
}

// withDefaults fills in what the zero value leaves open.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:6432"
	}
	if c.Etcd.Key == "" {
		c.Etcd.Key = shardmap.DefaultKey
	}
	if c.Etcd.DialTimeout == 0 {
		c.Etcd.DialTimeout = 5 * time.Second
	}
	if c.Backend.ConnectTimeout == 0 {
		c.Backend.ConnectTimeout = 5 * time.Second
	}
	if c.Pool.MaxConnsPerNode == 0 {
		c.Pool.MaxConnsPerNode = 100
	}
	if c.Replication.MaxReplicaLag == 0 {
		c.Replication.MaxReplicaLag = time.Second
	}
	return c
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	if len(c.Etcd.Endpoints) == 0 {
		return fmt.Errorf("etcd.endpoints: at least one etcd endpoint is needed")
	}
	if c.Pool.MaxConnsPerNode < 0 {
		return fmt.Errorf("pool.max_conns_per_node: must not be negative")
	}
	if c.Replication.DefaultConsistency != "" {
		if _, err := replication.ParseLevel(c.Replication.DefaultConsistency); err != nil {
			return fmt.Errorf("replication.default_consistency: %w", err)
		}
	}
	if c.Replication.Policy != "" {
		if _, err := replication.ParsePolicy(c.Replication.Policy); err != nil {
			return fmt.Errorf("replication.policy: %w", err)
		}
	}
	switch c.Replication.PrimaryReads {
	case "", "allowed", "forbidden":
	default:
		return fmt.Errorf("replication.primary_reads: want allowed or forbidden, not %q", c.Replication.PrimaryReads)
	}
	if c.RouterID != "" {
		if err := txn.ValidRouterID(c.RouterID); err != nil {
			return fmt.Errorf("router_id: %w", err)
		}
	}
	if err := proxy.ValidateAuth(c.proxyAuth()); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

func (c Config) proxyAuth() proxy.AuthConfig {
	a := proxy.AuthConfig{Method: c.Auth.Method}
	for _, u := range c.Auth.Users {
		a.Users = append(a.Users, proxy.User{Name: u.Name, Password: u.Password})
	}
	return a
}
