package localdeploy

import (
	"fmt"
	"net"
)

// freePort asks the kernel for a free TCP port on 127.0.0.1 and releases
// it. Another process may take it before the caller binds it, so callers
// retry with a new port when the bind fails. A variable so that a test can
// hand out a busy port first.
var freePort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localdeploy: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// maxPortAttempts bounds the retries after a lost race for a port.
const maxPortAttempts = 5
