package oidc_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

const portalPlaybook = `name: revoke-portal-token
title: Revoke a developer portal token
description: Revoke the developer's portal token at the IdP and verify it is inactive.
severity: high
version: "1"
owners: [security-oncall]
inputs:
  subject:
    type: string
    required: true
    description: the developer
roles:
  start: [security-oncall]
steps:
  - id: snapshot
    action: evidence.snapshot
    with:
      subject: ${{ inputs.subject }}
      kind: pre-containment
      data:
        token_ref: ${{ "secret/portal/" + inputs.subject + "#token" }}
  - id: revoke
    action: oidc.revoke_token
    needs: [snapshot]
    with:
      subject: ${{ inputs.subject }}
      path: ${{ "portal/" + inputs.subject }}
  - id: verify
    action: oidc.verify_revoked
    needs: [revoke]
    with:
      subject: ${{ inputs.subject }}
      path: ${{ "portal/" + inputs.subject }}
expect:
  - name: the portal token is revoked
    that: ${{ steps.revoke.outputs.revoked && steps.verify.outputs.passed }}
`

// TestPlaybookAgainstSandbox runs a compiled playbook through the interpreter with the
// activities exactly as the sandbox registers them: the catalog entry, the binding, the Vault
// reference and the IdP, end to end.
func TestPlaybookAgainstSandbox(t *testing.T) {
	plan, err := playbooks.Compile("revoke-portal-token.yaml", []byte(portalPlaybook))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	store, err := evidence.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "drill/revoke-portal-token/alice/test", TaskQueue: workflows.DrillTaskQueue, WorkflowExecutionTimeout: time.Hour})
	if err := sb.Register(env, store); err != nil {
		t.Fatal(err)
	}
	env.RegisterWorkflow(workflows.Run)
	env.ExecuteWorkflow(workflows.Run, workflows.RunInput{Plan: *plan, Inputs: map[string]any{"subject": "alice"}, Drill: true})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("run failed: %v", err)
	}
	var res workflows.RunResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.OutcomeContained {
		t.Fatalf("outcome %q; expected %q (result %+v)", res.Outcome, workflows.OutcomeContained, res)
	}
	if sb.OIDC.Active(testenv.PortalToken("alice")) {
		t.Errorf("alice's portal token is still active at the IdP")
	}
	if !sb.OIDC.Active(testenv.PortalToken("bob")) {
		t.Errorf("bob's portal token was revoked; expected only alice's")
	}
	b, _ := json.Marshal(res)
	if testenv.ContainsCanary(string(b)) {
		t.Errorf("run result contains the canary: %s", b)
	}
	if len(res.Verifications) == 0 || len(res.Expectations) != 1 || !res.Expectations[0].Passed {
		t.Errorf("verifications %+v, expectations %+v; expected the oidc check and a passed expectation", res.Verifications, res.Expectations)
	}
}
