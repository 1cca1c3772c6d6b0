package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// ErrAddressInUse is returned (wrapped) by Start when the frontend address is
// already taken by another process or server.
var ErrAddressInUse = errors.New("address already in use")

// portInUseError builds the error Start returns when addr cannot be bound.
func portInUseError(addr string, cause error) error {
	return fmt.Errorf("temporal frontend address %s: %w (another Temporal server may be running; choose another port with --temporal-port): %v",
		addr, ErrAddressInUse, cause)
}

// isAddrInUse reports whether err is the operating system's "address already
// in use" error.
func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE)
}

// checkPortFree binds addr and releases it at once, so that an occupied port is
// reported before the server starts (the server's own bind error is buried in
// fx start-up output).
func checkPortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if isAddrInUse(err) {
			return portInUseError(addr, err)
		}
		return fmt.Errorf("temporal frontend address %s cannot be bound: %w", addr, err)
	}
	return l.Close()
}

// freePort returns a TCP port on host that nothing listens on.
//
// Picking a port and binding it later is racy; several servers starting in one
// test binary make that race real. As in the Temporal CLI's dev server, the
// port is left with a connection in TIME_WAIT: Linux then does not hand it out
// again for bind(:0) for about a minute, while an explicit bind (Go sets
// SO_REUSEADDR) still succeeds.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	c, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	// Closing the accepted side first puts the server end in TIME_WAIT.
	_ = s.Close()
	return port, nil
}
