package playbooks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

const twoPersonBase = `
name: x
title: X
severity: high
inputs:
  subject: {type: string, required: true}
%s
steps:
  - id: inv
    action: awsiam.inventory
    with: {user: "${{ inputs.subject }}"}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: x, data: {iam: "${{ steps.inv.outputs }}"}}
  - id: deactivate
    action: awsiam.deactivate_keys
    needs: [snap]
    with: {user: "${{ inputs.subject }}", access_key_ids: "${{ steps.inv.outputs.access_key_ids }}"}
  - id: delete
    action: awsiam.delete_keys
    needs: [snap]
    with: {user: "${{ inputs.subject }}", access_key_ids: "${{ steps.inv.outputs.access_key_ids }}"}
  - id: mfa
    action: awsiam.deactivate_mfa_devices
    needs: [snap]
    with: {user: "${{ inputs.subject }}", delete_virtual: false}
`

func compileTwoPerson(t *testing.T, head string) (*playbooks.Plan, error) {
	t.Helper()
	return playbooks.Compile("t.yaml", []byte(strings.Replace(twoPersonBase, "%s", head, 1)))
}

func TestTwoPersonGates(t *testing.T) {
	p, err := compileTwoPerson(t, "roles: {approve: [security-oncall]}")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	if got := strings.Join(ids, ","); got != "inv,snap,deactivate,two_person_delete,delete,mfa" {
		t.Fatalf("steps %s; want one gate, before delete only (deactivate and mfa without delete_virtual are reversible)", got)
	}
	gate, _ := p.Step("two_person_delete")
	if gate.Approval == nil || strings.Join(gate.Approval.Roles, ",") != "security-oncall" || gate.OnFailure != playbooks.OnFailureContinue || !strings.Contains(gate.Instructions, "cannot be undone") {
		t.Errorf("gate %+v; want an approval by security-oncall that explains itself and lets the run go on when refused", gate)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %v", p.Warnings)
	}
	if !strings.Contains(p.Mermaid(), "two_person_delete --> delete") || !strings.Contains(p.Explain(), "two-person gate") {
		t.Errorf("graph or explain does not show the gate:\n%s\n%s", p.Mermaid(), p.Explain())
	}
}

func TestTwoPersonAlreadyApprovedIsNotGated(t *testing.T) {
	src := strings.Replace(twoPersonBase, "%s", "roles: {approve: [lead]}", 1) + `  - id: ok
    action: approval.request
    needs: [snap]
    with: {message: go}
  - id: rotate
    action: awsiam.rotate_key
    needs: [ok]
    with: {user: x}
`
	p, err := playbooks.Compile("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, gated := p.Step("two_person_rotate"); gated {
		t.Error("rotate is gated although an approval.request precedes it")
	}
}

func TestTwoPersonOptOutWarns(t *testing.T) {
	p, err := compileTwoPerson(t, "approval: {two_person: false}")
	if err != nil {
		t.Fatal(err)
	}
	if _, gated := p.Step("two_person_delete"); gated || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Message, "opts out of the two-person rule: irreversible steps (delete)") {
		t.Errorf("gated=%v warnings %v; want no gate and one warning naming delete", gated, p.Warnings)
	}
}

func TestTwoPersonNeedsApprovers(t *testing.T) {
	_, err := compileTwoPerson(t, "")
	var ce *playbooks.CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "step delete: awsiam.delete_keys cannot be undone") {
		t.Fatalf("err %v; want a compile error naming delete and how to fix it", err)
	}
}

func TestOnCallNeedsAnIncident(t *testing.T) {
	_, err := compileTwoPerson(t, "roles: {approve: [oncall]}\napproval: {on_call: true}")
	var ce *playbooks.CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "approval.on_call: on-call approvers are checked against the run's PagerDuty incident") {
		t.Fatalf("err %v; want on_call refused for a playbook without an incident", err)
	}
	p, err := compileTwoPerson(t, "roles: {approve: [oncall]}\napproval: {on_call: true}\ntriggers: {pagerduty: [{service: PSVC}]}")
	if err != nil {
		t.Fatal(err)
	}
	if gate, _ := p.Step("two_person_delete"); gate.Approval == nil || !gate.Approval.OnCall {
		t.Errorf("gate %+v; want it to require on-call approvers", gate)
	}
}
