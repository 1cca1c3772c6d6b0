package workflows

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/activities/vault"
)

// flakyVendor answers its first downFor calls with a retryable error, as a vendor that is down
// does, then delivers; it records the idempotency key of every message it delivered, in order.
type flakyVendor struct {
	mu        sync.Mutex
	downFor   int
	calls     int
	firstSeen []string
	delivered []string
}

func (v *flakyVendor) call(key string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	seen := false
	for _, k := range v.firstSeen {
		seen = seen || k == key
	}
	if !seen {
		v.firstSeen = append(v.firstSeen, key)
	}
	if v.calls <= v.downFor {
		return temporal.NewApplicationError("503 Service Unavailable", "Unavailable")
	}
	v.delivered = append(v.delivered, key)
	return nil
}

// TestReportOutboxDeliversWhenTheVendorReturns takes Slack, then PagerDuty, down for far longer
// than the in-run retry budget (the first 12 calls fail: 4 in-run attempts, then 8 outbox
// attempts over about two minutes of workflow time; the test environment caps a retry policy
// without a maximum at 10 attempts, so longer outages are for the integration test) and checks
// that the run still contains, loses no message, delivers each once and in the order they
// were sent, the summary among them, and leaves the other vendor's messages alone.
func TestReportOutboxDeliversWhenTheVendorReturns(t *testing.T) {
	for _, down := range []string{"slack", "pagerduty"} {
		t.Run(down, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			env := s.NewTestWorkflowEnvironment()
			env.SetStartWorkflowOptions(startOpts())
			f := &fakes{}
			f.register(env)
			sv, pv := &flakyVendor{}, &flakyVendor{}
			if down == "slack" {
				sv.downFor = 12
			} else {
				pv.downFor = 12
			}
			env.OnActivity("slack.Post", mock.Anything, mock.Anything).Return(func(_ context.Context, in slack.PostInput) (slack.PostResult, error) {
				return slack.PostResult{Channel: "C1", TS: "1.0001"}, sv.call(in.IdempotencyKey)
			})
			env.OnActivity("pagerduty.AddNote", mock.Anything, mock.Anything).Return(func(_ context.Context, in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
				return pagerduty.AddNoteResult{NoteID: "N1"}, pv.call(in.IdempotencyKey)
			})
			env.RegisterWorkflow(Run)
			env.ExecuteWorkflow(Run, input(t))
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			var res RunResult
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("run failed: %v", err)
			}
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeContained || len(res.ReportErrors) > 0 {
				t.Fatalf("outcome %s, report errors %v: want contained and nothing lost (calls %d %d)", res.Outcome, res.ReportErrors, sv.calls, pv.calls)
			}
			for name, v := range map[string]*flakyVendor{"slack": sv, "pagerduty": pv} {
				if strings.Join(v.delivered, " ") != strings.Join(v.firstSeen, " ") {
					t.Errorf("%s delivered %v, want each message once in the order sent %v", name, v.delivered, v.firstSeen)
				}
				summary := 0
				for _, k := range v.delivered {
					if strings.HasSuffix(k, "/summary") {
						summary++
					}
				}
				if summary != 1 {
					t.Errorf("%s received the summary %d times, want once: %v", name, summary, v.delivered)
				}
			}
			if dv := map[string]*flakyVendor{"slack": sv, "pagerduty": pv}[down]; dv.calls <= dv.downFor {
				t.Errorf("%s was called %d times; the test meant it to be down for the first %d", down, dv.calls, dv.downFor)
			}
		})
	}
}

// TestReportOutboxGivesUpAfterItsBound keeps PagerDuty down for good: the run contains, ends
// once the outbox gives up (in the test environment after 10 attempts, its cap on a retry
// policy without a maximum; on a server after ReportBacklogBound), and lists the notes it
// could not deliver, the summary among them, while Slack was served all along.
func TestReportOutboxGivesUpAfterItsBound(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(startOpts())
	f := &fakes{}
	f.register(env)
	pv := &flakyVendor{downFor: 1 << 30}
	env.OnActivity("pagerduty.AddNote", mock.Anything, mock.Anything).Return(func(_ context.Context, in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
		return pagerduty.AddNoteResult{}, pv.call(in.IdempotencyKey)
	})
	env.RegisterWorkflow(Run)
	env.ExecuteWorkflow(Run, input(t))
	var res RunResult
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("run failed: %v", err)
	}
	_ = env.GetWorkflowResult(&res)
	if res.Outcome != OutcomeContained {
		t.Fatalf("outcome %s, want contained", res.Outcome)
	}
	if !strings.Contains(strings.Join(res.ReportErrors, "\n"), "pagerduty note summary:") {
		t.Fatalf("the undelivered summary note is not among the report errors: %v", res.ReportErrors)
	}
	for _, e := range res.ReportErrors {
		if !strings.HasPrefix(e, "pagerduty note ") || !strings.Contains(e, "did not answer for 1h0m0s") {
			t.Errorf("report error %q does not say which note was lost and why", e)
		}
	}
	if sv := f.count("slack.Post"); sv == 0 {
		t.Error("no Slack message was posted while PagerDuty was down")
	}
}

