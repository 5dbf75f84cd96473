package router

import (
	"reflect"
	"strings"
	"testing"
)

// Per-cluster logins come from SQLROUTER_BACKEND_CLUSTERS_<NAME>_<FIELD>,
// over the file's; a cluster's settings override the global ones, which
// override the URL's (empty fields).
func TestClusterLoginsFromEnvironment(t *testing.T) {
	cfg := BackendConfig{
		User: "router", Password: "global", SSLMode: "verify-full", SSLRootCert: "/ca.crt",
		Clusters: map[string]Credentials{"s1": {User: "file-user", Password: "file-pw"}},
	}
	err := cfg.ClustersFromEnv([]string{
		"HOME=/root",
		"SQLROUTER_BACKEND_PASSWORD=ignored-here", // a plain key, read by viper
		"SQLROUTER_BACKEND_CLUSTERS_S1_PASSWORD=env-pw",
		"SQLROUTER_BACKEND_CLUSTERS_EAST_2_USER=east",
		"SQLROUTER_BACKEND_CLUSTERS_EAST_2_SSLMODE=require",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Credentials{
		"s1":     {User: "file-user", Password: "env-pw"},
		"east_2": {User: "east", SSLMode: "require"},
	}
	if !reflect.DeepEqual(cfg.Clusters, want) {
		t.Errorf("clusters %+v, want %+v", cfg.Clusters, want)
	}
	d := &dialer{cfg: cfg}
	for cluster, want := range map[string]login{
		"S1":     {user: "file-user", password: "env-pw", settings: map[string]string{"sslmode": "verify-full", "sslrootcert": "/ca.crt"}},
		"East_2": {user: "east", password: "global", settings: map[string]string{"sslmode": "require", "sslrootcert": "/ca.crt"}},
		"s9":     {user: "router", password: "global", settings: map[string]string{"sslmode": "verify-full", "sslrootcert": "/ca.crt"}},
	} {
		if got := d.login(cluster); !reflect.DeepEqual(got, want) {
			t.Errorf("login(%s) = %+v, want %+v", cluster, got, want)
		}
	}
	if got := (&dialer{}).login("s0"); got.user != "" || got.password != "" || got.settings != nil {
		t.Errorf("an empty configuration overrides the URL: %+v", got)
	}
}

func TestClusterEnvironmentErrors(t *testing.T) {
	for _, kv := range []string{
		"SQLROUTER_BACKEND_CLUSTERS_S1_PASSWROD=x",
		"SQLROUTER_BACKEND_CLUSTERS__USER=x",
		"SQLROUTER_BACKEND_CLUSTERS_PASSWORD=x",
	} {
		var cfg BackendConfig
		err := cfg.ClustersFromEnv([]string{kv})
		if err == nil {
			t.Errorf("%s was accepted", kv)
			continue
		}
		if strings.Contains(err.Error(), "=x") {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
}

func TestBackendValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  BackendConfig
		want string
	}{
		{BackendConfig{SSLMode: "verify-full"}, ""},
		{BackendConfig{SSLMode: "always"}, "sslmode"},
		{BackendConfig{SSLCert: "/c.crt"}, "sslkey"},
		{BackendConfig{Clusters: map[string]Credentials{"s1": {SSLMode: "Require"}}}, "clusters.s1.sslmode"},
		{BackendConfig{Clusters: map[string]Credentials{"s1": {SSLKey: "/k"}}}, "clusters.s1.sslcert"},
	} {
		err := tc.cfg.validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want an error about %q", tc.cfg, err, tc.want)
		}
	}
}
