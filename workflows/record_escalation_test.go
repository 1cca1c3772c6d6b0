//go:build recordhistory

package workflows_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// escalationYAML: inv fails and is escalated while a wait still runs, so the escalation's
// decision is settled while the run goes on (the reporter handles it on its own).
const escalationYAML = `
name: escalation
title: Escalation
severity: high
inputs:
  subject: {type: string, required: true}
roles: {approve: [security-oncall]}
approval: {timeout: 30m}
steps:
  - id: inv
    action: vault.inventory
    on_failure: escalate
    with: {subject: "${{ inputs.subject }}"}
  - id: monitor
    action: wait
    with: {duration: 20s}
  - id: verify
    action: vault.verify_revoked
    needs: [monitor]
    with: {accessors: ["acc-1"]}
`

// TestRecordEscalationHistory records a run with an escalation, decided by a person while the
// run goes on, into $RECORD_HISTORY for the replay test (it starts an embedded Temporal
// server, hence the build tag):
//
//	RECORD_HISTORY=$PWD/workflows/testdata/escalation.history.json go test -tags recordhistory -run TestRecordEscalationHistory ./workflows
//
// testdata/escalation-before-two-person.history.json was recorded with this test at the
// commit before the two-person rule (778b04f^), when an escalation's decision sent no event.
func TestRecordEscalationHistory(t *testing.T) {
	out := os.Getenv("RECORD_HISTORY")
	if out == "" {
		t.Skip("set RECORD_HISTORY to the file to write")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := devserver.Start(ctx, devserver.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	seed := sha256.Sum256([]byte("record escalation decision key"))
	signer := workflows.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	workflows.Register(w, workflows.WithDecisionKeys(signer.Public()))
	reg := func(name string, fn any) { w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg("vault.Inventory", func(ctx context.Context, in vault.InventoryInput) (vault.InventoryResult, error) {
		return vault.InventoryResult{}, temporal.NewNonRetryableApplicationError("vault: no identity entity named "+in.Subject, "UnknownSubject", nil)
	})
	reg("vault.VerifyRevoked", func(ctx context.Context, in vault.VerifyRevokedInput) (vault.VerifyResult, error) {
		return vault.VerifyResult{Passed: true, Checks: []vault.Check{{Name: "token acc-1 fails lookup", Passed: true}}}, nil
	})
	var posts atomic.Int32
	reg("slack.Post", func(ctx context.Context, in slack.PostInput) (slack.PostResult, error) {
		posts.Add(1)
		return slack.PostResult{Channel: in.Channel, TS: time.Now().Format("150405.000000")}, nil
	})
	reg("slack.Update", func(ctx context.Context, in slack.UpdateInput) (slack.UpdateResult, error) {
		return slack.UpdateResult{Channel: in.Channel, TS: in.TS}, nil
	})
	reg("pagerduty.AddNote", func(ctx context.Context, in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
		return pagerduty.AddNoteResult{NoteID: "N1"}, nil
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	plan, err := playbooks.Compile("escalation.yaml", []byte(escalationYAML))
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "firebreak/escalation/alice", TaskQueue: workflows.TaskQueue}, workflows.Run, workflows.RunInput{
		Plan: *plan, Inputs: map[string]any{"subject": "alice"}, Trigger: workflows.Trigger{Kind: "cli", By: "bob"},
		Report: workflows.Report{SlackChannel: "C1", PagerDutyIncident: "P1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pending []workflows.PendingApproval
	for { // wait for the escalation to be asked
		v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryPending)
		if err == nil && v.Get(&pending) == nil && len(pending) == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the escalation was never asked")
		case <-time.After(100 * time.Millisecond):
		}
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: workflows.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{signer.Sign(workflows.ApprovalRequest{Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: workflows.DecisionApprove, Reason: "known: carry on"}, pending[0], run.GetID(), run.GetRunID(), time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var res workflows.RunResult
	_ = run.Get(ctx, &res) // inv failed: the run fails, after the wait
	var events historypb.History
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events.Events = append(events.Events, e)
	}
	if n := len(events.Events); n < 20 || events.Events[n-1].GetEventType() != enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED && events.Events[n-1].GetEventType() != enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
		t.Fatalf("history of %d events does not end with the run closed", n)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&events)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d Slack posts, outcome %s", len(events.Events), posts.Load(), res.Outcome)
}
