package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

const patientPlaybook = `
name: patient
title: Patient
severity: high
inputs:
  subject: {type: string, required: true}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subject }}"}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: "${{ inputs.subject }}", data: {vault: "${{ steps.inv.outputs }}"}}
  - id: revoke
    action: vault.revoke_tokens
    needs: [snap]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
  - id: check
    action: vault.verify_revoked
    needs: [revoke]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`

// TestContainmentWaitsOutAVendorOutage: Vault failing for over a minute delays containment
// instead of failing it (it used to give up after six attempts, about 7 s), and while it
// waits the status query and the Slack thread say what it is waiting on and until when.
func TestContainmentWaitsOutAVendorOutage(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	var rec postRecorder
	rec.install(fe)
	var mu sync.Mutex
	attempts := 0
	fe.env.OnActivity("vault.RevokeTokens", mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in vault.RevokeTokensInput) (vault.RevokeTokensResult, error) {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if attempts < 12 { // with the backoff, well over a minute of failures
				return vault.RevokeTokensResult{}, errors.New("vault: 503 Service Unavailable")
			}
			return vault.RevokeTokensResult{Revoked: in.Accessors}, nil
		})
	var waiting string
	fe.env.RegisterDelayedCallback(func() {
		v, err := fe.env.QueryWorkflow(QueryStatus)
		if err != nil {
			t.Errorf("status query: %v", err)
			return
		}
		var res RunResult
		if err := v.Get(&res); err != nil {
			t.Errorf("status: %v", err)
			return
		}
		for _, s := range res.Steps {
			if s.ID == "revoke" {
				waiting = s.Waiting
			}
		}
	}, RetryNoticeAfter+10*time.Second)
	in := RunInput{Plan: compilePlan(t, patientPlaybook), Inputs: map[string]any{"subject": "alice"}, Drill: true, Report: Report{SlackChannel: "C1"}}
	res, err := fe.run(t, in)
	if err != nil {
		t.Fatalf("containment gave up during a vendor outage of the default retry window after %d attempts: %v (plan retry %+v)", attempts, err, in.Plan.Steps[2].Retry)
	}
	if attempts != 12 {
		t.Fatalf("revoke attempts %d, want 12", attempts)
	}
	if revoke := res.Steps[2]; revoke.Status != StatusSucceeded || revoke.Waiting != "" || revoke.DurationMS < int64(time.Minute/time.Millisecond) {
		t.Fatalf("revoke %+v; want succeeded after more than a minute, the wait cleared", revoke)
	}
	if !strings.Contains(waiting, "waiting on Vault") || !strings.Contains(waiting, "retrying until") {
		t.Fatalf("status while retrying: %q; want it to say it waits on Vault and until when", waiting)
	}
	said := false
	for _, p := range rec.posts {
		if strings.Contains(p.Text, "⏳") && strings.Contains(p.Text, "waiting on Vault") {
			said = true
		}
	}
	if !said {
		t.Fatalf("no Slack message said the run was waiting on Vault among %d posts", len(rec.posts))
	}
}
