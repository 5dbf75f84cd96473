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
	TLS         TLSConfig         `mapstructure:"tls"`
	Auth        AuthConfig        `mapstructure:"auth"`
	Backend     BackendConfig     `mapstructure:"backend"`
	Pool        PoolConfig        `mapstructure:"pool"`
	Limits      LimitsConfig      `mapstructure:"limits"`
	Txn         TxnConfig         `mapstructure:"txn"`
	Replication ReplicationConfig `mapstructure:"replication"`
	Breaker     BreakerConfig     `mapstructure:"breaker"`
	Shutdown    ShutdownConfig    `mapstructure:"shutdown"`
	Metrics     MetricsConfig     `mapstructure:"metrics"`
	Sequences   SequencesConfig   `mapstructure:"sequences"`
	Log         LogConfig         `mapstructure:"log"`
}

// BreakerConfig tunes the circuit breaker of each backend server.
type BreakerConfig struct {
	// Threshold is the number of connection or I/O failures in a row that
	// opens a server's breaker (default 5).
	Threshold int `mapstructure:"threshold"`
	// Cooldown is how long an open breaker refuses connections before a
	// probe may close it (default 5 s).
	Cooldown time.Duration `mapstructure:"cooldown"`
}

// ShutdownConfig says how the router stops.
type ShutdownConfig struct {
	// DrainTimeout is how long transactions and statements in flight may
	// run on after a shutdown begins (default 30 s); then the remaining
	// sessions are terminated with 57P01.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
}

