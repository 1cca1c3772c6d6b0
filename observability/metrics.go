// Package observability exports what firebreak's workers and servers do as Prometheus
// metrics — firebreak's own (runs, steps, time to contain, approvals waiting, Slack and
// PagerDuty delivery lag) and the Temporal SDK's — and adds the run's step to activity log
// lines. Its worker interceptor observes the interpreter workflow and every activity, so
// workflow code carries no metrics calls; everything it records in workflow code is skipped
// while the SDK replays history, so a worker restart never counts a run twice.
//
// Only cmd/firebreak (and tests) import it.
package observability

import (
	"bytes"
	"io"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"go.temporal.io/sdk/client"
)

// Label values of the mode label.
const (
	ModeDrill      = "drill"
	ModeProduction = "production"
)

// Outcome label values beyond the interpreter's own (workflows.OutcomeContained and
// workflows.OutcomeFailed): a run refused before it began (a drill input on the production
// queue, a missing input) or that ended in an error the interpreter did not classify, and a
// cancelled run.
const (
	OutcomeError    = "error"
	OutcomeCanceled = "canceled"
)

// Histogram buckets, in seconds.
var (
	// stepBuckets reach from a sandbox call (milliseconds) to an approval a person answers
	// within the hour.
	stepBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	// containBuckets centre on the 500 ms target of the embedded server and reach an hour for
	// runs that wait for a person before they contain.
	containBuckets = []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	// deliveryBuckets cover a message delivered at once up to one that waited in the
	// reporter's outbox through an outage (it gives up after workflows.ReportBacklogBound, 1 h).
	deliveryBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600}
	// responseBuckets: how long a person took to decide.
	responseBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600}
)

// Metrics is one Prometheus registry holding firebreak's metrics, the Temporal SDK's (through
// TemporalHandler) and the Go runtime's and process's. Build one per process with New.
type Metrics struct {
	registry *prometheus.Registry
	sdk      *sdkMetrics

	runsStarted      *prometheus.CounterVec
	runsFinished     *prometheus.CounterVec
	stepDuration     *prometheus.HistogramVec
	timeToContain    *prometheus.HistogramVec
	approvalsWaiting *prometheus.GaugeVec
	approvalResponse *prometheus.HistogramVec
	deliveryLag      *prometheus.HistogramVec
	deliveries       *prometheus.CounterVec
}

// New returns a Metrics with every firebreak metric registered (series appear as they are
// first observed).
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		sdk:      newSDKMetrics(),
		runsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_runs_started_total",
			Help: "Playbook runs started by the interpreter workflow, by playbook and mode (drill, production). A run counts once, on the worker that starts it, never on a replay.",
		}, []string{"playbook", "mode"}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_runs_finished_total",
			Help: "Playbook runs finished, by playbook, mode and outcome (contained, failed, error, canceled). Runs terminated or timed out by Temporal never finish in a worker and are not counted here.",
		}, []string{"playbook", "mode", "outcome"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_step_duration_seconds",
			Help:    "Duration of each step that started, in workflow time (retries and waits for people included), by playbook, action and final status; observed when the run finishes. Compensations count under their undo action.",
			Buckets: stepBuckets,
		}, []string{"playbook", "action", "status"}),
		timeToContain: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_time_to_contain_seconds",
			Help:    "Time from the trigger to the moment the subject's access was cut (the last reversible containment step's success), for runs that contained, by playbook and mode.",
			Buckets: containBuckets,
		}, []string{"playbook", "mode"}),
		approvalsWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "firebreak_approvals_waiting",
			Help: "Decisions (approval, manual, escalation) open now in the runs this worker holds, by playbook and kind. Sum over workers for the fleet.",
		}, []string{"playbook", "kind"}),
		approvalResponse: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_approval_response_seconds",
			Help:    "Time from a decision being asked for to each answer, by playbook, kind and decision; observed when the run finishes.",
			Buckets: responseBuckets,
		}, []string{"playbook", "kind", "decision"}),
		deliveryLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_delivery_lag_seconds",
			Help:    "Slack and PagerDuty delivery lag: from the workflow scheduling the message to its successful delivery, all retries included, by integration and activity.",
			Buckets: deliveryBuckets,
		}, []string{"integration", "activity"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_delivery_attempts_total",
			Help: "Slack and PagerDuty delivery attempts by integration, activity and result: delivered, retry (failed, will be retried) or failed (given up).",
		}, []string{"integration", "activity", "result"}),
	}
	m.registry.MustRegister(
		m.runsStarted, m.runsFinished, m.stepDuration, m.timeToContain,
		m.approvalsWaiting, m.approvalResponse, m.deliveryLag, m.deliveries,
		m.sdk,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the registry behind m, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// TemporalHandler is the client.MetricsHandler to set in client.Options.MetricsHandler: the
// SDK's own metrics (temporal_request_total, temporal_activity_execution_latency_seconds…)
// land in m with the SDK's tags as labels. Counters get a _total suffix and timers become
// histograms in seconds with a _seconds suffix.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	return sdkHandler{m: m.sdk, cache: &sync.Map{}}
}

// Handler serves m in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// WriteText writes every metric of m in the Prometheus text format, for an endpoint that
// appends them to metrics of its own.
func (m *Metrics) WriteText(w io.Writer) error {
	families, err := m.registry.Gather()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	if _, werr := w.Write(buf.Bytes()); werr != nil {
		return werr
	}
	return err // a collection error still writes what was gathered
}
