package workflows

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/activities/vault"
)

// gateYAML has reversible containment (revoke) and an irreversible step (rotate) with the same
// needs: the compiler gates rotate behind a two-person approval; revoke runs at once.
const gateYAML = `
name: gate
title: Gate
severity: critical
inputs:
  subject: {type: string, required: true}
roles: {approve: [security-oncall]}
approval: {timeout: 30m, on_timeout: abort%s}
triggers:
  pagerduty:
    - service: PSVC
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
  - id: rotate
    action: vault.rotate_secrets
    needs: [snap]
    with: {secrets: "${{ steps.inv.outputs.readable_secrets }}"}
%s`

// gateEnv runs gated plans with in-memory activities and records what went to Slack.
type gateEnv struct {
	env     *testsuite.TestWorkflowEnvironment
	mu      sync.Mutex
	posts   []slack.PostInput
	updates []slack.UpdateInput
	calls   []string
	onCall  map[string]bool // email → on call for the incident
	asked   []pagerduty.IsOnCallInput
	// unsigned starts runs as a plain Temporal client would: the trigger is not signed.
	unsigned bool
}

// newGateEnv returns the gate environment with the interpreter registered trusting
// testSigner, or configured by opts when there are any.
func newGateEnv(t *testing.T, opts ...Option) *gateEnv {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	g := &gateEnv{env: s.NewTestWorkflowEnvironment(), onCall: map[string]bool{}}
	g.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "firebreak/gate/alice", TaskQueue: TaskQueue, WorkflowExecutionTimeout: 24 * time.Hour})
	if len(opts) > 0 {
		Register(g.env, opts...)
	} else {
		registerTrusted(g.env)
	}
	rec := func(ctx context.Context, name string) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.calls = append(g.calls, name)
	}
	reg := func(name string, fn any) { g.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg("vault.Inventory", func(ctx context.Context, in vault.InventoryInput) (vault.InventoryResult, error) {
		rec(ctx, "vault.Inventory")
		return vault.InventoryResult{Present: true, EntityID: "ent-1", Accessors: []string{"acc-1"}, ReadableSecrets: []vault.SecretRef{{Mount: "secret", Path: "shared/db", Version: 3}}}, nil
	})
	reg("evidence.Snapshot", func(ctx context.Context, in evidence.SnapshotInput) (evidence.SnapshotResult, error) {
		rec(ctx, "evidence.Snapshot")
		return evidence.SnapshotResult{Ref: "evidence:1", SHA256: "abc", Seq: 1}, nil
	})
	reg("vault.RevokeTokens", func(ctx context.Context, in vault.RevokeTokensInput) (vault.RevokeTokensResult, error) {
		rec(ctx, "vault.RevokeTokens")
		return vault.RevokeTokensResult{Revoked: in.Accessors}, nil
	})
	reg("vault.RotateSecrets", func(ctx context.Context, in vault.RotateSecretsInput) (vault.RotateSecretsResult, error) {
		rec(ctx, "vault.RotateSecrets")
		return vault.RotateSecretsResult{Rotated: []vault.Rotation{{Mount: "secret", Path: "shared/db", PreviousVersion: 3, NewVersion: 4}}}, nil
	})
	reg("vault.VerifyRotated", func(ctx context.Context, in vault.VerifyRotatedInput) (vault.VerifyResult, error) {
		rec(ctx, "vault.VerifyRotated")
		return vault.VerifyResult{Passed: true, Checks: []vault.Check{}}, nil
	})
	reg("slack.Post", func(ctx context.Context, in slack.PostInput) (slack.PostResult, error) {
		rec(ctx, "slack.Post")
		g.mu.Lock()
		defer g.mu.Unlock()
		g.posts = append(g.posts, in)
		return slack.PostResult{Channel: "C1", TS: "1." + strings.Repeat("0", 3) + string(rune('0'+len(g.posts)%10))}, nil
	})
	reg("slack.Update", func(ctx context.Context, in slack.UpdateInput) (slack.UpdateResult, error) {
		rec(ctx, "slack.Update")
		g.mu.Lock()
		defer g.mu.Unlock()
		g.updates = append(g.updates, in)
		return slack.UpdateResult{Channel: in.Channel, TS: in.TS}, nil
	})
	reg("pagerduty.AddNote", func(ctx context.Context, in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
		return pagerduty.AddNoteResult{NoteID: "N1"}, nil
	})
	reg("pagerduty.IsOnCall", func(ctx context.Context, in pagerduty.IsOnCallInput) (pagerduty.IsOnCallResult, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.asked = append(g.asked, in)
		return pagerduty.IsOnCallResult{OnCall: g.onCall[strings.ToLower(in.Email)], IncidentID: in.IncidentID, EscalationPolicyID: "PEP1", OnCallCount: len(g.onCall)}, nil
	})
	return g
}

