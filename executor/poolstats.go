package executor

// PoolStats is the state of the backend connections to one server, for
// metrics and SHOW sqlrouter.pools.
type PoolStats struct {
	// Cluster, Node (host:port) and Role (primary, replica, coordinator)
	// name the server.
	Cluster, Node, Role string
	// InUse are connections lent to client sessions, Idle connections
	// ready to be lent, Waiting the requests queued for one.
	InUse, Idle, Waiting int
	// Max is the most connections the router opens to the server.
	Max int
}

// PoolReporter is implemented by whatever holds the backend connections:
// it reports every server it has connections to (or had, with zeros).
type PoolReporter interface {
	PoolStats() []PoolStats
}