// slowYAML has a reported step (revoke, destructive) that takes a minute or more in the tests
// below and, beside it, a step that is not reported (keys, 10 s): the batch for keys updates
// the status message and posts nothing else, and the run finishes when revoke does.
const slowYAML = `
name: slow
title: Slow
severity: high
inputs:
  subject: {type: string, required: true}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subject }}"}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: "${{ inputs.subject }}", data: {vault: "${{ steps.inv.outputs }}"}}
  - id: revoke
    action: vault.revoke_tokens
    needs: [snap]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
  - id: keys
    action: awsiam.inventory
    needs: [snap]
    with: {user: "${{ inputs.subject }}"}
`

// slowEnv runs slowYAML with in-memory activities, revoke taking revokeTakes of workflow time.
func slowEnv(t *testing.T, revokeTakes time.Duration) (*testsuite.TestWorkflowEnvironment, RunInput) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(startOpts())
	f := &fakes{}
	f.register(env)
	env.OnActivity("vault.RevokeTokens", mock.Anything, mock.Anything).After(revokeTakes).Return(vault.RevokeTokensResult{Revoked: []string{"acc-1", "acc-2"}}, nil)
	// keys ends 10 s in, well apart from snap's report and from the end of the run.
	env.OnActivity("awsiam.Inventory", mock.Anything, mock.Anything).After(10*time.Second).Return(awsiam.InventoryResult{Present: true, UserName: "alice", AccessKeyIDs: []string{"AKFB1"}}, nil)
	env.RegisterWorkflow(Run)
	in := input(t)
	in.Plan = compilePlan(t, slowYAML)
	return env, in
}

// windowVendor is a vendor that is down from from to until (workflow time since the run
// started) and answers every other call; it records, in order, the status message's text
// each time the message is delivered.
type windowVendor struct {
	env         *testsuite.TestWorkflowEnvironment
	start       time.Time
	from, until time.Duration
	mu          sync.Mutex
	statuses    []string
	failed      int
}

func (v *windowVendor) call(status bool, text string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if at := v.env.Now().Sub(v.start); at >= v.from && at < v.until {
		v.failed++
		return temporal.NewApplicationError("503 Service Unavailable", "Unavailable")
	}
	if status {
		v.statuses = append(v.statuses, text)
	}
	return nil
}

// TestReportOutboxStatusEndsCurrent takes Slack down for 90 s, far longer than the in-run
// retry budget, at the start, at keys (10 s in) and at the end (revoke, 60 s in), and checks
// that the last text of the status message that reached Slack says the run was contained.
// When Slack goes down at the status update for keys, the run finishes while that update is
// being retried: the final status queued then must not be folded into the update in flight,
// whose text was fixed when it was sent.
func TestReportOutboxStatusEndsCurrent(t *testing.T) {
	for _, from := range []time.Duration{0, 10 * time.Second, time.Minute} {
		t.Run(from.String(), func(t *testing.T) {
			env, in := slowEnv(t, time.Minute)
			sv := &windowVendor{env: env, start: env.Now(), from: from, until: from + 90*time.Second}
			env.OnActivity("slack.Post", mock.Anything, mock.Anything).Return(func(_ context.Context, in slack.PostInput) (slack.PostResult, error) {
				return slack.PostResult{Channel: "C1", TS: "1.0001"}, sv.call(in.ThreadTS == "", in.Text)
			})
			env.OnActivity("slack.Update", mock.Anything, mock.Anything).Return(func(_ context.Context, in slack.UpdateInput) (slack.UpdateResult, error) {
				return slack.UpdateResult{Channel: in.Channel, TS: in.TS}, sv.call(len(in.Blocks) == 0, in.Text)
			})
			env.ExecuteWorkflow(Run, in)
			var res RunResult
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("run failed: %v", err)
			}
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeContained || len(res.ReportErrors) > 0 {
				t.Fatalf("outcome %s, report errors %v; want contained and nothing lost", res.Outcome, res.ReportErrors)
			}
			if sv.failed <= 4 {
				t.Fatalf("Slack failed %d calls; the test meant it to be down for longer than the 4 in-run attempts", sv.failed)
			}
			if len(sv.statuses) == 0 {
				t.Fatal("the status message never reached Slack")
			}
			if last := sv.statuses[len(sv.statuses)-1]; !strings.Contains(strings.SplitN(last, "\n", 2)[0], ": contained") {
				t.Errorf("the status message's last text is\n%s\nwant it to say contained", last)
			}
		})
	}
}