func (g *gateEnv) update(delay time.Duration, req ApprovalRequest, got *[]string) {
	fe := &featureEnv{env: g.env}
	fe.update(delay, req, got)
}

func (g *gateEnv) run(t *testing.T, in RunInput) (RunResult, error) {
	fe := &featureEnv{env: g.env, id: "firebreak/gate/alice", unsigned: g.unsigned}
	return fe.run(t, in)
}

func gateInput(t *testing.T, approval, extra string) RunInput {
	return RunInput{
		Plan:    compilePlan(t, strings.Replace(strings.Replace(gateYAML, "%s", approval, 1), "%s", extra, 1)),
		Inputs:  map[string]any{"subject": "alice"},
		Trigger: Trigger{Kind: "slack", By: "bob"},
		Report:  Report{SlackChannel: "C1", PagerDutyIncident: "P1"},
	}
}

// decisionReply returns the Slack reply that asked for step's decision and its ts.
func (g *gateEnv) decisionReply(t *testing.T, step string) slack.PostInput {
	t.Helper()
	for i, p := range g.posts {
		if strings.Contains(string(p.Blocks), `"firebreak_decide/`+step+`"`) {
			p.IdempotencyKey = "1." + strings.Repeat("0", 3) + string(rune('0'+(i+1)%10)) // its ts, as the fake answered
			return p
		}
	}
	t.Fatalf("no reply with decision buttons for %s among %d posts", step, len(g.posts))
	return slack.PostInput{}
}

// buttonsRemoved checks that the decision reply for step was updated in place to say want,
// with no actions block left.
func (g *gateEnv) buttonsRemoved(t *testing.T, step, want string) {
	t.Helper()
	ts := g.decisionReply(t, step).IdempotencyKey
	for _, u := range g.updates {
		if u.TS != ts {
			continue
		}
		var blocks []map[string]any
		if err := json.Unmarshal(u.Blocks, &blocks); err != nil || len(blocks) == 0 {
			t.Fatalf("update of %s's reply: blocks %s (%v); want one section", step, u.Blocks, err)
		}
		for _, b := range blocks {
			if b["type"] == "actions" {
				t.Errorf("update of %s's reply still has buttons: %s", step, u.Blocks)
			}
		}
		if !strings.Contains(u.Text, want) {
			t.Errorf("update of %s's reply says %q; want it to contain %q", step, u.Text, want)
		}
		return
	}
	t.Errorf("the reply asking for %s (ts %s) was never updated; updates: %+v", step, ts, g.updates)
}

func TestCompilerGatesIrreversibleStepsOnly(t *testing.T) {
	p := compilePlan(t, strings.Replace(strings.Replace(gateYAML, "%s", "", 1), "%s", "", 1))
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	gate, ok := p.Step("two_person_rotate")
	if !ok || gate.Action != "approval.request" || strings.Join(gate.Guards, ",") != "rotate" || strings.Join(gate.Needs, ",") != "snap" {
		t.Fatalf("steps %v; want a two_person_rotate approval.request guarding rotate after snap, got %+v", ids, gate)
	}
	rotate, _ := p.Step("rotate")
	revoke, _ := p.Step("revoke")
	if !rotate.Irreversible || strings.Join(rotate.Needs, ",") != "snap,two_person_rotate" {
		t.Errorf("rotate: irreversible=%v needs %v; want irreversible, needing the gate", rotate.Irreversible, rotate.Needs)
	}
	if revoke.Irreversible || strings.Join(revoke.Needs, ",") != "snap" {
		t.Errorf("revoke: irreversible=%v needs %v; want reversible and ungated", revoke.Irreversible, revoke.Needs)
	}
}

