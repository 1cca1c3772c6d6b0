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
expect:
  - name: every key was cut
    that: ${{ size(steps.deactivate.outputs.missing) == 0 }}
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

// TestGateNeverContinuesOnTimeout: a playbook whose approvals continue on timeout still gets
// gates that abort (or escalate) on timeout; a gate that timed out "continuing" would let the
// irreversible step run with nobody's approval.
func TestGateNeverContinuesOnTimeout(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"approval: {on_timeout: continue}", playbooks.OnTimeoutAbort},
		{"approval: {on_timeout: abort}", playbooks.OnTimeoutAbort},
		{"approval: {on_timeout: escalate}", playbooks.OnTimeoutEscalate},
	} {
		p, err := compileTwoPerson(t, "roles: {approve: [security-oncall]}\n"+tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		gate, ok := p.Step("two_person_delete")
		if !ok || gate.Approval == nil || gate.Approval.OnTimeout != tc.want {
			t.Errorf("%s: gate %+v; want on_timeout %s", tc.rule, gate.Approval, tc.want)
		}
		if p.Approval.OnTimeout == playbooks.OnTimeoutContinue {
			if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Message, "continue does not apply to two-person gates") {
				t.Errorf("%s: warnings %v; want one saying gates do not continue", tc.rule, p.Warnings)
			}
		}
	}
}

// TestApprovalsThatDoNotGuard: an approval.request before an irreversible step holds it back
// only if a refusal or a timeout stops the step; otherwise the compiler adds a gate.
func TestApprovalsThatDoNotGuard(t *testing.T) {
	for _, tc := range []struct {
		name, approval string
		gated          bool
	}{
		{"plain approval guards", "", false},
		{"escalating approval guards", "\n    with: {message: go, on_timeout: escalate}", false},
		{"conditional approval", "\n    if: ${{ inputs.subject != \"root\" }}", true},
		{"approval that continues on timeout", "\n    with: {message: go, on_timeout: continue}", true},
		{"approval whose failure is tolerated", "\n    on_failure: continue", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			approval := "  - id: ok\n    action: approval.request\n    needs: [snap]"
			if !strings.Contains(tc.approval, "with:") {
				approval += "\n    with: {message: go}"
			}
			src := strings.Replace(twoPersonBase, "%s", "roles: {approve: [lead]}", 1) + approval + tc.approval + `
  - id: rotate
    action: awsiam.rotate_key
    needs: [ok]
    with: {user: x}
`
			p, err := playbooks.Compile("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			gate, gated := p.Step("two_person_rotate")
			if gated != tc.gated {
				t.Fatalf("gated=%v; want %v", gated, tc.gated)
			}
			rotate, _ := p.Step("rotate")
			if gated && (strings.Join(gate.Needs, ",") != "ok" || strings.Join(rotate.Needs, ",") != "ok,two_person_rotate") {
				t.Errorf("gate needs %v, rotate needs %v; want the gate after ok and rotate behind both", gate.Needs, rotate.Needs)
			}
		})
	}
}

func TestIrreversibleCompensationRefused(t *testing.T) {
	src := strings.Replace(twoPersonBase, "%s", "roles: {approve: [lead]}", 1) + `  - id: tag
    action: awsiam.tag_user
    needs: [snap]
    with: {user: x, tags: {a: b}}
    compensate:
      action: awsiam.delete_keys
      with: {user: x, access_key_ids: "${{ steps.inv.outputs.access_key_ids }}"}
`
	_, err := playbooks.Compile("t.yaml", []byte(src))
	var ce *playbooks.CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "step tag: compensate: awsiam.delete_keys cannot be undone") {
		t.Fatalf("err %v; want the irreversible compensation refused", err)
	}
	ok := strings.Replace(src, "compensate:\n      action: awsiam.delete_keys", "compensate:\n      action: awsiam.deactivate_keys", 1)
	if _, err := playbooks.Compile("t.yaml", []byte(ok)); err != nil {
		t.Fatalf("a reversible compensation is refused: %v", err)
	}
}

func TestGateMessageSaysContainmentRunsAtOnce(t *testing.T) {
	p, err := compileTwoPerson(t, "roles: {approve: [security-oncall]}")
	if err != nil {
		t.Fatal(err)
	}
	gate, _ := p.Step("two_person_delete")
	if strings.Contains(gate.Instructions, "already run") || !strings.Contains(gate.Instructions, "runs at once") {
		t.Errorf("gate message %q; want it to say reversible containment runs at once (it does not wait, nor has it necessarily run)", gate.Instructions)
	}
}

func TestIrreversibleByCatalog(t *testing.T) {
	for _, tc := range []struct {
		action string
		with   []playbooks.Arg
		want   bool
	}{
		{"awsiam.delete_keys", nil, true},
		{"awsiam.deactivate_keys", nil, false},
		{"awsiam.deactivate_mfa_devices", []playbooks.Arg{{Name: "delete_virtual", Expr: "false"}}, false},
		{"awsiam.deactivate_mfa_devices", []playbooks.Arg{{Name: "delete_virtual", Expr: "true"}}, true},
		{"awsiam.deactivate_mfa_devices", []playbooks.Arg{{Name: "delete_virtual", Expr: "inputs.hard"}}, true},
		{"awsiam.deactivate_mfa_devices", nil, false},
		{"no.such_action", nil, false},
	} {
		if got := playbooks.Irreversible(tc.action, tc.with); got != tc.want {
			t.Errorf("Irreversible(%s, %v) = %v; want %v", tc.action, tc.with, got, tc.want)
		}
	}
}