// MetricsConfig configures the HTTP listener for monitoring.
type MetricsConfig struct {
	// Listen is the address serving /metrics (Prometheus), /healthz and
	// /readyz ("" = no listener).
	Listen string `mapstructure:"listen"`
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

// TLSConfig is TLS between clients and the router.
type TLSConfig struct {
	// CertFile and KeyFile are the server certificate (chain) and key in
	// PEM; empty: no TLS (SSLRequest is answered N). Reloaded when the
	// files change.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Require refuses clients without TLS (28000), as hostssl does.
	Require bool `mapstructure:"require"`
}

// AuthConfig says how clients log in.
type AuthConfig struct {
	// Method is trust (default), md5 or scram-sha-256.
	Method string `mapstructure:"method"`
	// Users may log in; with trust and no users, anyone may.
	Users []UserConfig `mapstructure:"users"`
}

// UserConfig is one client account.
type UserConfig struct {
	Name string `mapstructure:"name"`
	// Password is a plain password, or a SCRAM-SHA-256 or MD5 secret as
	// PostgreSQL stores it (pg_authid.rolpassword).
	Password string `mapstructure:"password"`
	// Databases are the database names the user may connect to (empty:
	// any).
	Databases []string `mapstructure:"databases"`
}

// BackendConfig says how the router logs in to the shards.
type BackendConfig struct {
	// User and Password override the user and password of every cluster
	// URL in the shard map ("" keeps the URL's).
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
	// SSLMode, SSLRootCert, SSLCert and SSLKey override the libpq TLS
	// settings of every cluster URL ("" keeps the URL's).
	SSLMode     string `mapstructure:"sslmode"`
	SSLRootCert string `mapstructure:"sslrootcert"`
	SSLCert     string `mapstructure:"sslcert"`
	SSLKey      string `mapstructure:"sslkey"`
	// Clusters override the settings above per cluster name (matched
	// without regard to case); SQLROUTER_BACKEND_CLUSTERS_<NAME>_<FIELD>
	// environment variables set them too (see ClustersFromEnv).
	Clusters map[string]Credentials `mapstructure:"clusters"`
	// ConnectTimeout bounds one attempt to connect to a backend (default
	// 5 s).
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// ConnectAttempts is how many times a failed connection is tried
	// before the statement that needs it fails (default 3).
	ConnectAttempts int `mapstructure:"connect_attempts"`
	// ConnectBackoff is the wait after the first failed attempt, doubled
	// after each next one, with jitter (default 100 ms).
	ConnectBackoff time.Duration `mapstructure:"connect_backoff"`
}

// Credentials are how the router logs in to one cluster: a user and
// password, and the TLS settings of libpq's connection parameters of the
// same names. Empty fields take BackendConfig's.
type Credentials struct {
	User        string `mapstructure:"user"`
	Password    string `mapstructure:"password"`
	SSLMode     string `mapstructure:"sslmode"`
	SSLRootCert string `mapstructure:"sslrootcert"`
	SSLCert     string `mapstructure:"sslcert"`
	SSLKey      string `mapstructure:"sslkey"`
}

// PoolConfig says how backend connections are shared.
type PoolConfig struct {
	// Mode is transaction (default: a client holds backend connections
	// only during a transaction, unless its session state pins them) or
	// session (a client keeps its backend connections until it leaves).
	Mode string `mapstructure:"mode"`
	// MaxConnsPerNode caps the connections the router opens to one
	// PostgreSQL server (default 100).
	MaxConnsPerNode int `mapstructure:"max_conns_per_node"`
	// AcquireTimeout is how long a statement waits for a connection of a
	// server at its cap before failing with 53300 (default 5 s).
	AcquireTimeout time.Duration `mapstructure:"acquire_timeout"`
	// MaxWaiting caps the sessions waiting for one server (default 1000).
	MaxWaiting int `mapstructure:"max_waiting"`
	// IdleTimeout closes connections idle this long (default 5 min).
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxLifetime closes connections this old once they are released
	// (default 1 h).
	MaxLifetime time.Duration `mapstructure:"max_lifetime"`
}

// LimitsConfig protects the router from its clients.
type LimitsConfig struct {
	// MaxMessageSize bounds one client message in bytes (default 64 MiB).
	MaxMessageSize int `mapstructure:"max_message_size"`
	// StartupTimeout bounds a client's handshake (default 15 s).
	StartupTimeout time.Duration `mapstructure:"startup_timeout"`
	// MaxClientConns bounds client connections (default 10000); beyond
	// it new clients are refused with 53300.
	MaxClientConns int `mapstructure:"max_client_conns"`
	// MaxStatementTime bounds a statement (0 = none, the default): past
	// it, the statement is cancelled on every server it reached and fails
	// with 57014.
	MaxStatementTime time.Duration `mapstructure:"max_statement_time"`
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
	setDefault(&c.Backend.ConnectAttempts, 3)
	setDefault(&c.Backend.ConnectBackoff, 100*time.Millisecond)
	setDefault(&c.Breaker.Threshold, 5)
	setDefault(&c.Breaker.Cooldown, 5*time.Second)
	setDefault(&c.Shutdown.DrainTimeout, 30*time.Second)
	setDefault(&c.Limits.MaxClientConns, 10000)
	if c.Pool.MaxConnsPerNode == 0 {
		c.Pool.MaxConnsPerNode = 100
	}
	if c.Replication.MaxReplicaLag == 0 {
		c.Replication.MaxReplicaLag = time.Second
	}
	return c
}

// setDefault sets *v to d when it holds the zero value.
func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	if len(c.Etcd.Endpoints) == 0 {
		return fmt.Errorf("etcd.endpoints: at least one etcd endpoint is needed")
	}
	for key, v := range map[string]int64{
		"pool.max_conns_per_node":   int64(c.Pool.MaxConnsPerNode),
		"backend.connect_attempts":  int64(c.Backend.ConnectAttempts),
		"backend.connect_backoff":   int64(c.Backend.ConnectBackoff),
		"breaker.threshold":         int64(c.Breaker.Threshold),
		"breaker.cooldown":          int64(c.Breaker.Cooldown),
		"shutdown.drain_timeout":    int64(c.Shutdown.DrainTimeout),
		"limits.max_client_conns":   int64(c.Limits.MaxClientConns),
		"limits.max_statement_time": int64(c.Limits.MaxStatementTime),
	} {
		if v < 0 {
			return fmt.Errorf("%s: must not be negative", key)
		}
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
	switch c.Pool.Mode {
	case "", "transaction", "session":
	default:
		return fmt.Errorf("pool.mode: want transaction or session, not %q", c.Pool.Mode)
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
	if err := proxy.ValidateTLS(c.proxyTLS()); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := c.Backend.validate(); err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	return nil
}

func (c Config) proxyAuth() proxy.AuthConfig {
	a := proxy.AuthConfig{Method: c.Auth.Method}
	for _, u := range c.Auth.Users {
		a.Users = append(a.Users, proxy.User{Name: u.Name, Password: u.Password, Databases: u.Databases})
	}
	return a
}

func (c Config) proxyTLS() proxy.TLSConfig {
	return proxy.TLSConfig{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, Require: c.TLS.Require}
}
