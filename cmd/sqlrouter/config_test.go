package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/router"
)

const sampleConfig = "../../docs/sqlrouter.example.yaml"

// The sample configuration in the repository loads, every key it sets
// arrives in router.Config, and it mentions every key there is.
func TestSampleConfigLoads(t *testing.T) {
	cfg, err := loadConfig(sampleConfig, serveCommand().Flags(), serveFlags)
	if err != nil {
		t.Fatal(err)
	}
	want := router.Config{
		Listen:   "127.0.0.1:6432",
		RouterID: "router-a",
		Etcd:     router.EtcdConfig{Endpoints: []string{"127.0.0.1:2379"}, Key: "/sqlrouter/shardmap", DialTimeout: 5 * time.Second},
		TLS:      router.TLSConfig{CertFile: "/etc/sqlrouter/tls/server.crt", KeyFile: "/etc/sqlrouter/tls/server.key", Require: true},
		Auth: router.AuthConfig{Method: "scram-sha-256", Users: []router.UserConfig{
			{Name: "app", Password: "change-me", Databases: []string{"app"}},
			{Name: "reporting", Password: "SCRAM-SHA-256$4096:c3Fscm91dGVyLXNhbXBsZQ==$z/S9mQaVXREDkJr+AiMfiBsiw+l8JYB72Bq5wg5Bawg=:OCKkDP8iKubj/zV6pXO59pWD9B0orqC54WzZL6DItME="},
		}},
		Backend: router.BackendConfig{User: "postgres", SSLMode: "verify-full", SSLRootCert: "/etc/sqlrouter/tls/shards-ca.crt",
			Clusters: map[string]router.Credentials{"s1": {User: "router_s1", Password: "s1-secret", SSLMode: "require"}}, ConnectTimeout: 5 * time.Second,
			ConnectAttempts: 3, ConnectBackoff: 100 * time.Millisecond},
		Pool: router.PoolConfig{Mode: "transaction", MaxConnsPerNode: 100, AcquireTimeout: 5 * time.Second, MaxWaiting: 1000,
			IdleTimeout: 5 * time.Minute, MaxLifetime: time.Hour},
		Limits:   router.LimitsConfig{MaxMessageSize: 64 << 20, StartupTimeout: 15 * time.Second, MaxClientConns: 10000},
		Breaker:  router.BreakerConfig{Threshold: 5, Cooldown: 5 * time.Second},
		Shutdown: router.ShutdownConfig{DrainTimeout: 30 * time.Second},
		Metrics:  router.MetricsConfig{Listen: "127.0.0.1:9187"},
		Txn:      router.TxnConfig{DecisionPrefix: "/sqlrouter/txn/", RoutersPrefix: "/sqlrouter/routers/", LeaseTTL: 10 * time.Second, RecoveryInterval: 30 * time.Second, NoDecisionTimeout: 60 * time.Second},
		Replication: router.ReplicationConfig{DefaultConsistency: "ryw", MaxReplicaLag: time.Second, RYWWait: 50 * time.Millisecond,
			PollInterval: time.Second, Policy: "round_robin", PrimaryReads: "allowed", FailThreshold: 2},
		Sequences: router.SequencesConfig{SlotPrefix: "/sqlrouter/sequence_slots/"},
		Log:       router.LogConfig{Level: "info", Format: "text"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the sample configuration does not validate: %v", err)
	}
	text, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range configKeys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(text), leaf+":") {
			t.Errorf("the sample configuration does not document %s", key)
		}
	}
}

// The environment overrides the file and flags override the environment.
func TestConfigPrecedence(t *testing.T) {
	t.Setenv("SQLROUTER_LISTEN", "127.0.0.1:7000")
	t.Setenv("SQLROUTER_ETCD_ENDPOINTS", "etcd-a:2379,etcd-b:2379")
	t.Setenv("SQLROUTER_POOL_MAX_CONNS_PER_NODE", "7")
	t.Setenv("SQLROUTER_LIMITS_STARTUP_TIMEOUT", "3s")
	t.Setenv("SQLROUTER_TLS_REQUIRE", "false")
	t.Setenv("SQLROUTER_BACKEND_CLUSTERS_S1_PASSWORD", "from-env")
	t.Setenv("SQLROUTER_BACKEND_CLUSTERS_S2_SSLMODE", "verify-full")
	cmd := serveCommand()
	if err := cmd.Flags().Parse([]string{"--listen", "127.0.0.1:8000"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(sampleConfig, cmd.Flags(), serveFlags)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8000" {
		t.Errorf("listen = %q: the flag must win", cfg.Listen)
	}
	if !reflect.DeepEqual(cfg.Etcd.Endpoints, []string{"etcd-a:2379", "etcd-b:2379"}) {
		t.Errorf("etcd.endpoints = %q: the environment must win over the file", cfg.Etcd.Endpoints)
	}
	if cfg.Pool.MaxConnsPerNode != 7 || cfg.Limits.StartupTimeout != 3*time.Second {
		t.Errorf("pool %d, startup timeout %v from the environment", cfg.Pool.MaxConnsPerNode, cfg.Limits.StartupTimeout)
	}
	if cfg.TLS.Require {
		t.Error("tls.require: the environment's false must win over the file's true")
	}
	wantClusters := map[string]router.Credentials{
		"s1": {User: "router_s1", Password: "from-env", SSLMode: "require"}, // the file's, one field from the environment
		"s2": {SSLMode: "verify-full"},
	}
	if !reflect.DeepEqual(cfg.Backend.Clusters, wantClusters) {
		t.Errorf("backend.clusters %+v, want %+v", cfg.Backend.Clusters, wantClusters)
	}
	if cfg.Auth.Method != "scram-sha-256" {
		t.Errorf("auth.method %q: unset keys come from the file", cfg.Auth.Method)
	}
}

// A typo in the configuration file is an error, not a silently ignored key.
func TestConfigRejectsUnknownKeys(t *testing.T) {
	f := t.TempDir() + "/bad.yaml"
	os.WriteFile(f, []byte("listen: 127.0.0.1:1\npool:\n  max_conns_per_nod: 3\n"), 0o644)
	if _, err := loadConfig(f, serveCommand().Flags(), serveFlags); err == nil || !strings.Contains(err.Error(), "max_conns_per_nod") {
		t.Errorf("unknown key: %v", err)
	}
}
