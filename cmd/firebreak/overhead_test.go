package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// handWritten is compromised-dev-key written directly as a Temporal workflow, with the same
// activities in the same shape (two inventories, the snapshot, five containment steps in
// parallel, two verifications), for measuring what the interpreter costs.
func handWritten(ctx workflow.Context, subject string) (int64, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	start := workflow.Now(ctx)
	var vi vault.InventoryResult
	var ii awsiam.InventoryResult
	fv := workflow.ExecuteActivity(ctx, "vault.Inventory", vault.InventoryInput{Subject: subject})
	fi := workflow.ExecuteActivity(ctx, "awsiam.Inventory", awsiam.InventoryInput{User: subject})
	if err := fv.Get(ctx, &vi); err != nil {
		return 0, err
	}
	if err := fi.Get(ctx, &ii); err != nil {
		return 0, err
	}
	key := workflow.GetInfo(ctx).WorkflowExecution.ID
	if err := workflow.ExecuteActivity(ctx, "evidence.Snapshot", evidence.SnapshotInput{Subject: subject, Kind: "pre-containment", IdempotencyKey: key + "/snapshot",
		Data: map[string]any{"vault": vi, "iam": ii}}).Get(ctx, nil); err != nil {
		return 0, err
	}
	contain := []workflow.Future{
		workflow.ExecuteActivity(ctx, "vault.RevokeTokens", vault.RevokeTokensInput{Accessors: vi.Accessors}),
		workflow.ExecuteActivity(ctx, "vault.DisableEntity", vault.EntityInput{EntityID: vi.EntityID}),
		workflow.ExecuteActivity(ctx, "awsiam.DeactivateKeys", awsiam.DeactivateKeysInput{User: subject, AccessKeyIDs: ii.AccessKeyIDs}),
		workflow.ExecuteActivity(ctx, "awsiam.RevokeSessions", awsiam.RevokeSessionsInput{User: subject}),
		workflow.ExecuteActivity(ctx, "vault.RotateSecrets", vault.RotateSecretsInput{Secrets: vi.ReadableSecrets, IdempotencyKey: key + "/rotate"}),
	}
	for _, f := range contain {
		if err := f.Get(ctx, nil); err != nil {
			return 0, err
		}
	}
	ttc := workflow.Now(ctx).Sub(start).Milliseconds()
	var vv vault.VerifyResult
	var iv awsiam.VerifyResult
	f1 := workflow.ExecuteActivity(ctx, "vault.VerifyRevoked", vault.VerifyRevokedInput{Accessors: vi.Accessors, EntityID: vi.EntityID})
	f2 := workflow.ExecuteActivity(ctx, "awsiam.VerifyContained", awsiam.VerifyContainedInput{User: subject, AccessKeyIDs: ii.AccessKeyIDs, PolicyName: awsiam.DefaultRevokePolicyName})
	if err := f1.Get(ctx, &vv); err != nil {
		return 0, err
	}
	if err := f2.Get(ctx, &iv); err != nil {
		return 0, err
	}
	if !vv.Passed || !iv.Passed {
		return 0, fmt.Errorf("verification failed")
	}
	return ttc, nil
}

// BenchmarkInterpreterOverhead runs compromised-dev-key alternately through the interpreter
// and as the hand-written workflow above, on one embedded server, worker and sandbox, with
// reporting off in both, and reports the ratio of median wall time and of history length:
//
//	go test ./cmd/firebreak -run '^$' -bench InterpreterOverhead -benchtime 30x
func BenchmarkInterpreterOverhead(b *testing.B) {
	b.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	conn, err := dialTemporal(ctx, settingsFrom(ctx), newDiscardLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	store, err := evidence.OpenFileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	w := worker.New(conn.Client, workflows.DrillTaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterWorkflow(handWritten)
	if err := sb.Register(w, store); err != nil {
		b.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	lib, _ := playbooks.LoadLibrary("")
	p, _ := lib.Get("compromised-dev-key")
	inputs, _ := p.BindInputs(map[string]string{"subject": "alice"})

	events := func(id, runID string) int {
		n := 0
		it := conn.Client.GetWorkflowHistory(ctx, id, runID, false, 0)
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		return n
	}
	var interp, hand []float64
	var interpEvents, handEvents int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opts := client.StartWorkflowOptions{ID: fmt.Sprintf("bench/interp/%d", i), TaskQueue: workflows.DrillTaskQueue}
		t0 := time.Now()
		run, err := conn.Client.ExecuteWorkflow(ctx, opts, workflows.Run, workflows.RunInput{Plan: *p, Inputs: inputs, Drill: true, AutoApprove: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
		interp = append(interp, float64(time.Since(t0).Microseconds())/1000)
		interpEvents = events(run.GetID(), run.GetRunID())

		opts.ID = fmt.Sprintf("bench/hand/%d", i)
		t0 = time.Now()
		run, err = conn.Client.ExecuteWorkflow(ctx, opts, handWritten, "alice")
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
		hand = append(hand, float64(time.Since(t0).Microseconds())/1000)
		handEvents = events(run.GetID(), run.GetRunID())
	}
	b.StopTimer()
	b.ReportMetric(percentile(interp, 50), "interp-p50-ms")
	b.ReportMetric(percentile(hand, 50), "hand-p50-ms")
	b.ReportMetric(percentile(interp, 50)/percentile(hand, 50), "time-ratio")
	b.ReportMetric(float64(interpEvents)/float64(handEvents), "events-ratio")
}
