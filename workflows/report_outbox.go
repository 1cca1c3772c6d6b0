package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// When Slack or PagerDuty stops answering, the reporter does not drop what it could not say.
// A message that fails its short in-run retry budget (reportOptions) starts that vendor's
// outbox: the message and every later one for the same vendor queue there, in order, and a
// coroutine retries the oldest until the vendor answers again, then delivers the rest. The
// other vendor is not held up, nor is containment (trust rule 8). The run ends only once both
// outboxes are empty, so the summary reaches each vendor once, late rather than never — unless
// the vendor stays down for ReportBacklogBound, after which everything still queued for it is
// listed in RunResult.ReportErrors and the run ends. From then on the run does not try that
// vendor again: each later message for it is listed there too, at once, so that the other
// vendor's messages never wait behind in-run retries to a vendor known to be down.

// ReportBacklogBound is how long the reporter keeps retrying a message to a vendor that has
// stopped answering before it gives up on that vendor's queued messages; while it retries,
// the run stays open after containment. Retries back off from 1 s to one every 30 s, so a
// message is delivered at most about 30 s after the vendor returns.
const ReportBacklogBound = time.Hour

// reportOutboxChange versions the outbox: histories recorded before it record a message that
// exhausted its retries as a report error and move on. Version 1 queued messages; version
// reportOutboxSettled also keeps the status message current and stops calling a vendor it
// has given up on. The version is asked, and recorded, only when a message first exhausts
// its in-run retries, so runs whose vendors always answer record no marker.
const reportOutboxChange = "report-outbox"

// reportOutboxSettled is the report-outbox version from which a status queued behind a status
// update in flight is queued rather than folded into it (the update's text was fixed when it
// was sent, so the newer status would be lost), and a message for a vendor the outbox has
// given up on is listed as lost at once instead of trying the vendor again in the run.
const reportOutboxSettled = 2

// reportBacklogOptions retry the oldest undelivered message until its vendor answers.
var reportBacklogOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: ReportBacklogBound,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
		NonRetryableErrorTypes: reportOptions.RetryPolicy.NonRetryableErrorTypes,
	},
}

// outbox is one vendor's queue of messages waiting for the vendor to answer again.
type outbox struct {
	vendor   string
	queue    []delivery
	draining bool // a coroutine is delivering queue; new messages wait behind it
	gaveUp   bool // the vendor stayed down for ReportBacklogBound: no more waiting for it
}

// delivery is one message to a vendor; send runs its activity with ctx's options.
type delivery struct {
	what   string
	status bool // the Slack status message, whose latest text is all that matters
	send   func(ctx workflow.Context) error
}

// dispatch delivers d now, or queues it behind earlier messages while its vendor is down.
func (rep *reporter) dispatch(ctx workflow.Context, ob *outbox, d delivery) {
	if ob.draining {
		// Only the latest status text matters, so a status queued right behind another one
		// replaces it; but queue[0] is being delivered, its text already fixed.
		inFlight := 0
		if rep.patience >= reportOutboxSettled {
			inFlight = 1
		}
		if !(d.status && len(ob.queue) > inFlight && ob.queue[len(ob.queue)-1].status) {
			ob.queue = append(ob.queue, d)
		}
		return
	}
	if ob.gaveUp && rep.patience >= reportOutboxSettled {
		rep.failed(d.what, fmt.Errorf("not sent: %s did not answer for %s earlier in this run, so the run no longer calls it", ob.vendor, ReportBacklogBound))
		return
	}
	err := d.send(ctx)
	if err == nil {
		return
	}
	if ob.gaveUp || permanentReportError(err) || !rep.patient(ctx) {
		rep.failed(d.what, err)
		return
	}
	ob.queue, ob.draining = append(ob.queue, d), true
	workflow.Go(ctx, func(ctx workflow.Context) { rep.drain(workflow.WithActivityOptions(ctx, reportBacklogOptions), ob) })
}

// drain delivers ob's queue in order, waiting for the vendor to come back.
func (rep *reporter) drain(ctx workflow.Context, ob *outbox) {
	for len(ob.queue) > 0 {
		d := ob.queue[0]
		err := d.send(ctx)
		if err != nil && !permanentReportError(err) {
			for _, q := range ob.queue {
				rep.failed(q.what, fmt.Errorf("%s did not answer for %s, giving up: %w", ob.vendor, ReportBacklogBound, err))
			}
			ob.queue, ob.gaveUp = nil, true
			break
		}
		if err != nil {
			rep.failed(d.what, err)
		}
		ob.queue = ob.queue[1:]
	}
	ob.draining = false
}

// awaitOutboxes waits until every queued message has been delivered or given up on.
func (rep *reporter) awaitOutboxes(ctx workflow.Context) {
	_ = workflow.Await(ctx, func() bool { return !rep.slackOut.draining && !rep.pdOut.draining })
}

// patient reports whether this run queues undelivered messages (the outbox) rather than
// dropping them; runs recorded before the outbox replay without it. It sets rep.patience to
// the run's report-outbox version (-1 before the outbox).
func (rep *reporter) patient(ctx workflow.Context) bool {
	if rep.patience == 0 {
		rep.patience = -1
		if v := workflow.GetVersion(ctx, reportOutboxChange, workflow.DefaultVersion, reportOutboxSettled); v != workflow.DefaultVersion {
			rep.patience = int(v)
		}
	}
	return rep.patience >= 1
}

// permanentReportError reports whether waiting cannot help: the vendor refused the message
// itself (unknown channel or incident, bad token, invalid input).
func permanentReportError(err error) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false
	}
	return appErr.NonRetryable() || slices.Contains(reportOptions.RetryPolicy.NonRetryableErrorTypes, appErr.Type())
}
