package observability_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/observability"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// syncBuffer is a log sink shared by the worker's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rig is an embedded Temporal server, the sandbox, and a drill worker built as cmd/firebreak
// builds one, with the metrics and tracing interceptors on the client.
type rig struct {
	t     *testing.T
	ctx   context.Context
	c     client.Client
	m     *observability.Metrics
	spans *tracetest.SpanRecorder
	logs  *syncBuffer
	sb    *testenv.Sandbox
	store evidence.Store
	w     worker.Worker
	lib   *playbooks.Library
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		t.Fatalf("starting the embedded server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	codec, err := workflows.NewCodec("k", map[string][]byte{"k": key})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, m: observability.New(), spans: tracetest.NewSpanRecorder(), logs: &syncBuffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracing, err := observability.TracingInterceptor(tp)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.c, err = client.DialContext(ctx, client.Options{
		HostPort: srv.FrontendHostPort(), Namespace: srv.Namespace(),
		Logger: tlog.NewStructuredLogger(logger), DataConverter: workflows.DataConverter(codec), FailureConverter: workflows.FailureConverter(codec),
		MetricsHandler: r.m.TemporalHandler(),
		// Tracing outside metrics, as cmd/firebreak orders them, so activity spans get the step.
		Interceptors: []interceptor.ClientInterceptor{tracing, r.m.Interceptor()},
	})
	if err != nil {
		t.Fatalf("dialling the embedded server: %v", err)
	}
	t.Cleanup(r.c.Close)
	r.sb = testenv.NewSandbox(nil)
	t.Cleanup(r.sb.Close)
	if r.store, err = evidence.OpenFileStore(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if r.lib, err = playbooks.LoadLibrary(""); err != nil {
		t.Fatal(err)
	}
	r.startWorker()
	t.Cleanup(r.stopWorker)
	return r
}

func (r *rig) startWorker() {
	r.t.Helper()
	// A short sticky timeout hands a run to the next worker quickly after a restart, and a
	// stop lets running activities finish, as a worker shut down by its orchestrator does.
	w := worker.New(r.c, workflows.DrillTaskQueue, worker.Options{StickyScheduleToStartTimeout: time.Second, WorkerStopTimeout: 10 * time.Second})
	workflows.Register(w, workflows.WithDecisionKeys(workflows.NewSigner(workflows.SandboxDecisionKey()).Public()))
	if err := r.sb.Register(w, r.store); err != nil {
		r.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		r.t.Fatalf("starting the worker: %v", err)
	}
	r.w = w
}

// stopWorker stops the worker and empties the SDK's workflow cache, as a process restart
// does: the next worker must replay each run's history from the start.
func (r *rig) stopWorker() {
	if r.w == nil {
		return
	}
	r.w.Stop()
	r.w = nil
	worker.PurgeStickyWorkflowCache()
}

// start starts playbook as a drill for subject, reporting to the sandbox's Slack and PagerDuty.
func (r *rig) start(playbook, subject string, autoApprove bool) client.WorkflowRun {
	r.t.Helper()
	p, err := r.lib.Get(playbook)
	if err != nil {
		r.t.Fatal(err)
	}
	inputs, err := p.BindInputs(map[string]string{"subject": subject})
	if err != nil {
		r.t.Fatalf("inputs of %s: %v", playbook, err)
	}
	in := workflows.RunInput{
		Plan: *p, Inputs: inputs, Drill: true, AutoApprove: autoApprove,
		Trigger: workflows.Trigger{Kind: "drill", By: "observability-test", At: time.Now().UTC()},
		Report:  workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident},
	}
	run, err := r.c.ExecuteWorkflow(r.ctx, client.StartWorkflowOptions{
		ID: workflows.DrillWorkflowID(playbook, subject, fmt.Sprint(time.Now().UnixNano())), TaskQueue: workflows.DrillTaskQueue,
	}, workflows.Run, in)
	if err != nil {
		r.t.Fatalf("starting %s: %v", playbook, err)
	}
	return run
}

