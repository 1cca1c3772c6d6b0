package workflows

import (
	"testing"
)

// A destructive step whose only evidence snapshot was skipped by its condition changes nothing.
func TestNoEvidenceNoChange(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	plan := compilePlan(t, `
name: x
title: X
severity: high
inputs:
  subject: {type: string, required: true}
  collect: {type: bool, default: "false"}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subject }}"}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    if: ${{ inputs.collect }}
    with: {subject: "${{ inputs.subject }}", data: {vault: "${{ steps.inv.outputs }}"}}
  - id: disable
    action: vault.disable_entity
    needs: [snap]
    with: {entity_id: "${{ steps.inv.outputs.entity_id }}"}
`)
	res, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{"subject": "alice", "collect": false}, Drill: true})
	if err == nil || fe.f.count("vault.DisableEntity") != 0 {
		t.Fatalf("the entity was disabled without evidence (err %v)", err)
	}
	if s := res.Steps[2]; s.Status != StatusFailed || s.ErrorKind != "NoEvidence" {
		t.Fatalf("disable step: %+v", s)
	}
}
