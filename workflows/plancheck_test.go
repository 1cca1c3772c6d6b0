package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestWorkerRunsOnlyPlansItCompiled: a worker configured with its library runs the plan it
// compiles itself and refuses, before any step, the same plan edited by hand (here: opted
// out of the two-person rule, as in the security review) or a plan it has no playbook for.
func TestWorkerRunsOnlyPlansItCompiled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte(keysYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	lib, err := playbooks.LoadLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	own, err := lib.Get("keys")
	if err != nil {
		t.Fatal(err)
	}
	run := func(plan playbooks.Plan) (RunResult, error, int) {
		var s testsuite.WorkflowTestSuite
		s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		env := s.NewTestWorkflowEnvironment()
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "firebreak/keys/alice", TaskQueue: TaskQueue})
		calls := 0
		env.RegisterActivityWithOptions(func(ctx context.Context, in evidence.SnapshotInput) (evidence.SnapshotResult, error) {
			calls++
			return evidence.SnapshotResult{Ref: "evidence:1", Seq: 1}, nil
		}, activity.RegisterOptions{Name: "evidence.Snapshot"})
		registerVerify(env)
		Register(env, WithLibrary(lib))
		env.ExecuteWorkflow(RunWorkflowName, RunInput{Plan: plan, Inputs: map[string]any{"subject": "alice"}, Trigger: Trigger{Kind: "cli", By: "bob"}})
		var res RunResult
		err := env.GetWorkflowError()
		if err == nil {
			_ = env.GetWorkflowResult(&res)
		}
		return res, err, calls
	}
	res, err, calls := run(*own)
	if err != nil || calls != 1 {
		t.Fatalf("the worker's own plan: %v (%d snapshots)", err, calls)
	}
	if res.PlanSHA256 != playbooks.PlanSHA256(*own) || res.PlanCheck == "" {
		t.Errorf("plan digest %q check %q; want the plan's digest and what was checked", res.PlanSHA256, res.PlanCheck)
	}
	forged := *own
	forged.TwoPersonOptOut = true
	unknown := *own
	unknown.Name = "not-in-the-library"
	for name, p := range map[string]playbooks.Plan{"edited": forged, "unknown": unknown} {
		_, err, calls := run(p)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != ErrPlanNotCompiled || calls != 0 {
			t.Errorf("%s plan: %v after %d snapshots; want %s before any step", name, err, calls, ErrPlanNotCompiled)
		}
	}
}

// TestIrreversibleCompensationRefused: a hand-made plan whose undo cannot itself be undone
// (the compiler refuses one) does not run it on the abort; the refusal is recorded.
func TestIrreversibleCompensationRefused(t *testing.T) {
	plan := compilePlan(t, compensateYAML)
	for i := range plan.Steps {
		if plan.Steps[i].Compensate != nil {
			plan.Steps[i].Compensate.Action = "vault.rotate_secrets" // irreversible
		}
	}
	if !playbooks.Irreversible("vault.rotate_secrets", nil) {
		t.Fatal("vault.rotate_secrets is expected to be irreversible")
	}
	fe := newFeatureEnv(t, &fakes{verifyBad: true}, TaskQueue)
	fe.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "firebreak/undo/alice", TaskQueue: TaskQueue})
	res, _ := fe.run(t, RunInput{Plan: plan, Trigger: Trigger{Kind: "cli", By: "bob"}})
	if fe.f.count("vault.RotateSecrets") != 0 {
		t.Fatalf("the irreversible compensation ran: %v", fe.f.calls)
	}
	if len(res.Compensations) != 1 || res.Compensations[0].Status != StatusFailed || res.Compensations[0].Error == "" {
		t.Fatalf("compensations %+v; want the undo refused and recorded", res.Compensations)
	}
}