// result waits for run and returns its record, whether it contained or not.
func (r *rig) result(run client.WorkflowRun) workflows.RunResult {
	r.t.Helper()
	var res workflows.RunResult
	err := run.Get(r.ctx, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == workflows.ErrRunFailed && appErr.HasDetails() {
		_ = appErr.Details(&res)
	} else if err != nil {
		r.t.Fatalf("run %s: %v", run.GetID(), err)
	}
	return res
}

func counter(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := find(fams, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func gauge(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := find(fams, name, labels); m != nil {
		return m.GetGauge().GetValue()
	}
	return 0
}

func samples(fams map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	var n uint64
	f := fams[name]
	if f == nil {
		return 0
	}
	for _, m := range f.GetMetric() {
		got, ok := labelsOf(m), true
		for k, v := range labels {
			if got[k] != v {
				ok = false
			}
		}
		if ok {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// TestRunMetrics runs playbooks on the embedded server with the interceptors and checks
// what a Prometheus scrape would see: each run counted once — also after a worker restart
// that replays its history, and after replaying a finished run to answer a query — its time
// to contain and steps, approvals waiting while a run waits and after a restart, Slack and
// PagerDuty delivery lag, the SDK's own activity latency, one trace per run, and activity
// log lines that name the run and step.
func TestRunMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	r := newRig(t)
	t0 := time.Now()
	phase := func(name string) { t.Logf("%s done at %v", name, time.Since(t0).Round(time.Millisecond)) }

	// 1. A drill that contains, with every decision granted by the drill bot.
	run := r.start("compromised-dev-key", "alice", true)
	res := r.result(run)
	if res.Outcome != workflows.OutcomeContained {
		t.Fatalf("compromised-dev-key: expected outcome contained, found %s: %s", res.Outcome, res.Error)
	}
	fams := scrape(t, r.m)
	cdk := map[string]string{"playbook": "compromised-dev-key", "mode": "drill"}
	if n := counter(fams, "firebreak_runs_started_total", cdk); n != 1 {
		t.Errorf("firebreak_runs_started_total%v: expected 1, found %v", cdk, n)
	}
	if n := counter(fams, "firebreak_runs_finished_total", map[string]string{"playbook": "compromised-dev-key", "mode": "drill", "outcome": "contained"}); n != 1 {
		t.Errorf("firebreak_runs_finished_total contained: expected 1, found %v", n)
	}
	ttc := find(fams, "firebreak_time_to_contain_seconds", cdk)
	if ttc == nil || ttc.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("firebreak_time_to_contain_seconds%v: expected one sample, found %v", cdk, ttc)
	}
	if got, want := ttc.GetHistogram().GetSampleSum(), float64(res.TimeToContainMS)/1000; got < want-0.002 || got > want+0.002 {
		t.Errorf("time to contain: expected the run's own %v s, found %v s", want, got)
	}
	started := 0
	for _, s := range res.Steps {
		if !s.StartedAt.IsZero() {
			started++
		}
	}
	if n := samples(fams, "firebreak_step_duration_seconds", map[string]string{"playbook": "compromised-dev-key"}); n != uint64(started) {
		t.Errorf("firebreak_step_duration_seconds: expected one sample per started step (%d), found %d", started, n)
	}
	if n := samples(fams, "firebreak_step_duration_seconds", map[string]string{"playbook": "compromised-dev-key", "action": "vault.revoke_tokens", "status": "succeeded"}); n != 1 {
		t.Errorf("firebreak_step_duration_seconds for vault.revoke_tokens succeeded: expected 1 sample, found %d", n)
	}
	slackLag := samples(fams, "firebreak_delivery_lag_seconds", map[string]string{"integration": "slack", "activity": "Post"})
	pdLag := samples(fams, "firebreak_delivery_lag_seconds", map[string]string{"integration": "pagerduty", "activity": "AddNote"})
	if slackLag == 0 || pdLag == 0 {
		t.Errorf("firebreak_delivery_lag_seconds: expected samples for slack Post and pagerduty AddNote, found %d and %d", slackLag, pdLag)
	}
	if n := counter(fams, "firebreak_delivery_attempts_total", map[string]string{"integration": "slack", "activity": "Post", "result": "delivered"}); n != float64(slackLag) {
		t.Errorf("firebreak_delivery_attempts_total slack Post delivered: expected one per lag sample (%d), found %v", slackLag, n)
	}
	if n := samples(fams, "temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "vault.RevokeTokens", "task_queue": workflows.DrillTaskQueue}); n == 0 {
		t.Errorf("temporal_activity_execution_latency_seconds: expected the SDK's samples for vault.RevokeTokens, found none")
	}
	// The SDK counts a completed workflow as its worker finishes the task, which may be just
	// after the client has seen the result.
	r.waitFor(func() bool {
		return counter(scrape(t, r.m), "temporal_workflow_completed_total", map[string]string{"workflow_type": "Run"}) == 1
	}, "temporal_workflow_completed_total{workflow_type=Run} to reach 1")

	phase("contained run")
	// 2. A run that waits for a person, through a worker restart.
	run2 := r.start("emergency-deprovision", "bob", false)
	pending := r.awaitPending(run2)
	ed := map[string]string{"playbook": "emergency-deprovision", "kind": pending[0].Kind}
	if g := gauge(scrape(t, r.m), "firebreak_approvals_waiting", ed); g != 1 {
		t.Errorf("firebreak_approvals_waiting%v while the run waits: expected 1, found %v", ed, g)
	}
	r.stopWorker() // the cache is emptied: the run no longer waits on this worker
	// The SDK ends an evicted run's coroutines in the background; the gauge follows. Once it
	// has, the run exists on no worker: the next one must replay its history to go on.
	r.waitFor(func() bool { return gauge(scrape(t, r.m), "firebreak_approvals_waiting", ed) == 0 },
		"firebreak_approvals_waiting%v to fall to 0 once the worker let go of the run", ed)
	phase("restart")
	r.startWorker()
	decisions := r.approveAll(run2, pending)
	phase("approvals")
	res2 := r.result(run2)
	fams = scrape(t, r.m)
	edRun := map[string]string{"playbook": "emergency-deprovision", "mode": "drill"}
	if n := counter(fams, "firebreak_runs_started_total", edRun); n != 1 {
		t.Errorf("firebreak_runs_started_total%v after a restart that replayed the run: expected 1, found %v", edRun, n)
	}
	if n := counter(fams, "firebreak_runs_finished_total", map[string]string{"playbook": "emergency-deprovision", "mode": "drill", "outcome": res2.Outcome}); n != 1 {
		t.Errorf("firebreak_runs_finished_total for emergency-deprovision %s: expected 1, found %v", res2.Outcome, n)
	}
	if g := gauge(fams, "firebreak_approvals_waiting", ed); g != 0 {
		t.Errorf("firebreak_approvals_waiting%v after the decision: expected 0, found %v", ed, g)
	}
	if n := samples(fams, "firebreak_approval_response_seconds", map[string]string{"playbook": "emergency-deprovision", "decision": workflows.DecisionApprove}); n != uint64(decisions) {
		t.Errorf("firebreak_approval_response_seconds: expected one sample per decision (%d), found %d", decisions, n)
	}

	phase("approved run")
	// 3. Answering a query on finished runs replays them whole on a fresh worker: nothing
	// may be counted again.
	before := scrape(t, r.m)
	r.stopWorker()
	r.startWorker()
	for _, id := range []string{run.GetID(), run2.GetID()} {
		r.query(id)
	}
	after := scrape(t, r.m)
	for _, name := range []string{"firebreak_runs_started_total", "firebreak_runs_finished_total"} {
		for _, m := range before[name].GetMetric() {
			if got := counter(after, name, labelsOf(m)); got != m.GetCounter().GetValue() {
				t.Errorf("%s%v: %v before replaying finished runs, %v after", name, labelsOf(m), m.GetCounter().GetValue(), got)
			}
		}
	}
	if b, a := samples(before, "firebreak_time_to_contain_seconds", nil), samples(after, "firebreak_time_to_contain_seconds", nil); a != b {
		t.Errorf("firebreak_time_to_contain_seconds: %d samples before replaying finished runs, %d after", b, a)
	}

	phase("replayed queries")
	// 4. One trace per run: the start, the workflow and its activities.
	checkTrace(t, r.spans.Ended(), run.GetID())

	// 5. Activity log lines name the run, the activity and the step.
	revokeStep := ""
	for _, s := range res.Steps {
		if s.Action == "vault.revoke_tokens" {
			revokeStep = s.ID
		}
	}
	lines := logLines(t, r.logs.String(), "vault tokens revoked")
	found := false
	for _, l := range lines {
		if l["WorkflowID"] == run.GetID() {
			found = true
			want := map[string]any{"RunID": run.GetRunID(), "ActivityType": "vault.RevokeTokens", "StepID": revokeStep}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("log line %q of %s: expected %s=%v, found %v", l["msg"], run.GetID(), k, v, l[k])
				}
			}
		}
	}
	if !found {
		t.Errorf("no \"vault tokens revoked\" log line for %s among %d", run.GetID(), len(lines))
	}
	stepSpan := false
	for _, sp := range r.spans.Ended() {
		for _, a := range sp.Attributes() {
			stepSpan = stepSpan || (sp.Name() == "RunActivity:vault.RevokeTokens" && string(a.Key) == "firebreak.step" && a.Value.AsString() == revokeStep)
		}
	}
	if !stepSpan {
		t.Errorf("no RunActivity:vault.RevokeTokens span with firebreak.step=%s", revokeStep)
	}

	// 6. Nothing secret in what is exposed.
	var exp bytes.Buffer
	if err := r.m.WriteText(&exp); err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"metrics": exp.String(), "logs": r.logs.String()} {
		if strings.Contains(text, testenv.Canary) {
			t.Errorf("%s contain the canary %q", what, testenv.Canary)
		}
	}
}

// query asks finished run id for its status. The server may first send the query to the
// stopped worker's sticky queue; it is asked again until the rig's deadline.
func (r *rig) query(id string) {
	r.t.Helper()
	for {
		qctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		_, err := r.c.QueryWorkflow(qctx, id, "", workflows.QueryStatus)
		cancel()
		if err == nil {
			return
		}
		if r.ctx.Err() != nil {
			r.t.Fatalf("querying %s: %v", id, err)
		}
	}
}

// waitFor waits until cond holds, or fails the test when the rig's deadline passes.
func (r *rig) waitFor(cond func() bool, what string, args ...any) {
	r.t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.ctx.Done():
			r.t.Fatalf("waiting for "+what+": %v", append(args, r.ctx.Err())...)
		case <-tick.C:
		}
	}
}

