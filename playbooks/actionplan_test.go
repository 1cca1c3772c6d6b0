package playbooks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
)

// TestActionPlan compiles the one-step plan of catalog actions: evidence before destructive
// ones, a two-person gate before irreversible ones, arguments typed, bad requests refused,
// and one workflow id per request.
func TestActionPlan(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		raw     map[string]string
		steps   []string // step ids in plan order
		inputs  map[string]any
		noRoles bool   // no --approve-role
		wantErr string // substring of a usage error
	}{
		{name: "read-only action is one step", action: "awsiam.inventory", raw: map[string]string{"user": "alice"},
			steps: []string{"action"}, inputs: map[string]any{"user": "alice"}},
		{name: "destructive vault action snapshots first", action: "vault.revoke_tokens", raw: map[string]string{"accessors": "acc-1, acc-2"},
			steps: []string{"snapshot", "action"}, inputs: map[string]any{"accessors": []any{"acc-1", "acc-2"}}},
		{name: "destructive iam action records the user first", action: "awsiam.deactivate_keys", raw: map[string]string{"user": "bob", "access_key_ids": "AKFBSANDBOXBOB000001"},
			steps: []string{"inventory", "snapshot", "action"}},
		{name: "list of maps as JSON; rotating cannot be undone", action: "vault.rotate_secrets", raw: map[string]string{"secrets": `[{"mount":"secret","path":"shared/payments-db","version":1}]`},
			steps: []string{"snapshot", playbooks.ActionGateID, "action"}},
		{name: "irreversible iam action is checked, then waits for a second person after the evidence", action: "awsiam.rotate_key", raw: map[string]string{"user": "carol"},
			steps: []string{"inventory", "snapshot", "preflight", playbooks.ActionGateID, "action"}, inputs: map[string]any{"user": "carol"}},
		{name: "deleting keys is gated", action: "awsiam.delete_keys", raw: map[string]string{"user": "bob", "access_key_ids": "AKFBSANDBOXBOB000002"},
			steps: []string{"inventory", "snapshot", playbooks.ActionGateID, "action"}},
		{name: "destroying a TOTP secret is gated", action: "vault.destroy_totp", raw: map[string]string{"entity_id": "e-1", "method_id": "m-1"},
			steps: []string{"snapshot", playbooks.ActionGateID, "action"}},
		{name: "deleting virtual MFA devices is gated", action: "awsiam.deactivate_mfa_devices", raw: map[string]string{"user": "bob", "delete_virtual": "true"},
			steps: []string{"inventory", "snapshot", playbooks.ActionGateID, "action"}},
		{name: "only deactivating MFA devices can be undone", action: "awsiam.deactivate_mfa_devices", raw: map[string]string{"user": "bob", "delete_virtual": "false"},
			steps: []string{"inventory", "snapshot", "action"}},
		{name: "irreversible without an approving role", action: "awsiam.rotate_key", raw: map[string]string{"user": "carol"}, noRoles: true,
			wantErr: "--approve-role"},
		{name: "a reversible action needs no approving role", action: "vault.revoke_tokens", raw: map[string]string{"accessors": "acc-1"}, noRoles: true,
			steps: []string{"snapshot", "action"}},
		{name: "map as JSON", action: "awsiam.tag_user", raw: map[string]string{"user": "bob", "tags": `{"firebreak":"x"}`},
			steps: []string{"inventory", "snapshot", "action"}},
		{name: "unknown action", action: "vault.nuke", wantErr: `unknown action "vault.nuke"`},
		{name: "builtin action", action: "wait", raw: map[string]string{"duration": "1s"}, wantErr: "cannot run on its own"},
		{name: "unknown argument", action: "awsiam.inventory", raw: map[string]string{"usr": "alice"}, wantErr: `no argument "usr"; its arguments are user`},
		{name: "internal argument", action: "slack.post", raw: map[string]string{"channel": "C1", "text": "x", "idempotency_key": "k"}, wantErr: `no argument "idempotency_key"`},
		{name: "missing required", action: "awsiam.inventory", raw: map[string]string{}, wantErr: "input user is required"},
		{name: "missing required JSON argument", action: "vault.rotate_secrets", raw: map[string]string{}, wantErr: "argument secrets is required"},
		{name: "bad JSON", action: "vault.rotate_secrets", raw: map[string]string{"secrets": "shared/db"}, wantErr: "expected list<map> as JSON"},
		{name: "wrong type", action: "awsiam.deactivate_mfa_devices", raw: map[string]string{"user": "bob", "delete_virtual": "maybe"}, wantErr: "expected true or false"},
		{name: "wrong JSON type", action: "vault.rotate_secrets", raw: map[string]string{"secrets": `{"mount":"secret"}`}, wantErr: "secrets"},
		{name: "expressions refused", action: "awsiam.inventory", raw: map[string]string{"user": "${{ inputs.x }}"}, wantErr: "expressions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roles := []string{"security-oncall"}
			if tc.noRoles {
				roles = nil
			}
			plan, inputs, err := playbooks.ActionPlan(tc.action, tc.raw, roles)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v; expected an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range plan.Steps {
				ids = append(ids, s.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.steps, ",") {
				t.Errorf("steps = %v; expected %v", ids, tc.steps)
			}
			st, _ := plan.Step(playbooks.ActionStepID)
			if st.Action != tc.action {
				t.Errorf("action step runs %q; expected %q", st.Action, tc.action)
			}
			gate, gated := plan.ActionGate()
			// An action with a preflight (awsiam.rotate_key) is checked before the gate asks anyone.
			before := "snapshot"
			if act, _ := playbooks.LookupAction(tc.action); act.Preflight != "" {
				before = "snapshot,preflight"
			}
			switch {
			case gated && (!st.Irreversible || strings.Join(st.Needs, ",") != before+","+playbooks.ActionGateID):
				t.Errorf("gated step (irreversible %v) needs %v; expected [%s %s]", st.Irreversible, st.Needs, before, playbooks.ActionGateID)
			case gated && (gate.ID != playbooks.ActionGateID || gate.Approval == nil || strings.Join(gate.Approval.Roles, ",") != "security-oncall" || strings.Join(gate.Needs, ",") != before):
				t.Errorf("gate %s approval %+v needs %v; expected %s for [security-oncall] after %s", gate.ID, gate.Approval, gate.Needs, playbooks.ActionGateID, before)
			case !gated && st.Irreversible:
				t.Errorf("irreversible step %s has no two-person gate", st.ID)
			case !gated && st.Destructive && (len(st.Needs) != 1 || st.Needs[0] != "snapshot"):
				t.Errorf("destructive step needs %v; expected [snapshot]", st.Needs)
			}
			for k, want := range tc.inputs {
				got, _ := json.Marshal(inputs[k])
				w, _ := json.Marshal(want)
				if string(got) != string(w) {
					t.Errorf("input %s = %s; expected %s", k, got, w)
				}
			}
			// The same request maps to the same run; another request to another.
			other := map[string]string{}
			for k, v := range tc.raw {
				other[k] = v + "x"
			}
			p2, in2, err := playbooks.ActionPlan(tc.action, other, roles)
			if err == nil && actionRunID(p2, in2) == actionRunID(plan, inputs) {
				t.Errorf("different arguments share workflow id %s", actionRunID(plan, inputs))
			}
			p3, in3, _ := playbooks.ActionPlan(tc.action, tc.raw, roles)
			if actionRunID(p3, in3) != actionRunID(plan, inputs) {
				t.Error("the same request got two workflow ids")
			}
		})
	}
}

// actionRunID is the workflow id a single-action request runs as (firebreak action run).
func actionRunID(plan *playbooks.Plan, inputs map[string]any) string {
	return runs.WorkflowID(plan, inputs, runs.Request{DigestStep: playbooks.ActionStepID})
}
