package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
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
		"FIREBREAK_AWS_PROBE_USER": "", "FIREBREAK_HTTP_SERVICES": sb.HTTPServicesJSON(),
	} {
		t.Setenv(k, v)
	}
	return home
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
		check  func(t *testing.T, rep runs.ActionReport)
	}{
		{
			name: "revoke a token", args: []string{"vault.revoke_tokens", "accessors=acc-bob-laptop"}, code: exitOK, status: workflows.StatusSucceeded,
			check: func(t *testing.T, rep runs.ActionReport) {
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
			check: func(t *testing.T, rep runs.ActionReport) {
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
			var rep runs.ActionReport
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
	// An irreversible action on an embedded server would wait for an approval nobody can
	// give: refused before anything starts.
	stdout.Reset()
	stderr.Reset()
	keys := sb.IAM.AccessKeyIDs("carol")
	code := run([]string{"action", "run", "awsiam.rotate_key", "user=carol", "--evidence-dir", evDir}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "waits for a second person's approval") || !strings.Contains(stderr.String(), "TEMPORAL_ADDRESS") {
		t.Errorf("irreversible action on an embedded server: exit %d, stderr %q; expected exit %d naming TEMPORAL_ADDRESS", code, stderr.String(), exitUsage)
	}
	if got := sb.IAM.AccessKeyIDs("carol"); strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Errorf("carol's keys changed from %v to %v", keys, got)
	}
}

// approveAs sends one decision on the action's gate through the workflow's approve Update, as
// chatops does for /firebreak approve, and returns the workflow's answer.
func approveAs(ctx context.Context, c client.Client, id, who string, roles []string, decision string) (workflows.ApprovalResult, error) {
	req := workflows.ApprovalRequest{Step: playbooks.ActionGateID, Approver: who, ApproverRoles: roles, Decision: decision, Reason: "checked with " + who}
	return (&runs.Client{Temporal: c, Signer: testDecisionSigner}).Decide(ctx, id, req)
}

// testDecisionKey is the front end's decision key in cmd tests; workers started by
// startWorker trust it once trustTestSigner has run.
var (
	testDecisionKey    = ed25519.NewKeyFromSeed([]byte("cmd-test-decision-key-0123456789"))
	testDecisionSigner = workflows.NewSigner(testDecisionKey)
)

// forgeUpdate is the security review's bypass: a plain Temporal client, without the codec
// key, approves the gate as mallory with the security-oncall role. The worker's codec refuses
// the plaintext update (its answer is encrypted, so the forger cannot even read why); had it
// passed, the unsigned decision would be refused too. The gate still waits, unapproved.
func forgeUpdate(ctx context.Context, t *testing.T, hostPort string, fb client.Client, id string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: hostPort, Logger: tlog.NewStructuredLogger(newDiscardLogger())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := workflows.ApprovalRequest{Step: playbooks.ActionGateID, Approver: "mallory", ApproverRoles: []string{"security-oncall"}, Decision: workflows.DecisionApprove}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateApprove, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err == nil {
		t.Errorf("a plaintext update from a client without the codec key was accepted")
	}
	if p := waitForGate(ctx, t, fb, id); p.Approvals != 0 || len(p.Approvers) != 0 {
		t.Errorf("after the forged update the gate has %d approvals by %v; want none", p.Approvals, p.Approvers)
	}
}

// denyByCommand denies the action's gate of run id with `firebreak deny`, as erin: refused
// (exit 2) without the decision key, counted with it, erin's role coming from the directory.
func denyByCommand(t *testing.T, id string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("directory:\n  - {subject: erin, email: erin@example.test, slack_id: U0ERIN}\nroles:\n  security-oncall: {users: [U0ERIN]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	t.Setenv("FIREBREAK_DECISION_KEY", "")
	if code := run([]string{"deny", id, playbooks.ActionGateID, "--as", "erin", "--config", cfg, "--state-dir", t.TempDir()}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "you hold no approver or decision key") {
		t.Errorf("deny without the decision key: exit %d, stderr %q; expected exit %d saying so", code, stderr.String(), exitUsage)
	}
	stdout.Reset()
	stderr.Reset()
	t.Setenv("FIREBREAK_DECISION_KEY", workflows.FormatDecisionKey(testDecisionKey))
	if code := run([]string{"deny", id, playbooks.ActionGateID, "--as", "erin", "--config", cfg, "--reason", "not without the owner"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("deny with the decision key: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "erin denied") {
		t.Errorf("deny output %q; expected the run's answer", stdout.String())
	}
}

// trustTestSigner configures the production workers this test starts to trust
// testDecisionSigner, as decision.public_keys does.
func trustTestSigner(t *testing.T) {
	t.Setenv("FIREBREAK_DECISION_PUBLIC_KEYS", workflows.FormatDecisionPublicKey(testDecisionSigner.Public()))
}

// waitForGate waits until run id asks for the action's two-person gate.
func waitForGate(ctx context.Context, t *testing.T, c client.Client, id string) workflows.PendingApproval {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryPending)
		var open []workflows.PendingApproval
		if err == nil && v.Get(&open) == nil {
			for _, p := range open {
				if p.Step == playbooks.ActionGateID {
					return p
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s never asked for %s: %v", id, playbooks.ActionGateID, err)
		case <-tick.C:
		}
	}
}

// TestActionRunWaitsForASecondPerson runs irreversible actions on a shared server (as
// firebreak serve would reach it) with a production worker against the sandbox: the command
// prints how to approve, the action waits after its evidence, the requester and people
// without the approving role are refused, and a second person's approval runs it; a denial
// leaves it undone.
func TestActionRunWaitsForASecondPerson(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	home := sandboxEnv(t, sb)
	evDir := filepath.Join(home, "evidence")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{Logger: newDiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString([]byte("action-gate-test-key-0123456789a")))
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	trustTestSigner(t)
	w, conn, err := startWorker(ctx, settingsFrom(ctx), newDiscardLogger(), evDir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer w.Stop()

	tests := []struct {
		name     string
		args     map[string]string
		decision string
		code     int
		check    func(t *testing.T, rep runs.ActionReport, before []string)
	}{
		{name: "approved by a second person", args: map[string]string{"user": "carol"}, decision: workflows.DecisionApprove, code: exitOK,
			check: func(t *testing.T, rep runs.ActionReport, before []string) {
				if rep.Status != workflows.StatusSucceeded || rep.Outputs["old_access_key_id"] != before[0] {
					t.Errorf("status %s outputs %v; expected %s rotated", rep.Status, rep.Outputs, before[0])
				}
				if now := sb.IAM.AccessKeyIDs("carol"); len(now) != 1 || now[0] == before[0] {
					t.Errorf("carol's keys %v after rotating %v", now, before)
				}
			}},
		{name: "denied", args: map[string]string{"user": "carol"}, decision: workflows.DecisionDeny, code: exitFailed,
			check: func(t *testing.T, rep runs.ActionReport, before []string) {
				if rep.Status != workflows.StatusFailed || !strings.Contains(rep.Error, "erin denied the second-person approval") {
					t.Errorf("status %s error %q; expected failed, saying erin denied it", rep.Status, rep.Error)
				}
				if now := sb.IAM.AccessKeyIDs("carol"); strings.Join(now, ",") != strings.Join(before, ",") {
					t.Errorf("carol's keys changed from %v to %v although the rotation was denied", before, now)
				}
			}},
	}
	// The same action with the same arguments again (the same workflow id): it is a new run,
	// so it rotates the key the first run left active rather than reporting that rotation.
	tests = append(tests, tests[0])
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := sb.IAM.AccessKeyIDs("carol")
			plan, inputs, err := playbooks.ActionPlan("awsiam.rotate_key", tc.args, []string{"security-oncall"})
			if err != nil {
				t.Fatal(err)
			}
			id := runs.WorkflowID(plan, inputs, runs.Request{DigestStep: playbooks.ActionStepID})
			args := []string{"action", "run", "awsiam.rotate_key", "--json", "--evidence-dir", evDir, "--requested-by", "dave", "--approve-role", "security-oncall", "--reason", tc.name}
			for k, v := range tc.args {
				args = append(args, k+"="+v)
			}
			var stdout, stderr bytes.Buffer
			done := make(chan int, 1)
			go func() { done <- run(args, &stdout, &stderr) }()

			p := waitForGate(ctx, t, conn.Client, id)
			if strings.Join(p.Roles, ",") != "security-oncall" || strings.Join(p.Guards, ",") != playbooks.ActionStepID {
				t.Errorf("pending gate %+v; expected security-oncall guarding %s", p, playbooks.ActionStepID)
			}
			st, err := queryStatus(ctx, conn.Client, id, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st.Steps {
				if want := map[string]string{"snapshot": workflows.StatusSucceeded, playbooks.ActionStepID: workflows.StatusPending}[s.ID]; want != "" && s.Status != want {
					t.Errorf("while waiting, step %s is %s; expected %s (evidence first, the action held)", s.ID, s.Status, want)
				}
			}
			for _, r := range []struct {
				who   string
				roles []string
				want  string
			}{
				{"dave", []string{"security-oncall"}, "nobody approves their own request"},
				{"frank", []string{"responder"}, "needs one of [security-oncall]"},
			} {
				if _, err := approveAs(ctx, conn.Client, id, r.who, r.roles, workflows.DecisionApprove); err == nil || !strings.Contains(err.Error(), r.want) {
					t.Errorf("%s approving: %v; expected a refusal saying %q", r.who, err, r.want)
				}
			}
			if tc.decision == workflows.DecisionDeny {
				forgeUpdate(ctx, t, srv.FrontendHostPort(), conn.Client, id)
				denyByCommand(t, id)
			} else {
				// dave is only claimed as the requester (the command line holds no decision key
				// to sign the trigger), so the gate needs one more approver than the action's
				// one: dave himself could be erin.
				if p.Needed != 2 || !p.ClaimedRequester {
					t.Errorf("gate of a run with a claimed requester: needed %d, claimed %v; expected 2, true", p.Needed, p.ClaimedRequester)
				}
				for _, who := range []string{"erin", "gina"} {
					if _, err := approveAs(ctx, conn.Client, id, who, []string{"security-oncall"}, tc.decision); err != nil {
						t.Fatalf("%s's %s: %v", who, tc.decision, err)
					}
				}
			}
			var code int
			select {
			case code = <-done:
			case <-ctx.Done():
				t.Fatal("the command did not return after the decision")
			}
			if code != tc.code {
				t.Fatalf("exit %d; expected %d\n%s\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			if want := "/firebreak approve " + id + " step=" + playbooks.ActionGateID; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "other than you (dave)") {
				t.Errorf("stderr %q; expected it to say how to approve: %q, and not by dave", stderr.String(), want)
			}
			var rep runs.ActionReport
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			// Approved: erin's and gina's (dave's claim costs one more); denied: erin's alone.
			deciders := map[string]string{workflows.DecisionApprove: "erin,gina", workflows.DecisionDeny: "erin"}[tc.decision]
			var got []string
			for _, d := range rep.Decisions {
				if d.Decision == tc.decision {
					got = append(got, d.Approver)
				}
			}
			if strings.Join(got, ",") != deciders || len(rep.Decisions) != len(got) {
				t.Errorf("decisions %+v; expected %s's %s only", rep.Decisions, deciders, tc.decision)
			}
			if testenv.ContainsCanary(stdout.String() + stderr.String()) {
				t.Error("output holds a secret")
			}
			tc.check(t, rep, before)
		})
	}

	// alice has two Active keys: AWS's limit leaves no room for a new one. The preflight says
	// so before the gate asks anyone, and nothing changes.
	t.Run("two active keys fail before anyone is asked", func(t *testing.T) {
		before := sb.IAM.AccessKeyIDs("alice")
		var stdout, stderr bytes.Buffer
		code := run([]string{"action", "run", "awsiam.rotate_key", "user=alice", "--json", "--evidence-dir", evDir, "--requested-by", "dave", "--approve-role", "security-oncall"}, &stdout, &stderr)
		var rep runs.ActionReport
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d, %v: %s\n%s", code, err, stdout.String(), stderr.String())
		}
		if code != exitFailed || !strings.Contains(rep.Error+stderr.String(), "two Active access keys") || len(rep.Decisions) != 0 {
			t.Errorf("exit %d, error %q, decisions %+v; expected exit %d naming the two Active keys, with nobody asked", code, rep.Error, rep.Decisions, exitFailed)
		}
		for _, st := range rep.Steps {
			want := map[string]string{"preflight": workflows.StatusFailed, playbooks.ActionGateID: workflows.StatusSkipped, playbooks.ActionStepID: workflows.StatusSkipped}[st.ID]
			if want != "" && st.Status != want {
				t.Errorf("step %s is %s; expected %s (the preflight fails, so the gate never asks anyone)", st.ID, st.Status, want)
			}
		}
		if now := sb.IAM.AccessKeyIDs("alice"); strings.Join(now, ",") != strings.Join(before, ",") {
			t.Errorf("alice's keys changed from %v to %v", before, now)
		}
	})
}

// TestActionRunRefusesCallerChosenApprovers: the requester of an irreversible action does not
// pick who approves it; --approve-role must be the workers' configured roles.
func TestActionRunRefusesCallerChosenApprovers(t *testing.T) {
	t.Setenv("FIREBREAK_APPROVE_ROLE", "")
	var stdout, stderr bytes.Buffer
	code := run([]string{"action", "run", "awsiam.rotate_key", "user=carol", "--requested-by", "dave", "--approve-role", "my-friends"}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "my-friends") || !strings.Contains(stderr.String(), playbooks.DefaultApproveRole) {
		t.Errorf("--approve-role my-friends: exit %d, stderr %q; expected exit %d naming the configured role %s", code, stderr.String(), exitUsage, playbooks.DefaultApproveRole)
	}
}
