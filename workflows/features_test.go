package workflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/playbooks"
)

func compilePlan(t *testing.T, src string) playbooks.Plan {
	t.Helper()
	p, err := playbooks.Compile("test.yaml", []byte(src))
	if err != nil {
		var ce *playbooks.CompileError
		if errors.As(err, &ce) {
			t.Fatal(ce.Render())
		}
		t.Fatal(err)
	}
	return *p
}

// featureEnv is a test workflow environment with the fakes registered, plus the activities
// only the feature tests use.
type featureEnv struct {
	env      *testsuite.TestWorkflowEnvironment
	f        *fakes
	mu       sync.Mutex
	inFlight int
	maxSeen  int
	order    []string
	// id is the workflow id the environment starts runs with: run signs their triggers for
	// it as the front end would, unless unsigned is set (a raw Temporal start).
	id       string
	unsigned bool
}

func newFeatureEnv(t *testing.T, f *fakes, queue string) *featureEnv {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	fe := &featureEnv{env: s.NewTestWorkflowEnvironment(), f: f, id: "drill/x/alice/test"}
	fe.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "drill/x/alice/test", TaskQueue: queue, WorkflowExecutionTimeout: 24 * time.Hour})
	f.register(fe.env)
	registerTrusted(fe.env)
	reg := func(name string, fn any) {
		fe.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg("awsiam.RemoveFromGroups", func(ctx context.Context, in awsiam.RemoveFromGroupsInput) (awsiam.RemoveFromGroupsResult, error) {
		fe.mu.Lock()
		fe.inFlight++
		fe.maxSeen = max(fe.maxSeen, fe.inFlight)
		fe.order = append(fe.order, in.User)
		fe.mu.Unlock()
		defer func() { fe.mu.Lock(); fe.inFlight--; fe.mu.Unlock() }()
		if err := f.record("awsiam.RemoveFromGroups"); err != nil {
			return awsiam.RemoveFromGroupsResult{}, err
		}
		if in.User == "mallory" {
			return awsiam.RemoveFromGroupsResult{}, temporal.NewNonRetryableApplicationError(`iam: no user named "mallory"`, "UnknownSubject", nil)
		}
		time.Sleep(5 * time.Millisecond) // overlap with other items, so the concurrency bound is observable
		return awsiam.RemoveFromGroupsResult{Removed: []string{in.User + "-group"}}, nil
	})
	reg("vault.EnableEntity", func(ctx context.Context, in vault.EntityInput) (vault.EntityResult, error) {
		return vault.EntityResult{EntityID: in.EntityID, Disabled: false, WasDisabled: true}, f.record("vault.EnableEntity")
	})
	return fe
}

func (fe *featureEnv) run(t *testing.T, in RunInput) (RunResult, error) {
	t.Helper()
	if !in.Drill && !fe.unsigned && fe.id != "" && in.Trigger.Signature == nil {
		in = testSigner.SignTrigger(in, fe.id, fe.env.Now())
	}
	fe.env.ExecuteWorkflow(RunWorkflowName, in)
	if !fe.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res RunResult
	err := fe.env.GetWorkflowError()
	if err == nil {
		if gerr := fe.env.GetWorkflowResult(&res); gerr != nil {
			t.Fatal(gerr)
		}
	} else {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.HasDetails() {
			_ = appErr.Details(&res)
		}
	}
	return res, err
}

// update sends an approve update after delay and records how it ended.
func (fe *featureEnv) update(delay time.Duration, req ApprovalRequest, got *[]string) {
	fe.env.RegisterDelayedCallback(func() {
		req := signAsFrontEnd(fe.env, req)
		fe.env.UpdateWorkflow(UpdateApprove, req.Approver+"/"+req.Decision+"/"+delay.String(), &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { *got = append(*got, "rejected "+req.Approver+": "+err.Error()) },
			OnComplete: func(v any, err error) {
				if err != nil {
					*got = append(*got, "failed "+req.Approver+": "+err.Error())
					return
				}
				*got = append(*got, "ok "+req.Approver+": "+v.(ApprovalResult).Message)
			},
		}, req)
	}, delay)
}

