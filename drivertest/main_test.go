package drivertest

import (
	"os"
	"testing"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
)

var stack *devstack.Stack

// The embedded default (TLS with its self-signed certificate, SCRAM for
// user app), with TLS required: a driver that connected did so over TLS.
func TestMain(m *testing.M) {
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 2, Replicas: localdeploy.None, Router: func(c *router.Config) {
		c.TLS.Require = true
	}}, &stack))
}