// awaitPending waits until run asks for a decision and returns what it waits for.
func (r *rig) awaitPending(run client.WorkflowRun) []workflows.PendingApproval {
	r.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := r.c.QueryWorkflow(r.ctx, run.GetID(), "", workflows.QueryPending)
		var open []workflows.PendingApproval
		if err == nil && v.Get(&open) == nil && len(open) > 0 {
			return open
		}
		select {
		case <-r.ctx.Done():
			r.t.Fatalf("%s never asked for a decision (last query error: %v)", run.GetID(), err)
		case <-tick.C:
		}
	}
}

// approveAll grants what run waits for, as many approvers as each decision needs, until it
// waits for nothing; it returns how many decisions were made.
func (r *rig) approveAll(run client.WorkflowRun, open []workflows.PendingApproval) int {
	r.t.Helper()
	n := 0
	for len(open) > 0 {
		p := open[0]
		n++
		// Drill workers count decisions signed with the sandbox's decision key.
		req := workflows.NewSigner(workflows.SandboxDecisionKey()).Sign(workflows.ApprovalRequest{Approver: fmt.Sprintf("approver-%d", n), ApproverRoles: p.Roles, Decision: workflows.DecisionApprove, Reason: "observability test"}, p, run.GetID(), run.GetRunID(), time.Now())
		h, err := r.c.UpdateWorkflow(r.ctx, client.UpdateWorkflowOptions{
			WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: workflows.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{req},
		})
		if err != nil {
			r.t.Fatalf("approving %s of %s: %v", p.Step, run.GetID(), err)
		}
		var out workflows.ApprovalResult
		if err := h.Get(r.ctx, &out); err != nil {
			r.t.Fatalf("approving %s of %s: %v", p.Step, run.GetID(), err)
		}
		v, err := r.c.QueryWorkflow(r.ctx, run.GetID(), "", workflows.QueryPending)
		if err != nil {
			r.t.Fatalf("querying what %s waits for: %v", run.GetID(), err)
		}
		open = nil
		if err := v.Get(&open); err != nil {
			r.t.Fatal(err)
		}
	}
	return n
}