const deprovisionYAML = `
name: fanout
title: Fan-out
severity: high
inputs:
  subjects: {type: list, required: true}
roles: {approve: [security-lead]}
approval: {count: 2, timeout: 30m, on_timeout: abort}
steps:
  - id: snap
    action: evidence.snapshot
    with: {subject: all, data: {vault: "${{ inputs.subjects }}"}}
  - id: approve
    action: approval.request
    needs: [snap]
    with: {message: "remove ${{ size(inputs.subjects) }} people from their groups"}
  - id: groups
    action: awsiam.remove_from_groups
    needs: [approve]
    foreach: ${{ inputs.subjects }}
    concurrency: 2
    with: {user: "${{ item }}"}
outputs:
  removed: ${{ steps.groups.outputs.items.map(i, i.removed[0]) }}
expect:
  - name: everyone left their groups
    that: ${{ steps.groups.outputs.failed == 0 && size(steps.groups.outputs.items) == size(inputs.subjects) }}
`

func fanoutInput(t *testing.T, subjects ...string) RunInput {
	list := make([]any, len(subjects))
	for i, s := range subjects {
		list[i] = s
	}
	return RunInput{Plan: compilePlan(t, deprovisionYAML), Inputs: map[string]any{"subjects": list}, Drill: true, Trigger: Trigger{Kind: "cli", By: "alice"}}
}

