package workflows

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/vault"
)

const keysYAML = `
name: keys
title: Keys
severity: low
inputs:
  subject: {type: user, required: true}
steps:
  - id: snap
    action: evidence.snapshot
    with: {subject: "${{ inputs.subject }}", data: {vault: "${{ inputs.subject }}"}}
  - id: verify
    action: vault.verify_revoked
    needs: [snap]
    with: {accessors: ["acc-1"]}
`

// registerVerify registers a vault.VerifyRevoked that passes, for keysYAML's last step.
func registerVerify(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterActivityWithOptions(func(ctx context.Context, in vault.VerifyRevokedInput) (vault.VerifyResult, error) {
		return vault.VerifyResult{Passed: true, Checks: []vault.Check{{Name: "token acc-1 fails lookup", Passed: true}}}, nil
	}, activity.RegisterOptions{Name: "vault.VerifyRevoked"})
}

// TestIdempotencyKeysNameTheRun: a second run with the same workflow id (alice compromised
// again weeks later) hands its steps other idempotency keys than the first, so it snapshots
// and rotates afresh; within a run the key is the same for every attempt.
func TestIdempotencyKeysNameTheRun(t *testing.T) {
	keysOf := func() []string {
		var s testsuite.WorkflowTestSuite
		s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		env := s.NewTestWorkflowEnvironment()
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "firebreak/keys/alice", TaskQueue: TaskQueue})
		var mu sync.Mutex
		var keys []string
		attempts := 0
		env.RegisterActivityWithOptions(func(ctx context.Context, in evidence.SnapshotInput) (evidence.SnapshotResult, error) {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, in.IdempotencyKey)
			if attempts++; attempts == 1 {
				return evidence.SnapshotResult{}, io.ErrUnexpectedEOF // a retry must reuse the key
			}
			return evidence.SnapshotResult{Ref: "evidence:1", Seq: 1}, nil
		}, activity.RegisterOptions{Name: "evidence.Snapshot"})
		registerVerify(env)
		registerTrusted(env)
		env.SetStartTime(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
		env.ExecuteWorkflow(RunWorkflowName, RunInput{Plan: compilePlan(t, keysYAML), Inputs: map[string]any{"subject": "alice"}, Trigger: Trigger{Kind: "cli", By: "bob"}})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	keys := keysOf()
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Fatalf("keys of a step's attempts %q; want one key, repeated by the retry", keys)
	}
	if want := "firebreak/keys/alice/default-test-run-id/snap"; keys[0] != want {
		t.Errorf("idempotency key %q; want %q, naming the run so that another run of the same workflow id acts afresh", keys[0], want)
	}
}
