package workflows

import (
	"strings"
	"testing"
	"time"
)

// An abort closes waits and pending decisions at once, so compensation does not wait for them.
func TestAbortClosesWaits(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{verifyBad: true}, TaskQueue)
	plan := compilePlan(t, `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: alice, data: {vault: "${{ steps.inv.outputs }}"}}
  - id: disable
    action: vault.disable_entity
    needs: [snap]
    compensate:
      action: vault.enable_entity
      with: {entity_id: "${{ steps.disable.outputs.entity_id }}"}
    with: {entity_id: "${{ steps.inv.outputs.entity_id }}"}
  - id: verify
    action: vault.verify_revoked
    needs: [disable]
    with: {accessors: "${{ steps.inv.outputs.accessors }}", entity_id: "${{ steps.inv.outputs.entity_id }}"}
  - id: long_wait
    action: wait
    needs: [snap]
    with: {duration: 20h}
`)
	start := fe.env.Now()
	res, err := fe.run(t, RunInput{Plan: plan, Inputs: map[string]any{}})
	if err == nil {
		t.Fatal("expected the failed verification to fail the run")
	}
	if took := fe.env.Now().Sub(start); took > time.Hour {
		t.Fatalf("the run took %s of workflow time: the abort did not cancel the 20h wait", took)
	}
	if fe.f.count("vault.EnableEntity") != 1 {
		t.Fatalf("compensation ran %d times", fe.f.count("vault.EnableEntity"))
	}
	if s := res.Steps[4]; s.Status != StatusFailed || !strings.Contains(s.Error, "aborted") {
		t.Fatalf("wait step: %+v", s)
	}
}
