package workflows

import (
	"strings"
	"testing"
	"time"
)

// A destructive step whose only evidence snapshot was skipped by its condition changes nothing.
func TestNoEvidenceNoChange(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	plan := compilePlan(t, `
name: x
title: X
severity: high
inputs:
  subject: {type: string, required: true}
  collect: {type: bool, default: "false"}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subject }}"}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    if: ${{ inputs.collect }}
    with: {subject: "${{ inputs.subject }}", data: {vault: "${{ steps.inv.outputs }}"}}
  - id: disable
    action: vault.disable_entity
    needs: [snap]
    with: {entity_id: "${{ steps.inv.outputs.entity_id }}"}
`)
	res, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{"subject": "alice", "collect": false}, Drill: true})
	if err == nil || fe.f.count("vault.DisableEntity") != 0 {
		t.Fatalf("the entity was disabled without evidence (err %v)", err)
	}
	if s := res.Steps[2]; s.Status != StatusFailed || s.ErrorKind != "NoEvidence" {
		t.Fatalf("disable step: %+v", s)
	}
}

// An if that does not evaluate to a bool fails the step instead of silently skipping it.
func TestIfMustBeBool(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	plan := compilePlan(t, `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: other
    action: vault.inventory
    needs: [inv]
    if: ${{ steps.inv.outputs["entity_id"] }}
    with: {subject: bob}
  - id: check
    action: vault.verify_revoked
    needs: [other]
    with: {accessors: []}
`)
	res, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{}, Drill: true})
	if err == nil || res.Steps[1].Status != StatusFailed || !strings.Contains(res.Steps[1].Error, "expected true or false") {
		t.Fatalf("err %v, step %+v", err, res.Steps[1])
	}
}

const twoPersonYAML = `
name: two
title: Two
severity: high
inputs:
  subject: {type: string, required: true}
approval: {count: 2, roles: [lead], timeout: 1h}
steps:
  - id: approve
    action: approval.request
    with: {message: "go?"}
  - id: check
    action: vault.verify_revoked
    needs: [approve]
    with: {accessors: []}
`

// One person is one decision whatever the case of their name; the run's subject decides
// nothing about their own containment; the requester approves nothing.
func TestApprovalIdentities(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, TaskQueue)
	var got []string
	lead := []string{"lead"}
	fe.update(time.Minute, ApprovalRequest{Approver: "bob", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(2*time.Minute, ApprovalRequest{Approver: " BOB ", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(3*time.Minute, ApprovalRequest{Approver: "Alice", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(4*time.Minute, ApprovalRequest{Approver: "carol", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	fe.update(5*time.Minute, ApprovalRequest{Approver: "dave", ApproverRoles: lead, Decision: DecisionApprove}, &got)
	res, err := fe.run(t, RunInput{Plan: compilePlan(t, twoPersonYAML), Inputs: map[string]any{"subject": "alice"}, Trigger: Trigger{Kind: "slack", By: "carol"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	want := []string{
		"ok bob: approval recorded; approve needs 1 more",
		"rejected  BOB : " + ` BOB  has already decided approve; each person decides once`,
		"rejected Alice: Alice is the subject of this run and cannot decide approve: nobody decides their own containment",
		"rejected carol: carol started this run and cannot decide approve: nobody approves their own request",
		"ok dave: approve granted (2 of 2)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Decisions) != 2 {
		t.Fatalf("decisions: %+v", res.Decisions)
	}
}

// An abort closes waits and pending decisions at once, so compensation does not wait for them.
func TestAbortClosesWaits(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{verifyBad: true}, TaskQueue)
	plan := compilePlan(t, `
name: x
title: X
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
    compensate:
      action: vault.enable_entity
      with: {entity_id: "${{ steps.disable.outputs.entity_id }}"}
    with: {entity_id: "${{ steps.inv.outputs.entity_id }}"}
  - id: verify
    action: vault.verify_revoked
    needs: [disable]
    with: {accessors: "${{ steps.inv.outputs.accessors }}", entity_id: "${{ steps.inv.outputs.entity_id }}"}
  - id: long_wait
    action: wait
    needs: [snap]
    with: {duration: 20h}
`)
	start := fe.env.Now()
	res, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{}})
	if err == nil {
		t.Fatal("expected the failed verification to fail the run")
	}
	if took := fe.env.Now().Sub(start); took > time.Hour {
		t.Fatalf("the run took %s of workflow time: the abort did not cancel the 20h wait", took)
	}
	if fe.f.count("vault.EnableEntity") != 1 {
		t.Fatalf("compensation ran %d times", fe.f.count("vault.EnableEntity"))
	}
	if s := res.Steps[4]; s.Status != StatusFailed || !strings.Contains(s.Error, "aborted") {
		t.Fatalf("wait step: %+v", s)
	}
}
