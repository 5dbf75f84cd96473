package backend

import (
	"net"
	"syscall"
)

// peeker looks at a socket without reading from it. Made once per
// connection, so that a check allocates nothing.
type peeker struct {
	raw   syscall.RawConn
	quiet bool
	fn    func(fd uintptr) bool
}

func newPeeker(nc net.Conn) *peeker {
	for {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		nc = u.NetConn() // TLS: any record waiting counts
	}
	p := &peeker{}
	if sc, ok := nc.(syscall.Conn); ok {
		p.raw, _ = sc.SyscallConn()
	}
	p.fn = func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.quiet = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true // never wait for readiness
	}
	return p
}

// check reports, without blocking, that nothing is waiting to be read and
// the peer has not closed the socket.
func (p *peeker) check() bool {
	if p.raw == nil {
		return true // not a socket (tests): nothing to learn
	}
	p.quiet = false
	if err := p.raw.Read(p.fn); err != nil {
		return false
	}
	return p.quiet
}
