package observability

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Interceptor returns the interceptor that records firebreak's metrics. It is both a
// client and a worker interceptor: put it in client.Options.Interceptors and every worker
// built on that client uses it, or in worker.Options.Interceptors for one worker.
func (m *Metrics) Interceptor() interceptor.Interceptor {
	return &metricsInterceptor{m: m}
}

type metricsInterceptor struct {
	interceptor.InterceptorBase
	m *Metrics
}

func (i *metricsInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &workflowInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, m: i.m}
}

func (i *metricsInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, m: i.m}
}

// workflowInbound watches one workflow execution; it exists once per execution in the
// worker's cache, so it may keep the run's state.
type workflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	m *Metrics

	run     bool // the execution is the interpreter's (workflows.Run)
	closed  bool // the run returned or was evicted: it waits for nothing here any more
	labels  [2]string
	pending func() ([]workflows.PendingApproval, error) // the run's QueryPending handler
	waiting map[string]float64                          // kind → what this run adds to approvalsWaiting
	// firstTry is when the run first asked for each message (by idempotency key) to be
	// delivered, so a message retried later through the reporter's outbox keeps its age.
	firstTry map[string]time.Time
}

func (w *workflowInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return w.Next.Init(&workflowOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, in: w})
}

func mode(drill bool) string {
	if drill {
		return ModeDrill
	}
	return ModeProduction
}

// ExecuteWorkflow counts the run when it starts and when it finishes, and observes its steps,
// time to contain and decisions from its RunResult. Nothing is recorded while the SDK replays
// history: a run resumed on a restarted worker was counted by the worker that started it.
func (w *workflowInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	var ri workflows.RunInput
	if len(in.Args) == 1 {
		ri, w.run = in.Args[0].(workflows.RunInput)
	}
	if !w.run {
		return w.Next.ExecuteWorkflow(ctx, in)
	}
	playbook, md := ri.Plan.Name, mode(ri.Drill)
	w.labels = [2]string{playbook, md}
	// The deferred call runs when the run returns and also when the SDK evicts it from the
	// cache (its coroutines exit, this one first), so a run this worker no longer holds stops
	// counting as waiting here; closed keeps the step coroutines that exit after it from
	// counting it again.
	defer func() {
		w.setWaiting(nil)
		w.closed = true
	}()
	if !workflow.IsReplaying(ctx) {
		w.m.runsStarted.WithLabelValues(playbook, md).Inc()
	}
	out, err := w.Next.ExecuteWorkflow(ctx, in)
	if workflow.IsReplaying(ctx) {
		return out, err
	}
	var res workflows.RunResult
	outcome := OutcomeError
	var appErr *temporal.ApplicationError
	switch r, ok := out.(workflows.RunResult); {
	case err == nil && ok:
		res, outcome = r, r.Outcome
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrRunFailed && appErr.HasDetails():
		if appErr.Details(&res) == nil && res.Outcome != "" {
			outcome = res.Outcome
		}
	case temporal.IsCanceledError(err):
		outcome = OutcomeCanceled
		// A cancelled run's record is the cancellation's details: its steps' durations count.
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) && canceled.HasDetails() {
			_ = canceled.Details(&res)
		}
	}
	w.m.runsFinished.WithLabelValues(playbook, md, outcome).Inc()
	w.observeResult(playbook, md, res)
	return out, err
}

func (w *workflowInbound) observeResult(playbook, md string, res workflows.RunResult) {
	for _, s := range slices.Concat(res.Steps, res.Compensations) {
		if s.StartedAt.IsZero() || s.EndedAt.IsZero() {
			continue // skipped, or never started
		}
		w.m.stepDuration.WithLabelValues(playbook, s.Action, s.Status).Observe(s.EndedAt.Sub(s.StartedAt).Seconds())
	}
	if res.Outcome == workflows.OutcomeContained && !res.ContainedAt.IsZero() && !res.Trigger.At.IsZero() {
		w.m.timeToContain.WithLabelValues(playbook, md).Observe(res.ContainedAt.Sub(res.Trigger.At).Seconds())
	}
	for _, d := range res.Decisions {
		w.m.approvalResponse.WithLabelValues(playbook, d.Kind, d.Decision).Observe(float64(d.ResponseMS) / 1000)
	}
}

// ExecuteUpdate refreshes the approvals waiting after an approve update has been applied.
func (w *workflowInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	out, err := w.Next.ExecuteUpdate(ctx, in)
	w.refreshWaiting()
	return out, err
}

// refreshWaiting asks the run, through its own QueryPending handler, which decisions are
// open, and moves the gauge by the difference from what this run last added. It runs in the
// workflow's coroutine (never concurrently with it) at the points where the run opens or
// settles a decision: when it awaits, schedules work or applies an update. It also runs
// during replay, on purpose: the gauge is the state of the runs this worker holds, which
// replay rebuilds, not a count of events.
func (w *workflowInbound) refreshWaiting() {
	if !w.run || w.closed || w.pending == nil {
		return
	}
	open, err := w.pending()
	if err != nil {
		return
	}
	now := map[string]float64{}
	for _, p := range open {
		now[p.Kind]++
	}
	w.setWaiting(now)
}

