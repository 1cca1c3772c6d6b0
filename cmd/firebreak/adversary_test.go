package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestPlainTemporalClientAdversary is the trust boundary tried from the attacker's side:
// someone who holds the namespace credential and the codec key (a worker's), but no decision
// key, drives a production worker straight through the Temporal SDK.
//   - A run of compromised-dev-key started with a path for the subject is refused by the
//     workflow itself, before any step.
//   - A run claiming requester "bob", which carol then approves with a genuine signed decision
//     (the front end signs it for her, as Slack would), is not granted by her alone: the
//     requester is only claimed, so the gate needs a second approver.
//   - The trigger's signature from a run the front end started, copied onto another run of
//     the same playbook and inputs, does not make that run's requester signed.
func TestPlainTemporalClientAdversary(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	home := sandboxEnv(t, sb)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{Logger: newDiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString([]byte("adversary-test-codec-key-0123456")))
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	trustTestSigner(t)
	// carol decides from the command line with her own approver key.
	carolKey := workflows.NewSigner(ed25519.NewKeyFromSeed([]byte("adversary test: carol's own key!")))
	t.Setenv("FIREBREAK_DECISION_APPROVERS", "carol="+workflows.FormatDecisionPublicKey(carolKey.Public())+":security-oncall")
	w, conn, err := startWorker(ctx, settingsFrom(ctx), newDiscardLogger(), filepath.Join(home, "evidence"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer w.Stop()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lib.Get("compromised-dev-key")
	if err != nil {
		t.Fatal(err)
	}
	start := func(id string, in workflows.RunInput) client.WorkflowRun {
		t.Helper()
		run, err := conn.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.Run, in)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Client.TerminateWorkflow(context.Background(), id, "", "test over") })
		return run
	}
	trigger := workflows.Trigger{Kind: "cli", By: "bob", ByAuth: "slack", At: time.Now().UTC()}

	// A path where the playbook declares a subject pattern.
	bad := start("adversary/path", workflows.RunInput{Plan: *plan, Inputs: map[string]any{"subject": "../../x", "reason": "x"}, Trigger: trigger})
	if err := bad.Get(ctx, nil); err == nil || !strings.Contains(err.Error(), "does not match the pattern") {
		t.Errorf("raw start with subject ../../x: %v; want it refused by the workflow", err)
	}

	// A claimed requester: carol's signed approval alone does not grant the gate.
	claimed := start("adversary/claimed", workflows.RunInput{Plan: *plan, Inputs: map[string]any{"subject": "alice", "reason": "x"}, Trigger: trigger})
	gate := waitForPending(ctx, t, conn.Client, claimed.GetID(), "two_person_rotate_shared_secrets")
	if gate.Needed != 2 || !gate.ClaimedRequester {
		t.Errorf("gate of a run started with a claimed requester: %+v; want 2 needed, claimed", gate)
	}
	front := &runs.Client{Temporal: conn.Client, Signer: testDecisionSigner}
	res, err := front.Decide(ctx, claimed.GetID(), workflows.ApprovalRequest{Step: gate.Step, Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: workflows.DecisionApprove, Reason: "me, as bob's approver"})
	if err != nil || res.Granted {
		t.Errorf("carol's approval of bob's claimed run: %+v, %v; want it counted but not granting", res, err)
	}
	// carol's own approver key cannot make her dave, the second approver.
	asDave := &runs.Client{Temporal: conn.Client, Signer: carolKey}
	if _, err := asDave.Decide(ctx, claimed.GetID(), workflows.ApprovalRequest{Step: gate.Step, Approver: "dave", ApproverRoles: []string{"security-oncall"}, Decision: workflows.DecisionApprove}); err == nil || !strings.Contains(err.Error(), "names dave") {
		t.Errorf("dave's approval signed with carol's approver key: %v; want it refused", err)
	}

	// A signed trigger copied from a run the front end started onto another run (the same
	// playbook and inputs, another workflow id).
	_ = conn.Client.TerminateWorkflow(ctx, claimed.GetID(), "", "next case")
	inputs := map[string]any{"subject": "carol", "reason": "x"}
	signed := testDecisionSigner.SignTrigger(workflows.RunInput{Plan: *plan, Inputs: inputs, Trigger: trigger}, "adversary/genuine", time.Now())
	copied := start("adversary/copied", workflows.RunInput{Plan: *plan, Inputs: inputs, Trigger: signed.Trigger})
	st, err := queryStatus(ctx, conn.Client, copied.GetID(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if st.Trigger.ByAuth != workflows.ByAuthClaimed || !strings.Contains(st.TriggerCheck, "does not verify") {
		t.Errorf("run with a copied trigger signature: by_auth %q, check %q; want it claimed", st.Trigger.ByAuth, st.TriggerCheck)
	}
}

// waitForPending waits until run id asks for the decision on step, and returns it.
func waitForPending(ctx context.Context, t *testing.T, c client.Client, id, step string) workflows.PendingApproval {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryPending); err == nil {
			var open []workflows.PendingApproval
			if v.Get(&open) == nil {
				for _, p := range open {
					if p.Step == step {
						return p
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s never asked for %s", id, step)
		case <-tick.C:
		}
	}
}

// TestApproverPublicKey: firebreak approve --public-key prints the public half of
// FIREBREAK_APPROVER_KEY, which an operator lists in the workers' decision.approvers.
func TestApproverPublicKey(t *testing.T) {
	seed := []byte("approver public key test seed 01")
	t.Setenv("FIREBREAK_APPROVER_KEY", base64.StdEncoding.EncodeToString(seed))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"approve", "--public-key"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := workflows.FormatDecisionPublicKey(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	if strings.TrimSpace(stdout.String()) != want {
		t.Errorf("printed %q; want %q", stdout.String(), want)
	}
}
