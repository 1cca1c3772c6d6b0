package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// A cancelled run (a drill's Ctrl-C, `temporal workflow cancel`) closes as cancelled, not as
// failed, and carries the record of how far it got as the cancellation's details.
func TestCancelledRunEndsCancelled(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, TaskQueue)
	plan := compilePlan(t, `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: long_wait
    action: wait
    needs: [inv]
    with: {duration: 20h}
  - id: verify
    action: vault.verify_revoked
    needs: [long_wait]
    with: {accessors: "${{ steps.inv.outputs.accessors }}", entity_id: "${{ steps.inv.outputs.entity_id }}"}
`)
	fe.env.RegisterDelayedCallback(fe.env.CancelWorkflow, time.Hour)
	_, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{}})
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("a cancelled run must end cancelled; got %T: %v", err, err)
	}
	var res RunResult
	if !canceled.HasDetails() || canceled.Details(&res) != nil {
		t.Fatal("the cancellation carries no record of the run")
	}
	if !strings.HasPrefix(res.Error, "the run was cancelled") {
		t.Fatalf("record's error = %q; want it to say the run was cancelled", res.Error)
	}
	if len(res.Steps) != 3 || res.Steps[0].Status != StatusSucceeded {
		t.Fatalf("record's steps = %+v; want inv succeeded before the cancellation", res.Steps)
	}
}