func (w *workflowInbound) setWaiting(now map[string]float64) {
	kinds := map[string]bool{}
	for k := range w.waiting {
		kinds[k] = true
	}
	for k := range now {
		kinds[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		if d := now[k] - w.waiting[k]; d != 0 {
			w.m.approvalsWaiting.WithLabelValues(w.labels[0], k).Add(d)
		}
	}
	w.waiting = now
}

// workflowOutbound finds the run's pending-approvals query handler and refreshes the
// approvals-waiting gauge around the calls at which a run opens or settles a decision.
type workflowOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *workflowInbound
}

func (o *workflowOutbound) SetQueryHandler(ctx workflow.Context, queryType string, handler any) error {
	o.capture(queryType, handler)
	return o.Next.SetQueryHandler(ctx, queryType, handler)
}

func (o *workflowOutbound) SetQueryHandlerWithOptions(ctx workflow.Context, queryType string, handler any, options workflow.QueryHandlerOptions) error {
	o.capture(queryType, handler)
	return o.Next.SetQueryHandlerWithOptions(ctx, queryType, handler, options)
}

func (o *workflowOutbound) capture(queryType string, handler any) {
	if queryType != workflows.QueryPending {
		return
	}
	if h, ok := handler.(func() ([]workflows.PendingApproval, error)); ok {
		o.in.pending = h
	}
}

func (o *workflowOutbound) Await(ctx workflow.Context, condition func() bool) error {
	o.in.refreshWaiting()
	defer o.in.refreshWaiting()
	return o.Next.Await(ctx, condition)
}

func (o *workflowOutbound) AwaitWithTimeout(ctx workflow.Context, timeout time.Duration, condition func() bool) (bool, error) {
	o.in.refreshWaiting()
	defer o.in.refreshWaiting()
	return o.Next.AwaitWithTimeout(ctx, timeout, condition)
}

func (o *workflowOutbound) AwaitWithOptions(ctx workflow.Context, options workflow.AwaitOptions, condition func() bool) (bool, error) {
	o.in.refreshWaiting()
	defer o.in.refreshWaiting()
	return o.Next.AwaitWithOptions(ctx, options, condition)
}

// ExecuteActivity also stamps a message delivery with the workflow time at which the run
// first asked for that message (the same idempotency key), in the activity's header.
func (o *workflowOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	o.in.refreshWaiting()
	if step := workflows.StepOf(ctx); step != "" {
		if p, err := converter.GetDefaultDataConverter().ToPayload(step); err == nil {
			interceptor.WorkflowHeader(ctx)[headerStep] = p
		}
	}
	if _, ok := deliveryActivities[activityType]; ok {
		first := workflow.Now(ctx)
		if key := idempotencyKey(args); key != "" {
			if o.in.firstTry == nil {
				o.in.firstTry = map[string]time.Time{}
			}
			if t, seen := o.in.firstTry[key]; seen {
				first = t
			} else {
				o.in.firstTry[key] = first
			}
		}
		if p, err := converter.GetDefaultDataConverter().ToPayload(first.UnixNano()); err == nil {
			interceptor.WorkflowHeader(ctx)[headerFirstTry] = p
		}
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

// headerStep carries, in an activity's header, the id of the plan step it works for.
const headerStep = "firebreak-step"

// headerFirstTry carries, in a delivery activity's header, the Unix time in nanoseconds at
// which the run first asked for the message.
const headerFirstTry = "firebreak-first-try"

func idempotencyKey(args []any) string {
	if len(args) != 1 {
		return ""
	}
	switch in := args[0].(type) {
	case slack.PostInput:
		if in.IdempotencyKey == "" {
			return ""
		}
		return "slack/" + in.Channel + "/" + in.IdempotencyKey
	case pagerduty.AddNoteInput:
		if in.IdempotencyKey == "" {
			return ""
		}
		return "pagerduty/" + in.IncidentID + "/" + in.IdempotencyKey
	case pagerduty.EscalateInput:
		if in.IdempotencyKey == "" {
			return ""
		}
		return "pagerduty-escalate/" + in.IdempotencyKey
	}
	return ""
}

func (o *workflowOutbound) NewTimer(ctx workflow.Context, d time.Duration) workflow.Future {
	o.in.refreshWaiting()
	return o.Next.NewTimer(ctx, d)
}

func (o *workflowOutbound) NewTimerWithOptions(ctx workflow.Context, d time.Duration, options workflow.TimerOptions) workflow.Future {
	o.in.refreshWaiting()
	return o.Next.NewTimerWithOptions(ctx, d, options)
}

// deliveryActivities are the activities that deliver a message to people, by registered name.
var deliveryActivities = map[string]string{
	slack.ActivityPrefix + "Post":         "slack",
	slack.ActivityPrefix + "Update":       "slack",
	pagerduty.ActivityPrefix + "AddNote":  "pagerduty",
	pagerduty.ActivityPrefix + "Escalate": "pagerduty",
}

type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	m *Metrics
}

func (a *activityInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return a.Next.Init(&activityOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}})
}

