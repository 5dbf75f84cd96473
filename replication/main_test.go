package replication

import (
	"flag"
	"os"
	"testing"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// dep is the package's deployment: one cluster, s0, of a primary and two
// streaming replicas.
var dep *localdeploy.Deployment

func TestMain(m *testing.M) {
	flag.Parse()
	// The workers of go test -fuzz run only the fuzz target: no servers.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	os.Exit(localdeploy.RunTests(m, localdeploy.Options{Shards: 1, Replicas: 2}, &dep))
}
