package workflows

import (
	"strings"
	"testing"
	"time"
)

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
