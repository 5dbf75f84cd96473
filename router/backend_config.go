package router

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ClusterEnvPrefix starts the environment variables that set one
// cluster's backend login: SQLROUTER_BACKEND_CLUSTERS_<CLUSTER>_<FIELD>,
// FIELD one of USER, PASSWORD, SSLMODE, SSLROOTCERT, SSLCERT, SSLKEY.
const ClusterEnvPrefix = "SQLROUTER_BACKEND_CLUSTERS_"

// clusterEnvFields maps the FIELD of a cluster environment variable to
// the Credentials field it sets.
var clusterEnvFields = map[string]func(*Credentials, string){
	"USER":        func(c *Credentials, v string) { c.User = v },
	"PASSWORD":    func(c *Credentials, v string) { c.Password = v },
	"SSLMODE":     func(c *Credentials, v string) { c.SSLMode = v },
	"SSLROOTCERT": func(c *Credentials, v string) { c.SSLRootCert = v },
	"SSLCERT":     func(c *Credentials, v string) { c.SSLCert = v },
	"SSLKEY":      func(c *Credentials, v string) { c.SSLKey = v },
}

// ClustersFromEnv sets per-cluster backend logins from environment
// entries ("NAME=value", as os.Environ returns them):
// SQLROUTER_BACKEND_CLUSTERS_S1_PASSWORD=secret sets the password of
// cluster s1, overriding the configuration file. Cluster names are matched
// without regard to case. An unknown FIELD is an error.
func (c *BackendConfig) ClustersFromEnv(environ []string) error {
	for _, kv := range slices.Sorted(slices.Values(environ)) { // a stable order for errors
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, ClusterEnvPrefix)
		if !ok {
			continue
		}
		cut := strings.LastIndex(rest, "_")
		set, known := clusterEnvFields[rest[cut+1:]]
		if cut <= 0 || !known {
			return fmt.Errorf("environment variable %s: want %s<CLUSTER>_<FIELD>, FIELD one of USER, PASSWORD, SSLMODE, SSLROOTCERT, SSLCERT, SSLKEY", name, ClusterEnvPrefix)
		}
		cluster := strings.ToLower(rest[:cut])
		if c.Clusters == nil {
			c.Clusters = map[string]Credentials{}
		}
		creds := c.cluster(cluster)
		set(&creds, value)
		c.Clusters[cluster] = creds
	}
	return nil
}

// cluster returns the per-cluster settings of a cluster, whose name is
// matched without regard to case (configuration keys are read in lower
// case).
func (c BackendConfig) cluster(name string) Credentials {
	if creds, ok := c.Clusters[name]; ok {
		return creds
	}
	for k, creds := range c.Clusters {
		if strings.EqualFold(k, name) {
			return creds
		}
	}
	return Credentials{}
}

// sslModes are libpq's sslmode values.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

func (c BackendConfig) validate() error {
	check := func(where string, cr Credentials) error {
		if cr.SSLMode != "" && !slices.Contains(sslModes, cr.SSLMode) {
			return fmt.Errorf("%ssslmode %q: want one of %s", where, cr.SSLMode, strings.Join(sslModes, ", "))
		}
		if (cr.SSLCert == "") != (cr.SSLKey == "") {
			return fmt.Errorf("%ssslcert and %ssslkey go together", where, where)
		}
		return nil
	}
	if err := check("", Credentials{SSLMode: c.SSLMode, SSLCert: c.SSLCert, SSLKey: c.SSLKey}); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(c.Clusters)) {
		if err := check("clusters."+name+".", c.Clusters[name]); err != nil {
			return err
		}
	}
	return nil
}
