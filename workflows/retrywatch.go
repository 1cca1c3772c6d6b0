package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// changeRetryNotice versions the notice a run gives while a step that changes a system keeps
// retrying (a timer per such step); runs recorded before it start no such timer.
const changeRetryNotice = "retry-notice"

// RetryNoticeAfter is how long a step that changes a system may go without success before the
// run says, in its status and its Slack thread, that it is still trying.
const RetryNoticeAfter = 30 * time.Second

// watchRetries starts a timer beside a step that changes a system and keeps retrying for
// minutes (playbooks.DefaultRetryFor, or the playbook's retry.for): if the step has not
// succeeded when it fires, the step's status says the run is waiting on that system and until
// when it keeps trying, and the Slack thread says so once. The returned func stops it.
func (r *runner) watchRetries(ctx workflow.Context, st playbooks.Step, sr *StepResult, rep *reporter) func() {
	if !st.Destructive || st.Retry.For <= 0 || time.Duration(st.Retry.For) <= RetryNoticeAfter {
		return func() {}
	}
	if workflow.GetVersion(ctx, changeRetryNotice, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return func() {}
	}
	started := workflow.Now(ctx)
	wctx, cancel := workflow.WithCancel(ctx)
	workflow.Go(wctx, func(ctx workflow.Context) {
		if err := workflow.Sleep(ctx, RetryNoticeAfter); err != nil || sr.Status != StatusRunning {
			return
		}
		until := started.Add(time.Duration(st.Retry.For)).UTC()
		sr.Waiting = fmt.Sprintf("waiting on %s: no success after %s, retrying until %s (retry.for %s)", systemOf(st.Action), RetryNoticeAfter, until.Format("15:04:05 MST"), time.Duration(st.Retry.For))
		rep.send(ctx, event{kind: eventWaiting, step: st.ID})
	})
	return func() {
		cancel()
		sr.Waiting = ""
	}
}

// systemOf names the system an action talks to, for people.
func systemOf(action string) string {
	prefix, _, _ := strings.Cut(action, ".")
	switch prefix {
	case "vault":
		return "Vault"
	case "awsiam":
		return "AWS IAM"
	case "oidc":
		return "the identity provider"
	case "pagerduty":
		return "PagerDuty"
	case "slack":
		return "Slack"
	case "evidence":
		return "the evidence store"
	case "httpreq":
		return "the HTTP endpoint"
	}
	return prefix
}
