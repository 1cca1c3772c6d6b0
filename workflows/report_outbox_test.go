package workflows

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
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