// TestReportOutboxSlackDownKeepsPagerDutyPrompt keeps Slack down for good while revoke takes
// ten minutes: the Slack outbox gives up long before revoke ends (in the test environment
// after 10 attempts, about two and a half minutes). The notes about revoke and the summary
// must reach PagerDuty the moment revoke ends, not behind in-run retries to Slack, which
// must not be called again; what Slack never got is listed, the later messages as not sent.
// The first Slack message of the outage does hold PagerDuty up by its in-run retry budget
// (3.5 s of backoff), which is how the reporter learns that Slack is down.
func TestReportOutboxSlackDownKeepsPagerDutyPrompt(t *testing.T) {
	env, in := slowEnv(t, 10*time.Minute)
	start := env.Now()
	var mu sync.Mutex
	var slackAt []time.Time
	notes := map[string]time.Time{}
	down := func() error {
		mu.Lock()
		defer mu.Unlock()
		slackAt = append(slackAt, env.Now())
		return temporal.NewApplicationError("503 Service Unavailable", "Unavailable")
	}
	env.OnActivity("slack.Post", mock.Anything, mock.Anything).Return(func(context.Context, slack.PostInput) (slack.PostResult, error) {
		return slack.PostResult{}, down()
	})
	env.OnActivity("slack.Update", mock.Anything, mock.Anything).Return(func(context.Context, slack.UpdateInput) (slack.UpdateResult, error) {
		return slack.UpdateResult{}, down()
	})
	env.OnActivity("pagerduty.AddNote", mock.Anything, mock.Anything).Return(func(_ context.Context, in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
		mu.Lock()
		defer mu.Unlock()
		notes[strings.TrimPrefix(in.IdempotencyKey, "drill/compromised-dev-key/alice/test/default-test-run-id/")] = env.Now()
		return pagerduty.AddNoteResult{NoteID: "N1"}, nil
	})
	env.ExecuteWorkflow(Run, in)
	var res RunResult
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeContained {
		t.Fatalf("outcome %s, want contained", res.Outcome)
	}
	var revokedAt time.Time
	for _, s := range res.Steps {
		if s.ID == "revoke" {
			revokedAt = s.EndedAt
		}
	}
	if revokedAt.Sub(start) < 10*time.Minute {
		t.Fatalf("revoke ended %v after the start; the test meant it to take 10 minutes", revokedAt.Sub(start))
	}
	for _, key := range []string{"started", "step/snap", "step/revoke", "summary"} {
		at, ok := notes[key]
		switch {
		case !ok:
			t.Errorf("PagerDuty never got the note %s; got %v", key, notes)
		case key == "step/revoke" || key == "summary":
			if at.Sub(revokedAt) > time.Second {
				t.Errorf("PagerDuty got the note %s %v after revoke ended; want it at once, Slack having been given up on", key, at.Sub(revokedAt))
			}
		case at.Sub(start) > 4*time.Second:
			t.Errorf("PagerDuty got the note %s %v after the start; want it within the first Slack message's in-run retries (3.5 s)", key, at.Sub(start))
		}
	}
	if last := slackAt[len(slackAt)-1]; !last.Before(revokedAt) {
		t.Errorf("Slack was called %v after revoke ended, after the outbox gave up on it", last.Sub(revokedAt))
	}
	errs := strings.Join(res.ReportErrors, "\n")
	for _, want := range []string{
		"slack status message: slack did not answer for 1h0m0s, giving up",
		// The status message was never posted, so the status after revoke is still a post;
		// the replies have no thread to go to.
		"slack status message: not sent: slack did not answer for 1h0m0s earlier in this run",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("report errors do not say %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "pagerduty") {
		t.Errorf("a PagerDuty note is among the report errors:\n%s", errs)
	}
}
