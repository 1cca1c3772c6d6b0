package main

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/observability"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/workflows"
)

// temporalConn is a client of either the cluster named by TEMPORAL_ADDRESS or an embedded
// server started for the life of the command (service.Conn).
type temporalConn = service.Conn

// embeddedServer is a Temporal server running inside this process, started by startEmbedded
// (embedded.go). A binary built with -tags noserver has none (embedded_noserver.go), which
// leaves the Temporal server's code out of it.
type embeddedServer = service.Server

// embeddedOptions configures startEmbedded.
type embeddedOptions = service.EmbeddedOptions

// dialTemporal dials TEMPORAL_ADDRESS (namespace TEMPORAL_NAMESPACE, default "default") when
// it is set, and otherwise starts an in-memory embedded server.
func dialTemporal(ctx context.Context, st *settings, logger *slog.Logger) (*temporalConn, error) {
	return service.Dial(ctx, serviceOptions(ctx, st, logger))
}

// serviceOptions wires the command's settings and logger, this binary's embedded server and
// the observer ctx carries, if any, into the service.
func serviceOptions(ctx context.Context, st *settings, logger *slog.Logger) service.Options {
	o := service.Options{Settings: st.conf(), Logger: logger, Embedded: startEmbedded, UnreachableHint: unreachableHint,
		Instrument: observability.FromContext(ctx).Instrument}
	if logger != nil { // the SDK's records at the level they mean (observability.SDKLog)
		o.SDKLogger = slog.New(observability.SDKLog(logger.Handler()))
	}
	return o
}

// Where a payload key may come from when FIREBREAK_CODEC_KEY is not set (service.KeySource).
const (
	keyEphemeral = service.KeyEphemeral
	keyCreate    = service.KeyCreate
	keyExisting  = service.KeyExisting
)

// loadCodec builds the payload codec from FIREBREAK_CODEC_KEY, or else as src says.
func loadCodec(st *settings, stateDir string, src service.KeySource) (*workflows.Codec, error) {
	return service.LoadCodec(st.conf(), stateDir, src)
}

// clusterAuth configures TLS and credentials for a cluster or Temporal Cloud (TEMPORAL_TLS_*,
// TEMPORAL_API_KEY).
func clusterAuth(st *settings, o *client.Options) error { return service.ClusterAuth(st.conf(), o) }
