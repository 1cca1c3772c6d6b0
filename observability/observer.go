package observability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
)

// Observer is a long-running command's observability: Prometheus metrics of firebreak and of
// the Temporal SDK, recorded by every client and worker the command builds, and OpenTelemetry
// tracing when started with it. A nil *Observer does nothing.
type Observer struct {
	metrics      *Metrics
	interceptors []interceptor.ClientInterceptor
	tracer       *sdktrace.TracerProvider
	server       *http.Server
	logger       *slog.Logger
}

// Start builds a command's observer: Prometheus metrics of firebreak and of the Temporal SDK,
// and, with tracing, OpenTelemetry traces exported as OTLP over HTTP, configured by the
// OpenTelemetry variables the exporter reads itself (OTEL_EXPORTER_OTLP_ENDPOINT…);
// OTEL_SERVICE_NAME names the service (default firebreak). Serve and dev add the metrics to
// their own /metrics with WithMetrics; a worker serves them with ServeMetrics.
func Start(ctx context.Context, logger *slog.Logger, tracing bool) (*Observer, error) {
	o := &Observer{metrics: New(), logger: logger}
	o.interceptors = append(o.interceptors, o.metrics.Interceptor())
	if tracing {
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
		ti, err := TracingInterceptor(o.tracer)
		if err != nil {
			_ = o.tracer.Shutdown(ctx)
			return nil, err
		}
		o.interceptors = append(o.interceptors, ti)
	}
	return o, nil
}

// ServeMetrics serves GET /metrics on ln until Close (firebreak worker --metrics-listen).
func (o *Observer) ServeMetrics(ln net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.Handler())
	o.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := o.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.logger.Error("metrics server stopped", "err", err)
		}
	}()
	o.logger.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
}

// Close stops the metrics listener and flushes the spans not yet exported.
func (o *Observer) Close() {
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

// Instrument has the client built from opts, and every worker built on that client, record
// the observer's metrics and traces. A nil observer leaves opts alone.
func (o *Observer) Instrument(opts *client.Options) {
	if o == nil {
		return
	}
	opts.MetricsHandler = o.metrics.TemporalHandler()
	opts.Interceptors = append(opts.Interceptors, o.interceptors...)
}

// WithMetrics serves h, with the observer's metrics appended to h's own GET /metrics (the
// chatops request counters), so one scrape of serve or dev gets everything.
func (o *Observer) WithMetrics(h http.Handler) http.Handler {
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

// bufferedResponse holds a response in memory so WithMetrics can add to it.
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

// observerKey carries a command's observer in its context.
type observerKey struct{}

// NewContext returns ctx carrying o, for the clients built under ctx.
func NewContext(ctx context.Context, o *Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// FromContext is the observer ctx carries; nil when none (whose methods do nothing).
func FromContext(ctx context.Context) *Observer {
	o, _ := ctx.Value(observerKey{}).(*Observer)
	return o
}
