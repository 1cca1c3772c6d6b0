package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// sandboxEnv points every SDK's own environment at the sandbox, as an operator would point it
// at real services, and returns a scratch state directory.
func sandboxEnv(t *testing.T, sb *testenv.Sandbox) string {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"TEMPORAL_ADDRESS": "", "FIREBREAK_STATE_DIR": home, "FIREBREAK_CODEC_KEY": "",
		"VAULT_ADDR": sb.Vault.URL(), "VAULT_TOKEN": sb.Vault.RootToken(), "VAULT_NAMESPACE": "",
		"VAULT_ROLE_ID": "", "VAULT_SECRET_ID": "", "VAULT_K8S_ROLE": "", "VAULT_MAX_RETRIES": "0",
		"AWS_ENDPOINT_URL_IAM": sb.IAM.URL(), "AWS_ACCESS_KEY_ID": sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY": sb.IAM.SecretAccessKey(),
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
		"SLACK_BOT_TOKEN": sb.Slack.BotToken(), "SLACK_API_URL": sb.Slack.URL() + "/api/",
		"PAGERDUTY_TOKEN": sb.PagerDuty.Token(), "PAGERDUTY_API_URL": sb.PagerDuty.URL(), "PAGERDUTY_FROM": testenv.PagerDutyBotEmail,
		"FIREBREAK_AWS_PROBE_USER": "",
	} {
		t.Setenv(k, v)
	}
	return home
}

func TestActionPlan(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		raw     map[string]string
		steps   []string // step ids in plan order
		inputs  map[string]any
		wantErr string // substring of a usage error
	}{
		{name: "read-only action is one step", action: "awsiam.inventory", raw: map[string]string{"user": "alice"},
			steps: []string{"action"}, inputs: map[string]any{"user": "alice"}},
		{name: "destructive vault action snapshots first", action: "vault.revoke_tokens", raw: map[string]string{"accessors": "acc-1, acc-2"},
			steps: []string{"snapshot", "action"}, inputs: map[string]any{"accessors": []any{"acc-1", "acc-2"}}},
		{name: "destructive iam action records the user first", action: "awsiam.deactivate_keys", raw: map[string]string{"user": "bob", "access_key_ids": "AKFBSANDBOXBOB000001"},
			steps: []string{"inventory", "snapshot", "action"}},
		{name: "list of maps as JSON", action: "vault.rotate_secrets", raw: map[string]string{"secrets": `[{"mount":"secret","path":"shared/payments-db","version":1}]`},
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
			plan, inputs, err := actionPlan(tc.action, tc.raw)
			if tc.wantErr != "" {
				var ue usageError
				if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v; expected a usage error containing %q", err, tc.wantErr)
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
			st, _ := plan.Step(actionStep)
			if st.Action != tc.action {
				t.Errorf("action step runs %q; expected %q", st.Action, tc.action)
			}
			if st.Destructive && (len(st.Needs) != 1 || st.Needs[0] != "snapshot") {
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
			p2, in2, err := actionPlan(tc.action, other)
			if err == nil && actionWorkflowID(p2, in2) == actionWorkflowID(plan, inputs) {
				t.Errorf("different arguments share workflow id %s", actionWorkflowID(plan, inputs))
			}
			p3, in3, _ := actionPlan(tc.action, tc.raw)
			if actionWorkflowID(p3, in3) != actionWorkflowID(plan, inputs) {
				t.Error("the same request got two workflow ids")
			}
		})
	}
}

// TestActionRun runs single actions end to end on an embedded server against the sandbox
// through the vendors' own environment: a destructive action that succeeds (with its evidence
// recorded first), and one that fails permanently.
func TestActionRun(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	home := sandboxEnv(t, sb)
	evDir := filepath.Join(home, "evidence")

	tests := []struct {
		name   string
		args   []string
		code   int
		status string
		check  func(t *testing.T, rep ActionReport)
	}{
		{
			name: "revoke a token", args: []string{"vault.revoke_tokens", "accessors=acc-bob-laptop"}, code: exitOK, status: workflows.StatusSucceeded,
			check: func(t *testing.T, rep ActionReport) {
				if sb.Vault.TokenValid("acc-bob-laptop") {
					t.Error("bob's token is still valid")
				}
				if len(rep.Steps) != 2 || rep.Steps[0].ID != "snapshot" || rep.Steps[0].Status != workflows.StatusSucceeded {
					t.Errorf("evidence did not come first: %+v", rep.Steps)
				}
				recs, err := evidence.ReadFile(filepath.Join(evDir, "evidence.jsonl"))
				if err != nil {
					t.Fatalf("no evidence written: %v", err)
				}
				if len(recs) != 1 || !strings.Contains(string(recs[0].Data), "acc-bob-laptop") {
					t.Errorf("evidence = %+v; expected one record of the request", recs)
				}
			},
		},
		{
			name: "unknown entity fails", args: []string{"vault.disable_entity", "entity_id=no-such-entity"}, code: exitFailed, status: workflows.StatusFailed,
			check: func(t *testing.T, rep ActionReport) {
				if rep.Error == "" {
					t.Error("no error reported")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"action", "run"}, tc.args...)
			args = append(args, "--json", "--evidence-dir", evDir, "--reason", "test")
			code := run(args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d; expected %d\n%s\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			var rep ActionReport
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			if rep.Status != tc.status || !strings.HasPrefix(rep.WorkflowID, "firebreak/action-") {
				t.Fatalf("status %s id %s; expected %s", rep.Status, rep.WorkflowID, tc.status)
			}
			if testenv.ContainsCanary(stdout.String() + stderr.String()) {
				t.Error("output holds a secret")
			}
			tc.check(t, rep)
		})
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"action", "run", "vault.nuke"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("unknown action: exit %d; expected %d", code, exitUsage)
	}
}
