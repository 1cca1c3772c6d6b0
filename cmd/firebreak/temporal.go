package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/firebreak-dev/firebreak/testenv/devserver"
)

// temporalConn is a client of either the cluster named by TEMPORAL_ADDRESS or an embedded
// server started for the life of the command.
type temporalConn struct {
	Client   client.Client
	Address  string
	Embedded bool
	server   *devserver.Server
}

// connectTemporal dials TEMPORAL_ADDRESS (namespace TEMPORAL_NAMESPACE, default "default") when
// it is set, and otherwise starts an in-memory embedded server.
func connectTemporal(ctx context.Context, logger *slog.Logger) (*temporalConn, error) {
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	conn := &temporalConn{Address: os.Getenv("TEMPORAL_ADDRESS")}
	if conn.Address == "" {
		srv, err := devserver.Start(ctx, devserver.Options{Namespace: ns, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
		}
		conn.server, conn.Address, conn.Embedded = srv, srv.FrontendHostPort(), true
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: conn.Address, Namespace: ns, Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		conn.Close()
		hint := ""
		if !conn.Embedded {
			hint = " (from TEMPORAL_ADDRESS; start `firebreak dev`, or unset it to use an embedded server)"
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s%s: %w", conn.Address, hint, err)
	}
	conn.Client = c
	return conn, nil
}

// Close closes the client and stops the embedded server, if any.
func (c *temporalConn) Close() {
	if c.Client != nil {
		c.Client.Close()
	}
	if c.server != nil {
		_ = c.server.Stop()
	}
}
