package workflows

import (
	"testing"
	"time"
)

const firstCutYAML = `
name: firstcut
title: First cut
severity: high
inputs:
  subject: {type: string, required: true}
steps:
  - id: snap
    action: evidence.snapshot
    with: {subject: "${{ inputs.subject }}", data: {vault: x}}
  - id: disable
    action: vault.disable_entity
    needs: [snap]
    with: {entity_id: ent-1}
  - id: keys
    action: awsiam.deactivate_keys
    needs: [snap]
    with: {user: "${{ inputs.subject }}", access_key_ids: [AKFB1]}
  - id: inventory
    action: wait
    needs: [snap]
    with: {duration: 5m}
  - id: revoke
    action: vault.revoke_tokens
    needs: [inventory]
    with: {accessors: [acc-1]}
`

// The first cut is made when every step that cuts a whole system (disable the entity,
// deactivate the keys) is done, before the rest of containment (here, token revocation behind
// a five-minute inventory); both times are recorded.
func TestFirstCutBeforeContainment(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	start := fe.env.Now()
	in := RunInput{Plan: compilePlan(t, firstCutYAML), Inputs: map[string]any{"subject": "alice"}, Drill: true, Trigger: Trigger{Kind: "cli", By: "bob", At: start}}
	res, err := fe.run(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstCutAt.IsZero() || res.TimeToFirstCutMS >= time.Minute.Milliseconds() {
		t.Errorf("first cut at %v (%d ms); want it made before the five-minute inventory ends", res.FirstCutAt, res.TimeToFirstCutMS)
	}
	if res.TimeToContainMS < (5 * time.Minute).Milliseconds() {
		t.Errorf("contained after %d ms; want after the inventory and the token revocation", res.TimeToContainMS)
	}
}