// TestGateWaitsWhileContainmentRuns: the reversible revoke runs at once and sets time to
// contain while the gate waits; the requester's own approval is refused at the gate; a second
// person's approval lets the rotation run; the buttons go once it is granted.
func TestGateWaitsWhileContainmentRuns(t *testing.T) {
	g := newGateEnv(t)
	var got []string
	oncall := []string{"security-oncall"}
	g.update(time.Minute, ApprovalRequest{Approver: "bob", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
	var mid RunResult
	g.env.RegisterDelayedCallback(func() {
		v, err := g.env.QueryWorkflow(QueryStatus)
		if err == nil {
			_ = v.Get(&mid)
		}
	}, 5*time.Minute)
	g.update(10*time.Minute, ApprovalRequest{Approver: "carol", ApproverRoles: oncall, Decision: DecisionApprove, Reason: "checked the consumers"}, &got)
	start := g.env.Now()
	res, err := g.run(t, gateInput(t, "", ""))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "rejected bob: bob started this run") || !strings.HasPrefix(got[1], "ok carol") {
		t.Errorf("decisions: %q; want bob refused as the requester, then carol granted", got)
	}
	step := func(r RunResult, id string) StepResult {
		for _, s := range r.Steps {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no step %s", id)
		return StepResult{}
	}
	if s := step(mid, "revoke"); s.Status != StatusSucceeded {
		t.Errorf("while the gate waits, revoke is %s; want succeeded", s.Status)
	}
	if s := step(mid, "two_person_rotate"); s.Status != StatusWaiting || len(mid.Pending) != 1 || mid.Pending[0].Guards[0] != "rotate" {
		t.Errorf("while waiting: gate %s, pending %+v; want the gate waiting for a person", s.Status, mid.Pending)
	}
	if s := step(mid, "rotate"); s.Status != StatusPending {
		t.Errorf("while the gate waits, rotate is %s; want pending", s.Status)
	}
	if mid.ContainedAt.IsZero() || mid.TimeToContainMS >= time.Minute.Milliseconds() {
		t.Errorf("while the gate waits: contained at %v, ttc %d ms; want access cut and timed before any person answered", mid.ContainedAt, mid.TimeToContainMS)
	}
	if res.Outcome != OutcomeContained || res.TimeToContainMS != mid.TimeToContainMS {
		t.Errorf("outcome %s ttc %d; want contained with the ttc of the revocation (%d)", res.Outcome, res.TimeToContainMS, mid.TimeToContainMS)
	}
	if res.RemediatedAt.Sub(start) < 10*time.Minute || res.TimeToRemediateMS < (10*time.Minute).Milliseconds() {
		t.Errorf("remediated at %v (%d ms); want after carol's approval at +10m", res.RemediatedAt, res.TimeToRemediateMS)
	}
	if at := step(res, "rotate").StartedAt.Sub(start); at < 10*time.Minute {
		t.Errorf("rotation ran at +%v, before the second person approved", at)
	}
	if at := step(res, "revoke").StartedAt.Sub(start); at >= time.Minute {
		t.Errorf("revocation ran at +%v; reversible containment must not wait", at)
	}
	g.buttonsRemoved(t, "two_person_rotate", "Approved by carol")
	if !strings.Contains(g.decisionReply(t, "two_person_rotate").Text, "Two-person rule") {
		t.Errorf("gate reply %q does not say it is the two-person rule", g.decisionReply(t, "two_person_rotate").Text)
	}
}

// TestGateDeniedOrTimedOut: a denial or silence leaves the irreversible step undone, the
// access cut still timed, and the buttons replaced by what happened.
func TestGateDeniedOrTimedOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		deny bool
		want string
	}{{"denied", true, "Denied by carol"}, {"timed out", false, "Timed out"}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateEnv(t)
			var got []string
			if tc.deny {
				g.update(time.Minute, ApprovalRequest{Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: DecisionDeny, Reason: "consumers not ready"}, &got)
			}
			res, err := g.run(t, gateInput(t, "", ""))
			if err == nil || res.Outcome != OutcomeFailed {
				t.Fatalf("outcome %s, err %v; want failed: the rotation was not done", res.Outcome, err)
			}
			for _, s := range res.Steps {
				if s.ID == "rotate" && s.Status != StatusSkipped {
					t.Errorf("rotate %s; want skipped", s.Status)
				}
				if s.ID == "revoke" && s.Status != StatusSucceeded {
					t.Errorf("revoke %s; want succeeded", s.Status)
				}
			}
			if res.ContainedAt.IsZero() || res.TimeToContainMS >= time.Minute.Milliseconds() || !res.RemediatedAt.IsZero() {
				t.Errorf("ttc %d, remediated %v; want access cut at once and no remediation", res.TimeToContainMS, res.RemediatedAt)
			}
			for _, c := range g.calls {
				if c == "vault.RotateSecrets" {
					t.Error("the rotation ran without approval")
				}
			}
			g.buttonsRemoved(t, "two_person_rotate", tc.want)
		})
	}
}

