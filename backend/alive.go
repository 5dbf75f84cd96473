package backend

import (
	"errors"
	"net"
	"syscall"
)

// socketQuiet peeks at the socket under nc without blocking: true when
// nothing is waiting to be read and the peer has not closed it.
func socketQuiet(nc net.Conn) bool {
	for {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		nc = u.NetConn() // TLS: any record waiting counts
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true // not a socket (tests): nothing to learn
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		quiet = n < 0 && errors.Is(rerr, syscall.EAGAIN)
		return true // never wait for readiness
	})
	return err == nil && quiet
}
