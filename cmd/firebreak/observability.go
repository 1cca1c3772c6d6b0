package main

import (
	"context"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/observability"
)

// observer is a long-running command's observability (observability.Observer).
type observer = observability.Observer

// startObserver builds the command's observer. With listen set, /metrics is served there
// (firebreak worker --metrics-listen); serve and dev add the metrics to their own /metrics
// instead. Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set.
func startObserver(ctx context.Context, logger *slog.Logger, listen string) (*observer, error) {
	tracing := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	o, err := observability.Start(ctx, logger, tracing)
	if err != nil || listen == "" {
		return o, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		o.Close()
		return nil, usagef("cannot listen on %s (--metrics-listen): %v", listen, err)
	}
	o.ServeMetrics(ln)
	return o, nil
}

// addMetricsListenFlag adds --metrics-listen (FIREBREAK_METRICS_LISTEN): where a worker
// serves GET /metrics; empty serves none.
func addMetricsListenFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "metrics-listen", os.Getenv("FIREBREAK_METRICS_LISTEN"), "address to serve Prometheus metrics on at /metrics, e.g. 127.0.0.1:9464 (FIREBREAK_METRICS_LISTEN); empty: none")
}