func checkTrace(t *testing.T, spans []sdktrace.ReadOnlySpan, workflowID string) {
	t.Helper()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	var start sdktrace.ReadOnlySpan
	for _, s := range byName["StartWorkflow:Run"] {
		for _, a := range s.Attributes() {
			if string(a.Key) == "temporalWorkflowID" && a.Value.AsString() == workflowID {
				start = s
			}
		}
	}
	if start == nil {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		t.Fatalf("no StartWorkflow:Run span for %s; spans: %v", workflowID, names)
	}
	trace := start.SpanContext().TraceID()
	for _, want := range []string{"RunWorkflow:Run", "RunActivity:vault.RevokeTokens", "RunActivity:slack.Post"} {
		found := false
		for _, s := range byName[want] {
			found = found || s.SpanContext().TraceID() == trace
		}
		if !found {
			t.Errorf("trace of %s: expected a %s span in it", workflowID, want)
		}
	}
}

// logLines parses the JSON log lines with message msg.
func logLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestDeliveryLagCountsRetries takes PagerDuty down while a run reports, brings it back after
// two failed attempts at a note, and checks that the note's delivery lag covers the backoff
// between them: lag runs from the run's first attempt, not from the attempt that worked.
func TestDeliveryLagCountsRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	r := newRig(t)
	r.sb.PagerDuty.SetDown(true)
	run := r.start("compromised-dev-key", "carol", true)
	failedNotes := func() bool {
		return counter(scrape(t, r.m), "firebreak_delivery_attempts_total", map[string]string{"integration": "pagerduty", "activity": "AddNote", "result": "retry"}) >= 2
	}
	r.waitFor(failedNotes, "two failed attempts at a PagerDuty note")
	r.sb.PagerDuty.SetDown(false)
	if res := r.result(run); res.Outcome != workflows.OutcomeContained {
		t.Fatalf("compromised-dev-key with PagerDuty down: expected contained, found %s: %s", res.Outcome, res.Error)
	}
	lag := find(scrape(t, r.m), "firebreak_delivery_lag_seconds", map[string]string{"integration": "pagerduty", "activity": "AddNote"})
	if lag == nil {
		t.Fatal("firebreak_delivery_lag_seconds{pagerduty,AddNote}: no series")
	}
	// The reporter's retry policy waits 0.5 s, then 1 s: a note delivered on its third
	// attempt or later is at least 1.5 s old.
	var upTo1s uint64
	for _, b := range lag.GetHistogram().GetBucket() {
		if b.GetUpperBound() == 1 {
			upTo1s = b.GetCumulativeCount()
		}
	}
	if total := lag.GetHistogram().GetSampleCount(); total == upTo1s {
		t.Errorf("firebreak_delivery_lag_seconds{pagerduty,AddNote}: expected a note older than 1 s (delivered after retries), found all %d within 1 s (sum %v s)", total, lag.GetHistogram().GetSampleSum())
	}
}

