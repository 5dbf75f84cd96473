//go:build unix

package proxy

import (
	"net"
	"syscall"
	"time"
)

// canWatch is true where waitHangUp can see a hang-up.
const canWatch = true

// rawConn is the TCP (or Unix) socket under nc, TLS or not.
func rawConn(nc net.Conn) net.Conn {
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok {
		return t.NetConn()
	}
	return nc
}

// waitHangUp blocks until the client hangs up (true: it closed or reset
// the connection, or sent Terminate), or until it sends anything else or
// unblockWait is called (false). It peeks at the socket without consuming
// what the client sent, so the session reads it later as usual.
func waitHangUp(nc net.Conn) bool {
	sc, ok := rawConn(nc).(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	hungUp := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
			return false // nothing yet: wait until readable
		case err != nil:
			hungUp = true // reset
		case n == 0:
			hungUp = true // closed
		default:
			hungUp = buf[0] == 'X' // Terminate (clear text only), else alive
		}
		return true
	})
	return err == nil && hungUp
}

// unblockWait makes a waitHangUp in progress return; the caller resets
// the read deadline once it has.
func unblockWait(nc net.Conn) { rawConn(nc).SetReadDeadline(time.Unix(1, 0)) }
