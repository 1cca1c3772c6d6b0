package observability

import (
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// TracerName names the tracer firebreak's spans come from.
const TracerName = "github.com/firebreak-dev/firebreak"

// TracingInterceptor returns the Temporal SDK's OpenTelemetry interceptor over tp: spans for
// starting a run, running the workflow, each activity, update, signal and query, joined into
// one trace across the client, the workflow and the workers through Temporal headers. Like
// Interceptor, it is a client and a worker interceptor; workflow spans are not re-emitted
// when a worker replays history.
func TracingInterceptor(tp trace.TracerProvider) (interceptor.Interceptor, error) {
	return temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer(TracerName)})
}