// deliverUntil posts one Slack message with the reporter's outbox policy (retries without an
// attempt limit, backing off from 1 s) but a schedule-to-close timeout of 4 s instead of
// workflows.ReportBacklogBound, so that it gives up within the test.
func deliverUntil(ctx workflow.Context, in slack.PostInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Second, ScheduleToCloseTimeout: 4 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
	return workflow.ExecuteActivity(ctx, slack.ActivityPrefix+"Post", in).Get(ctx, nil)
}

// TestDeliveryGiveUpCountsFailed keeps Slack down while a message is retried as the outbox
// retries it, until its schedule-to-close timeout: attempts at about 0 s, 1 s and 3 s; the
// next would come 4 s after the third, past the timeout, so Temporal gives up there. The
// give-up must count as failed, the two attempts before it as retries.
func TestDeliveryGiveUpCountsFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	r := newRig(t)
	r.sb.Slack.FailMethod("", http.StatusServiceUnavailable)
	const queue = "observability-give-up"
	w := worker.New(r.c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(deliverUntil, workflow.RegisterOptions{Name: "deliver-until"})
	if err := r.sb.Register(w, r.store); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := r.c.ExecuteWorkflow(r.ctx, client.StartWorkflowOptions{ID: "deliver-until-" + fmt.Sprint(time.Now().UnixNano()), TaskQueue: queue}, "deliver-until",
		slack.PostInput{Channel: testenv.DrillChannel, Text: "contained", IdempotencyKey: "give-up/summary"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(r.ctx, nil); err == nil {
		t.Fatal("the message was delivered with Slack down; the test meant every attempt to fail")
	}
	fams := scrape(t, r.m)
	post := map[string]string{"integration": "slack", "activity": "Post"}
	got := map[string]float64{}
	for _, result := range []string{"retry", "failed", "delivered"} {
		post["result"] = result
		got[result] = counter(fams, "firebreak_delivery_attempts_total", post)
	}
	if got["retry"] != 2 || got["failed"] != 1 || got["delivered"] != 0 {
		t.Errorf("firebreak_delivery_attempts_total{slack,Post}: %v; want 2 retries, then 1 failed when the timeout ended the retries, none delivered", got)
	}
}
