//go:build !unix

package proxy

import "net"

// canWatch is false: hang-ups are seen when the session next reads.
const canWatch = false

func waitHangUp(net.Conn) bool { return false }

func unblockWait(net.Conn) {}
