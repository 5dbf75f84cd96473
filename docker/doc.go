// Package docker holds the Docker Compose deployment of sqlrouter
// (compose.yaml, the Dockerfile, the router's configuration and shard map,
// and the scripts the postgres containers run) and, in its tests, what can
// be proven about it without a Docker engine: that the files agree with
// each other and with the code, that the scripts parse, that the replica
// bootstrap script makes a streaming replica of a real PostgreSQL, and that
// the router configured as in the compose file serves the example and
// passes its health check. The package has no code of its own; the health
// check program is in docker/healthcheck.
package docker