func TestForeachWithApprovalsFromPeople(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	var got []string
	lead := []string{"security-lead"}
	fe.update(time.Minute, ApprovalRequest{Approver: "alice", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(2*time.Minute, ApprovalRequest{Approver: "dave", ApproverRoles: []string{"developer"}, Decision: DecisionApprove}, &got)
	fe.update(3*time.Minute, ApprovalRequest{Step: "approve", Approver: "bob", ApproverRoles: lead, Decision: DecisionApprove, Reason: "confirmed with HR"}, &got)
	fe.update(4*time.Minute, ApprovalRequest{Approver: "bob", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	var pendingSeen []PendingApproval
	fe.env.RegisterDelayedCallback(func() {
		v, err := fe.env.QueryWorkflow(QueryPending)
		if err == nil {
			_ = v.Get(&pendingSeen)
		}
	}, 5*time.Minute)
	fe.update(6*time.Minute, ApprovalRequest{Step: "nope", Approver: "carol", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(7*time.Minute, ApprovalRequest{Approver: "carol", ApproverRoles: lead, Decision: DecisionApprove}, &got)

	res, err := fe.run(t, fanoutInput(t, "u1", "u2", "u3", "u4", "u5"))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	want := []string{
		"rejected alice: alice started this run and cannot decide approve: nobody approves their own request",
		"rejected dave: dave has roles [developer]; approval approve needs one of [security-lead]",
		"ok bob: approval recorded; approve needs 1 more",
		"rejected bob: bob has already decided approve; each person decides once",
		`rejected carol: no pending approval or manual step "nope" in this run; pending: approve (approval)`,
		"ok carol: approve granted (2 of 2)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("update outcomes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(pendingSeen) != 1 || pendingSeen[0].Step != "approve" || pendingSeen[0].Approvals != 1 || pendingSeen[0].Needed != 2 {
		t.Fatalf("pending query: %+v", pendingSeen)
	}
	if len(res.Decisions) != 2 || res.Decisions[0].Approver != "bob" || res.Decisions[0].Reason != "confirmed with HR" || res.Decisions[1].ResponseMS != (7*time.Minute).Milliseconds() {
		t.Fatalf("decisions: %+v", res.Decisions)
	}
	if fe.maxSeen > 2 || fe.f.count("awsiam.RemoveFromGroups") != 5 {
		t.Fatalf("foreach ran %d calls with up to %d at once; want 5 with at most 2", fe.f.count("awsiam.RemoveFromGroups"), fe.maxSeen)
	}
	// The first two items are scheduled first; the test environment runs the two activities
	// on goroutines of their own, so which of them records first is not the workflow's doing.
	first := append([]string(nil), fe.order[:2]...)
	sort.Strings(first)
	if strings.Join(first, ",") != "u1,u2" {
		t.Fatalf("items did not start in list order: %v", fe.order)
	}
	removed, _ := res.Outputs["removed"].([]any)
	if len(removed) != 5 || removed[0] != "u1-group" || removed[4] != "u5-group" {
		t.Fatalf("outputs: %#v", res.Outputs)
	}
	if len(res.Expectations) != 1 || !res.Expectations[0].Passed {
		t.Fatalf("expectations: %+v", res.Expectations)
	}
	if len(res.Pending) != 0 {
		t.Fatalf("pending after the run: %+v", res.Pending)
	}
}

func TestForeachItemFailureFailsTheStep(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	in := fanoutInput(t, "u1", "mallory", "u3")
	in.AutoApprove = true
	res, err := fe.run(t, in)
	if err == nil {
		t.Fatal("expected the run to fail")
	}
	s := res.Steps[2]
	if s.Status != StatusFailed || !strings.Contains(s.Error, "1 of 3 items failed: item 1: iam: no user named \"mallory\"") || s.ErrorKind != "UnknownSubject" {
		t.Fatalf("step: %+v", s)
	}
	items, _ := s.Outputs["items"].([]any)
	if len(items) != 3 || fmt.Sprint(s.Outputs["failed"]) != "1" {
		t.Fatalf("outputs: %#v", s.Outputs)
	}
	if fe.f.count("awsiam.RemoveFromGroups") != 3 {
		t.Fatalf("a failed item stopped the others: %v", fe.f.calls)
	}
}

func TestApprovalDeniedAbortsAndTimeoutPolicies(t *testing.T) {
	t.Run("deny", func(t *testing.T) {
		fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
		var got []string
		fe.update(time.Minute, ApprovalRequest{Approver: "bob", ApproverRoles: []string{"security-lead"}, Decision: DecisionDeny, Reason: "wrong person"}, &got)
		res, err := fe.run(t, fanoutInput(t, "u1"))
		if err == nil || fe.f.count("awsiam.RemoveFromGroups") != 0 {
			t.Fatalf("denied approval did not stop the run: %v %v", err, fe.f.calls)
		}
		if res.Steps[1].ErrorKind != "ApprovalDenied" || !strings.Contains(res.Steps[1].Error, "denied by bob: wrong person") {
			t.Fatalf("approve step: %+v", res.Steps[1])
		}
		if len(res.Decisions) != 1 || res.Decisions[0].Decision != DecisionDeny {
			t.Fatalf("decisions: %+v", res.Decisions)
		}
	})
	for _, tc := range []struct {
		policy, kind string
		ran          int
	}{{"abort", "ApprovalTimeout", 0}, {"continue", "", 1}, {"escalate", "ApprovalTimeout", 0}} {
		t.Run("timeout "+tc.policy, func(t *testing.T) {
			fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
			in := fanoutInput(t, "u1")
			in.Plan = compilePlan(t, strings.Replace(deprovisionYAML, "on_timeout: abort", "on_timeout: "+tc.policy, 1))
			res, _ := fe.run(t, in)
			if got := fe.f.count("awsiam.RemoveFromGroups"); got != tc.ran {
				t.Fatalf("%d removals after timeout with %s", got, tc.policy)
			}
			if res.Steps[1].ErrorKind != tc.kind {
				t.Fatalf("approve step: %+v", res.Steps[1])
			}
			if tc.policy == "continue" && res.Steps[1].Outputs["timed_out"] != true {
				t.Fatalf("outputs: %+v", res.Steps[1].Outputs)
			}
			if tc.policy == "escalate" && (len(res.Escalations) != 1 || res.Escalations[0].Outcome != "abort") {
				t.Fatalf("escalations: %+v", res.Escalations)
			}
		})
	}
}

const manualYAML = `
name: manual
title: Manual
severity: medium
roles: {approve: [security-lead]}
steps:
  - id: call
    action: manual
    with: {instructions: "Call the developer on a known number", assignee: security-oncall}
  - id: pause
    action: wait
    needs: [call]
    with: {duration: 10m}
  - id: inv
    action: vault.inventory
    needs: [pause]
    on_failure: escalate
    with: {subject: "${{ steps.call.outputs.confirmed_by }}"}
expect:
  - name: confirmed
    that: ${{ steps.call.outputs.confirmed_by != "" && steps.pause.outputs.waited_ms == 600000 }}
`

func TestManualWaitAndEscalationInDrillAutoApprove(t *testing.T) {
	f := &fakes{failOn: map[string]error{"vault.Inventory": temporal.NewNonRetryableApplicationError("vault: no identity entity", "UnknownSubject", nil)}}
	fe := newFeatureEnv(t, f, DrillTaskQueue)
	res, err := fe.run(t, RunInput{Plan: compilePlan(t, manualYAML), Drill: true, AutoApprove: true, Trigger: Trigger{By: "alice"}})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrRunFailed {
		t.Fatalf("a failed step must still fail the drill: %v", err)
	}
	if res.Steps[0].Outputs["confirmed_by"] != DrillApprover || res.Steps[0].Status != StatusSucceeded {
		t.Fatalf("manual step: %+v", res.Steps[0])
	}
	if fmt.Sprint(res.Steps[1].Outputs["waited_ms"]) != "600000" {
		t.Fatalf("wait step: %+v", res.Steps[1])
	}
	if len(res.Escalations) != 1 || res.Escalations[0].Step != "inv" || res.Escalations[0].Outcome != "continue" {
		t.Fatalf("escalations: %+v", res.Escalations)
	}
	if len(res.Decisions) != 2 || res.Decisions[0].Kind != PendingKindManual || res.Decisions[1].Kind != PendingKindEscalation {
		t.Fatalf("decisions: %+v", res.Decisions)
	}
	if !res.Expectations[0].Passed {
		t.Fatalf("expectation: %+v", res.Expectations[0])
	}
}

func TestAutoApproveRefusedOutsideDrill(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, TaskQueue)
	_, err := fe.run(t, RunInput{Plan: compilePlan(t, manualYAML), AutoApprove: true})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "DrillIsolation" || !strings.Contains(appErr.Message(), "auto_approve") {
		t.Fatalf("expected a refusal, got %v", err)
	}
}

const compensateYAML = `
name: undo
title: Undo
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: alice, data: {vault: "${{ steps.inv.outputs }}"}}
  - id: disable
    action: vault.disable_entity
    needs: [snap]
    with: {entity_id: "${{ steps.inv.outputs.entity_id }}"}
    compensate:
      action: vault.enable_entity
      with: {entity_id: "${{ steps.disable.outputs.entity_id }}"}
  - id: verify
    action: vault.verify_revoked
    needs: [disable]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`

func TestCompensateAfterAbort(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{verifyBad: true}, DrillTaskQueue)
	res, err := fe.run(t, RunInput{Plan: compilePlan(t, compensateYAML), Drill: true})
	if err == nil {
		t.Fatal("expected failure")
	}
	if fe.f.count("vault.EnableEntity") != 1 || len(res.Compensations) != 1 {
		t.Fatalf("compensation did not run once: %v %+v", fe.f.calls, res.Compensations)
	}
	c := res.Compensations[0]
	if c.ID != "disable" || c.Action != "vault.enable_entity" || c.Status != StatusSucceeded || c.Outputs["entity_id"] != "ent-1" {
		t.Fatalf("compensation: %+v", c)
	}
	// Without an abort, nothing is undone.
	fe = newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	if _, err := fe.run(t, RunInput{Plan: compilePlan(t, compensateYAML), Drill: true}); err != nil || fe.f.count("vault.EnableEntity") != 0 {
		t.Fatalf("compensation ran on success: %v %v", err, fe.f.calls)
	}
}

func TestEscalationDecidedByAPerson(t *testing.T) {
	for _, tc := range []struct {
		decision string
		failed   bool // the run fails
	}{{DecisionApprove, false}, {DecisionDeny, true}} {
		t.Run(tc.decision, func(t *testing.T) {
			f := &fakes{failOn: map[string]error{"vault.Inventory": temporal.NewNonRetryableApplicationError("vault: sealed", "Unavailable", nil)}}
			fe := newFeatureEnv(t, f, DrillTaskQueue)
			var got []string
			fe.update(time.Minute, ApprovalRequest{Step: "call", Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: DecisionApprove, Reason: "reached them"}, &got)
			fe.update(20*time.Minute, ApprovalRequest{Step: "inv", Approver: "bob", ApproverRoles: []string{"security-lead"}, Decision: tc.decision, Reason: "vault is down, carry on manually"}, &got)
			res, err := fe.run(t, RunInput{Plan: compilePlan(t, manualYAML), Drill: true, Trigger: Trigger{By: "alice"}})
			if (err != nil) != tc.failed {
				t.Fatalf("run error %v; want failed=%v\n%s", err, tc.failed, strings.Join(got, "\n"))
			}
			if len(res.Escalations) != 1 || res.Escalations[0].Outcome != map[string]string{DecisionApprove: "continue", DecisionDeny: "abort"}[tc.decision] {
				t.Fatalf("escalations: %+v", res.Escalations)
			}
			if res.Steps[0].Outputs["confirmed_by"] != "carol" || res.Steps[0].Outputs["note"] != "reached them" {
				t.Fatalf("manual step: %+v", res.Steps[0])
			}
			last := res.Decisions[len(res.Decisions)-1]
			if last.Approver != "bob" || last.Kind != PendingKindEscalation || last.Decision != tc.decision {
				t.Fatalf("decisions: %+v", res.Decisions)
			}
		})
	}
}
