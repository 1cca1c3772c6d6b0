package workflows

import (
	"strings"
	"testing"
)

// An if that does not evaluate to a bool fails the step instead of silently skipping it.
func TestIfMustBeBool(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	plan := compilePlan(t, `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: other
    action: vault.inventory
    needs: [inv]
    if: ${{ steps.inv.outputs["entity_id"] }}
    with: {subject: bob}
  - id: check
    action: vault.verify_revoked
    needs: [other]
    with: {accessors: []}
`)
	res, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{}, Drill: true})
	if err == nil || res.Steps[1].Status != StatusFailed || !strings.Contains(res.Steps[1].Error, "expected true or false") {
		t.Fatalf("err %v, step %+v", err, res.Steps[1])
	}
}
