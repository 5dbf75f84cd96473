// Package breaker holds the router's circuit breakers: one per backend
// server, keyed by the server's URL in the shard map.
//
// A breaker is closed while its server answers. Threshold connection or
// I/O failures in a row open it: from then on connections to the server
// fail at once (the caller reports ErrOpen) instead of each waiting for a
// connect timeout, so that one dead server cannot hold every client that
// needs it. After a cool-down the breaker is half-open: one probe connects
// to the server, and closes the breaker when it succeeds or opens it for
// another cool-down when it fails. Any successful connection closes it too.
package breaker
