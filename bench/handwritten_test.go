package bench

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/workflows"
)

// massHandWrittenName is the registered name of massHandWritten.
const massHandWrittenName = "MassDeprovisionHandWritten"

// massHandWrittenInput is massHandWritten's input.
type massHandWrittenInput struct {
	Users       []string `json:"users"`
	Reason      string   `json:"reason"`
	Concurrency int      `json:"concurrency"`
	// BatchSize, when positive and shorter than Users, makes the workflow run itself as child
	// workflows over batches of that many users, one after another, as the interpreter splits
	// a list too long for one history (workflows.SplitBatches).
	BatchSize int `json:"batch_size,omitempty"`
}

// massHandWrittenResult is what massHandWritten did.
type massHandWrittenResult struct {
	People  int `json:"people"`
	Rotated int `json:"rotated"`
}

// massHandWritten is playbooks/library/mass-deprovision.yaml written by hand as a Temporal
// workflow: the same activities with the same inputs, retry policies, timeouts and
// per-step concurrency, in the same dependency order (the approval, granted at once in the
// drill, has no counterpart). It is what the interpreter is measured against.
func massHandWritten(ctx workflow.Context, in massHandWrittenInput) (massHandWrittenResult, error) {
	if in.BatchSize > 0 && len(in.Users) > in.BatchSize {
		var out massHandWrittenResult
		id := workflow.GetInfo(ctx).WorkflowExecution.ID
		for i, first := 0, 0; first < len(in.Users); i, first = i+1, first+in.BatchSize {
			batch := in
			batch.Users = in.Users[first:min(first+in.BatchSize, len(in.Users))]
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: workflows.BatchWorkflowID(id, i)})
			var r massHandWrittenResult
			if err := workflow.ExecuteChildWorkflow(cctx, massHandWrittenName, batch).Get(ctx, &r); err != nil {
				return out, err
			}
			out.People += r.People
			out.Rotated += r.Rotated
		}
		return out, nil
	}
	retry := &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second, MaximumAttempts: 30,
		NonRetryableErrorTypes: []string{"UnknownSubject", "AccessDenied", "InvalidInput"}}
	opts := func(timeout time.Duration) workflow.Context {
		return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: retry})
	}
	readRetry := &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second, MaximumAttempts: 5,
		NonRetryableErrorTypes: []string{"UnknownSubject", "AccessDenied", "InvalidInput"}}
	key := workflow.GetInfo(ctx).WorkflowExecution.ID
	n := len(in.Users)

	var vi vault.InventoryManyResult
	fvi := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, RetryPolicy: readRetry}),
		vault.ActivityPrefix+"InventoryMany", vault.InventoryManyInput{Subjects: in.Users})
	iamInv := make([]awsiam.InventoryResult, n)
	var iamErr error
	iamDone := workflow.NewWaitGroup(ctx)
	iamDone.Add(1)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer iamDone.Done()
		iamErr = forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			return workflow.ExecuteActivity(opts(30*time.Second), awsiam.ActivityPrefix+"Inventory", awsiam.InventoryInput{User: in.Users[i]}).Get(ctx, &iamInv[i])
		})
	})
	if err := fvi.Get(ctx, &vi); err != nil {
		return massHandWrittenResult{}, err
	}
	iamDone.Wait(ctx)
	if iamErr != nil {
		return massHandWrittenResult{}, iamErr
	}
	// One evidence record per person, as the playbook stores them.
	if err := forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
		return workflow.ExecuteActivity(opts(30*time.Second), evidence.ActivityPrefix+"Snapshot", evidence.SnapshotInput{
			Subject: in.Users[i], Kind: "pre-mass-deprovision", IdempotencyKey: fmt.Sprintf("%s/snapshot/%d", key, i),
			Data: map[string]any{"reason": in.Reason, "people": n, "vault": vi.Items[i], "iam": iamInv[i]},
		}).Get(ctx, nil)
	}); err != nil {
		return massHandWrittenResult{}, err
	}

	// Containment: five steps at once, each bounded; the verifications follow their steps.
	// How each readable secret is rotated is written next to it (plan_rotation in the playbook).
	var plan vault.PlanRotationResult
	if err := workflow.ExecuteActivity(opts(30*time.Second), vault.ActivityPrefix+"PlanRotation", vault.PlanRotationInput{Secrets: vi.ReadableSecrets}).Get(ctx, &plan); err != nil {
		return massHandWrittenResult{}, err
	}
	rotatable := make([]vault.SecretRef, len(plan.Rotatable))
	for i, p := range plan.Rotatable {
		rotatable[i] = vault.SecretRef{Mount: p.Mount, Path: p.Path, Version: p.Version}
	}
	var rotated vault.RotateSecretsResult
	errs := make([]error, 7)
	wg := workflow.NewWaitGroup(ctx)
	step := func(slot int, fn func(ctx workflow.Context) error) {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			errs[slot] = fn(ctx)
		})
	}
	vaultSteps := workflow.NewWaitGroup(ctx)
	iamSteps := workflow.NewWaitGroup(ctx)
	vaultSteps.Add(2)
	iamSteps.Add(2)
	step(0, func(ctx workflow.Context) error {
		defer vaultSteps.Done()
		return forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			return workflow.ExecuteActivity(opts(30*time.Second), vault.ActivityPrefix+"RevokeTokens", vault.RevokeTokensInput{Accessors: vi.Items[i].Accessors}).Get(ctx, nil)
		})
	})
	step(1, func(ctx workflow.Context) error {
		defer vaultSteps.Done()
		return forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			return workflow.ExecuteActivity(opts(30*time.Second), vault.ActivityPrefix+"DisableEntity", vault.EntityInput{EntityID: vi.Items[i].EntityID}).Get(ctx, nil)
		})
	})
	step(2, func(ctx workflow.Context) error {
		defer iamSteps.Done()
		return forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			return workflow.ExecuteActivity(opts(30*time.Second), awsiam.ActivityPrefix+"DeactivateKeys", awsiam.DeactivateKeysInput{User: iamInv[i].UserName, AccessKeyIDs: iamInv[i].ActiveKeyIDs}).Get(ctx, nil)
		})
	})
	step(3, func(ctx workflow.Context) error {
		defer iamSteps.Done()
		return forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			return workflow.ExecuteActivity(opts(30*time.Second), awsiam.ActivityPrefix+"RevokeSessions", awsiam.RevokeSessionsInput{User: iamInv[i].UserName}).Get(ctx, nil)
		})
	})
	step(4, func(ctx workflow.Context) error {
		if len(rotatable) == 0 {
			return nil
		}
		return workflow.ExecuteActivity(opts(60*time.Second), vault.ActivityPrefix+"RotateSecrets", vault.RotateSecretsInput{Secrets: rotatable, IdempotencyKey: key + "/rotate"}).Get(ctx, &rotated)
	})
	step(5, func(ctx workflow.Context) error {
		vaultSteps.Wait(ctx)
		if errs[0] != nil || errs[1] != nil {
			return nil
		}
		return forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			var v vault.VerifyResult
			if err := workflow.ExecuteActivity(opts(30*time.Second), vault.ActivityPrefix+"VerifyRevoked", vault.VerifyRevokedInput{Accessors: vi.Items[i].Accessors, EntityID: vi.Items[i].EntityID}).Get(ctx, &v); err != nil {
				return err
			}
			if !v.Passed {
				return fmt.Errorf("vault verification of %s failed", in.Users[i])
			}
			return nil
		})
	})
	step(6, func(ctx workflow.Context) error {
		iamSteps.Wait(ctx)
		if errs[2] != nil || errs[3] != nil {
			return nil
		}
		return forEach(ctx, n, in.Concurrency, func(ctx workflow.Context, i int) error {
			var v awsiam.VerifyResult
			if err := workflow.ExecuteActivity(opts(30*time.Second), awsiam.ActivityPrefix+"VerifyContained", awsiam.VerifyContainedInput{User: iamInv[i].UserName, AccessKeyIDs: iamInv[i].AccessKeyIDs, PolicyName: awsiam.DefaultRevokePolicyName}).Get(ctx, &v); err != nil {
				return err
			}
			if !v.Passed {
				return fmt.Errorf("iam verification of %s failed", in.Users[i])
			}
			return nil
		})
	})
	wg.Wait(ctx)
	for _, err := range errs {
		if err != nil {
			return massHandWrittenResult{}, err
		}
	}
	if len(rotated.Rotated) != len(rotatable) {
		return massHandWrittenResult{}, fmt.Errorf("rotated %d shared secrets, expected %d", len(rotated.Rotated), len(rotatable))
	}
	return massHandWrittenResult{People: n, Rotated: len(rotated.Rotated)}, nil
}

// forEach runs fn for 0…n-1, at most limit at a time, starting them in order, and returns the
// first error once all have finished.
func forEach(ctx workflow.Context, n, limit int, fn func(ctx workflow.Context, i int) error) error {
	running := 0
	errs := make([]error, n)
	wg := workflow.NewWaitGroup(ctx)
	for i := range n {
		_ = workflow.Await(ctx, func() bool { return running < limit })
		running++
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			errs[i] = fn(ctx, i)
			running--
		})
	}
	wg.Wait(ctx)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
