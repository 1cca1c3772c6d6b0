package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"github.com/firebreak-dev/firebreak/observability"
)

// observer is a long-running command's observability: Prometheus metrics of firebreak and of
// the Temporal SDK, recorded by every client and worker the command builds, and OpenTelemetry
// tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set.
type observer struct {
	metrics      *observability.Metrics
	interceptors []interceptor.ClientInterceptor
	tracer       *sdktrace.TracerProvider
	server       *http.Server
	logger       *slog.Logger
}

// startObserver builds the command's observer. With listen set, /metrics is served there
// (firebreak worker --metrics-listen); serve and dev add the metrics to their own /metrics
// with withMetrics instead. Tracing follows the OpenTelemetry variables: it is on when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, exporting
// OTLP over HTTP; OTEL_SERVICE_NAME names the service (default firebreak).
func startObserver(ctx context.Context, logger *slog.Logger, listen string) (*observer, error) {
	o := &observer{metrics: observability.New(), logger: logger}
	o.interceptors = append(o.interceptors, o.metrics.Interceptor())
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OpenTelemetry OTLP exporter (OTEL_EXPORTER_OTLP_ENDPOINT): %w", err)
		}
		// service.name is firebreak unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
		res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "firebreak")), resource.WithFromEnv(), resource.WithTelemetrySDK())
		if err != nil {
			return nil, fmt.Errorf("OpenTelemetry resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
		}
		o.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		ti, err := observability.TracingInterceptor(o.tracer)
		if err != nil {
			_ = o.tracer.Shutdown(ctx)
			return nil, err
		}
		o.interceptors = append(o.interceptors, ti)
	}
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			o.Close()
			return nil, usagef("cannot listen on %s (--metrics-listen): %v", listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", o.metrics.Handler())
		o.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := o.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server stopped", "err", err)
			}
		}()
		logger.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	return o, nil
}

// Close stops the metrics listener and flushes the spans not yet exported.
func (o *observer) Close() {
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if o.server != nil {
		_ = o.server.Shutdown(ctx)
	}
	if o.tracer != nil {
		if err := o.tracer.Shutdown(ctx); err != nil {
			o.logger.Warn("flushing OpenTelemetry spans", "err", err)
		}
	}
}

// instrument has the client built from opts, and every worker built on that client, record
// the observer's metrics and traces. A nil observer leaves opts alone.
func (o *observer) instrument(opts *client.Options) {
	if o == nil {
		return
	}
	opts.MetricsHandler = o.metrics.TemporalHandler()
	opts.Interceptors = append(opts.Interceptors, o.interceptors...)
}

// withMetrics serves h, with the observer's metrics appended to h's own GET /metrics (the
// chatops request counters), so one scrape of serve or dev gets everything.
func (o *observer) withMetrics(h http.Handler) http.Handler {
	if o == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		inner := &bufferedResponse{header: http.Header{}}
		h.ServeHTTP(inner, r)
		if inner.code != 0 && inner.code != http.StatusOK {
			for k, v := range inner.header {
				w.Header()[k] = v
			}
			w.WriteHeader(inner.code)
			_, _ = w.Write(inner.body.Bytes())
			return
		}
		var out bytes.Buffer
		out.Write(inner.body.Bytes())
		if err := o.metrics.WriteText(&out); err != nil {
			o.logger.Warn("collecting metrics", "err", err)
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(out.Bytes())
	})
}

// bufferedResponse holds a response in memory so withMetrics can add to it.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// observerKey carries a command's observer in its context to connectTemporal.
type observerKey struct{}

// withObserver returns ctx carrying o: connectTemporal instruments the clients it builds
// under ctx.
func withObserver(ctx context.Context, o *observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// instrument applies the observer carried by ctx, if any, to opts.
func instrument(ctx context.Context, opts *client.Options) {
	o, _ := ctx.Value(observerKey{}).(*observer)
	o.instrument(opts)
}

// addMetricsListenFlag adds --metrics-listen (FIREBREAK_METRICS_LISTEN): where a worker
// serves GET /metrics; empty serves none.
func addMetricsListenFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "metrics-listen", os.Getenv("FIREBREAK_METRICS_LISTEN"), "address to serve Prometheus metrics on at /metrics, e.g. 127.0.0.1:9464 (FIREBREAK_METRICS_LISTEN); empty: none")
}
