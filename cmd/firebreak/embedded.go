//go:build !noserver

package main

import (
	"context"

	"github.com/firebreak-dev/firebreak/testenv/devserver"
)

// unreachableHint follows "cannot reach Temporal at ADDR (from TEMPORAL_ADDRESS…".
const unreachableHint = "start `firebreak dev`, or unset it to use an embedded server"

// startEmbedded starts a Temporal server inside this process (testenv/devserver): in memory
// for a command run without TEMPORAL_ADDRESS, persisted to opts.DBFile for `firebreak dev`.
// It is the only place cmd/firebreak links the Temporal server; a binary built with
// -tags noserver gets embedded_noserver.go instead.
func startEmbedded(ctx context.Context, opts embeddedOptions) (embeddedServer, error) {
	return devserver.Start(ctx, devserver.Options{
		DBFile: opts.DBFile, IP: opts.IP, FrontendPort: opts.FrontendPort, Namespace: opts.Namespace, Logger: opts.Logger,
	})
}