// stepCtxKey carries the step id from the activity's header to its logger.
type stepCtxKey struct{}

// activityOutbound adds the step to the activity's log lines: the SDK's own attributes
// (WorkflowID, RunID, ActivityType, ActivityID, Attempt) say which run and call, StepID says
// which step of the playbook.
type activityOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
}

func (o *activityOutbound) GetLogger(ctx context.Context) log.Logger {
	l := o.Next.GetLogger(ctx)
	if step, _ := ctx.Value(stepCtxKey{}).(string); step != "" {
		return log.With(l, "StepID", step)
	}
	return l
}

// ExecuteActivity observes the delivery lag of Slack and PagerDuty messages: from the time
// the run first asked for the message (the header stamped in the workflow; without it, the
// activity's ScheduledTime, which is its first attempt's) to the attempt that delivered it,
// so every retry, backoff and wait in the reporter's outbox is included.
func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	var step string
	if p := interceptor.Header(ctx)[headerStep]; p != nil && converter.GetDefaultDataConverter().FromPayload(p, &step) == nil && step != "" {
		ctx = context.WithValue(ctx, stepCtxKey{}, step)
		// With the tracing interceptor outside this one, the activity's span names the step too.
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("firebreak.step", step))
	}
	out, err := a.Next.ExecuteActivity(ctx, in)
	info := activity.GetInfo(ctx)
	integration, ok := deliveryActivities[info.ActivityType.Name]
	if !ok {
		return out, err
	}
	name := strings.TrimPrefix(info.ActivityType.Name, integration+".")
	switch {
	case err == nil:
		a.m.deliveries.WithLabelValues(integration, name, "delivered").Inc()
		a.m.deliveryLag.WithLabelValues(integration, name).Observe(time.Since(firstTry(ctx, info)).Seconds())
	case finalAttempt(info, err, time.Now()):
		a.m.deliveries.WithLabelValues(integration, name, "failed").Inc()
	default:
		a.m.deliveries.WithLabelValues(integration, name, "retry").Inc()
	}
	return out, err
}

// finalAttempt reports whether Temporal will not retry after err, an attempt that failed at
// now: the error is non-retryable, by itself or by the retry policy; the attempts are used
// up; or the activity's schedule-to-close timeout ends before the next attempt could start.
// The last is how the reporter's outbox gives up on a vendor (its activities retry without
// an attempt limit for workflows.ReportBacklogBound); the server decides it the same way,
// from the backoff it would wait (the error's NextRetryDelay, or the policy's interval).
func finalAttempt(info activity.Info, err error, now time.Time) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		return true
	}
	rp := info.RetryPolicy
	if rp == nil {
		return false
	}
	if appErr != nil && slices.Contains(rp.NonRetryableErrorTypes, appErr.Type()) {
		return true
	}
	if rp.MaximumAttempts > 0 && info.Attempt >= rp.MaximumAttempts {
		return true
	}
	if info.ScheduleToCloseTimeout <= 0 || info.ScheduledTime.IsZero() {
		return false
	}
	expires := info.ScheduledTime.Add(info.ScheduleToCloseTimeout)
	return !now.Add(nextBackoff(rp, info.Attempt, appErr)).Before(expires)
}

// nextBackoff is how long Temporal waits after the failed attempt before the next one: the
// error's NextRetryDelay when it sets one, else the initial interval (1 s unless set) times
// the coefficient (2 unless set) for each earlier retry, capped at the maximum interval
// (100 times the initial one unless set), as the server computes it.
func nextBackoff(rp *temporal.RetryPolicy, attempt int32, appErr *temporal.ApplicationError) time.Duration {
	if appErr != nil && appErr.NextRetryDelay() > 0 {
		return appErr.NextRetryDelay()
	}
	initial, coef, maxInterval := rp.InitialInterval, rp.BackoffCoefficient, rp.MaximumInterval
	if initial <= 0 {
		initial = time.Second
	}
	if coef < 1 {
		coef = 2
	}
	if maxInterval <= 0 {
		maxInterval = 100 * initial
	}
	d := float64(initial)
	for i := int32(1); i < attempt && d < float64(maxInterval); i++ {
		d *= coef
	}
	return min(time.Duration(d), maxInterval)
}

func firstTry(ctx context.Context, info activity.Info) time.Time {
	var ns int64
	if p := interceptor.Header(ctx)[headerFirstTry]; p != nil && converter.GetDefaultDataConverter().FromPayload(p, &ns) == nil && ns > 0 {
		return time.Unix(0, ns)
	}
	return info.ScheduledTime
}