func TestOnCallApprovals(t *testing.T) {
	oncall := []string{"security-oncall"}
	t.Run("on call accepted, off call refused and recorded", func(t *testing.T) {
		g := newGateEnv(t)
		g.onCall["carol@example.test"] = true
		var got []string
		g.update(time.Minute, ApprovalRequest{Approver: "dave", ApproverEmail: "dave@example.test", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
		g.update(2*time.Minute, ApprovalRequest{Approver: "carol", ApproverEmail: "Carol@example.test", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
		res, err := g.run(t, gateInput(t, ", on_call: true", ""))
		if err != nil {
			t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
		}
		if len(got) != 2 || !strings.Contains(got[0], "failed dave: dave (dave@example.test) is not on call for incident P1") || !strings.HasPrefix(got[1], "ok carol") {
			t.Errorf("decisions: %q; want dave refused as not on call, carol granted", got)
		}
		var refused, approved []Decision
		for _, d := range res.Decisions {
			switch d.Decision {
			case DecisionRefused:
				refused = append(refused, d)
			case DecisionApprove:
				approved = append(approved, d)
			}
		}
		if len(refused) != 1 || refused[0].Approver != "dave" || !strings.Contains(refused[0].Reason, "not on call") {
			t.Errorf("refusals recorded: %+v; want dave's, saying he is not on call", refused)
		}
		if len(approved) != 1 || approved[0].Approver != "carol" {
			t.Errorf("approvals recorded: %+v; want carol's only", approved)
		}
		if len(g.asked) != 2 || g.asked[0].IncidentID != "P1" {
			t.Errorf("PagerDuty asked %+v; want both approvers checked against P1", g.asked)
		}
	})
	t.Run("no incident refused", func(t *testing.T) {
		g := newGateEnv(t)
		g.onCall["carol@example.test"] = true
		var got []string
		g.update(time.Minute, ApprovalRequest{Approver: "carol", ApproverEmail: "carol@example.test", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
		in := gateInput(t, ", on_call: true", "")
		in.Report.PagerDutyIncident = ""
		res, _ := g.run(t, in)
		if len(got) != 1 || !strings.Contains(got[0], "this run has no PagerDuty incident") {
			t.Errorf("decisions: %q; want carol refused for want of an incident", got)
		}
		if len(g.asked) != 0 {
			t.Errorf("PagerDuty was asked %+v without an incident", g.asked)
		}
		if len(res.Decisions) == 0 || res.Decisions[0].Decision != DecisionRefused {
			t.Errorf("decisions %+v; want the refusal recorded", res.Decisions)
		}
	})
}

// TestDecisionRepliesLoseTheirButtons: a manual step confirmed, and one closed because the
// run aborted, both have their replies updated without buttons.
func TestDecisionRepliesLoseTheirButtons(t *testing.T) {
	const src = `
name: manual
title: Manual
severity: high
inputs:
  subject: {type: string, required: true}
roles: {approve: [security-oncall]}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subject }}"}
  - id: call_them
    action: manual
    needs: [inv]
    with: {assignee: security-oncall, instructions: "call them"}
  - id: check_logs
    action: manual
    needs: [inv]
    with: {assignee: security-oncall, instructions: "read the logs"}
  - id: wait_then_fail
    action: wait
    needs: [call_them]
    with: {duration: 1m}
  - id: fail
    action: evidence.snapshot
    needs: [wait_then_fail]
    if: ${{ steps.inv.outputs.accessors[5] == "none" }}
    with: {subject: x, data: {vault: "${{ steps.inv.outputs }}"}}
`
	g := newGateEnv(t)
	var got []string
	g.update(time.Minute, ApprovalRequest{Step: "call_them", Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: DecisionApprove, Reason: "reached them"}, &got)
	in := RunInput{Plan: compilePlan(t, src), Inputs: map[string]any{"subject": "alice"}, Trigger: Trigger{Kind: "slack", By: "bob"}, Report: Report{SlackChannel: "C1"}}
	res, err := g.run(t, in)
	if err == nil {
		t.Fatalf("run %s; want it to abort (the condition of fail cannot be evaluated)", res.Outcome)
	}
	g.buttonsRemoved(t, "call_them", "Done by carol")
	g.buttonsRemoved(t, "check_logs", "Closed without a decision")
}
