package playbooks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestContainmentRetriesForMinutes: a step that changes a system keeps retrying for minutes by
// default (it gave up after six attempts, about 7 s), and retry.for sets how long.
func TestContainmentRetriesForMinutes(t *testing.T) {
	src := func(retry string) string {
		return `name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: x}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: x, data: {v: "${{ steps.inv.outputs }}"}}
  - id: revoke
    action: vault.revoke_tokens
    needs: [snap]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
` + retry + `  - id: check
    action: vault.verify_revoked
    needs: [revoke]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`
	}
	p, err := playbooks.Compile("p.yaml", []byte(src("")))
	if err != nil {
		t.Fatal(err)
	}
	revoke, _ := p.Step("revoke")
	if time.Duration(revoke.Retry.For) != playbooks.DefaultRetryFor || playbooks.DefaultRetryFor < 5*time.Minute {
		t.Fatalf("revoke retries for %s; want the default of minutes (%s)", time.Duration(revoke.Retry.For), playbooks.DefaultRetryFor)
	}
	p, err = playbooks.Compile("p.yaml", []byte(src("    retry: {for: 30m}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if revoke, _ := p.Step("revoke"); time.Duration(revoke.Retry.For) != 30*time.Minute {
		t.Fatalf("retry.for 30m gave %s", time.Duration(revoke.Retry.For))
	}
	for _, bad := range []string{"48h", "-1m", "soon"} {
		if _, err := playbooks.Compile("p.yaml", []byte(src("    retry: {for: "+bad+"}\n"))); err == nil || !strings.Contains(err.Error(), "retry.for") {
			t.Errorf("retry.for %s: want a compile error naming retry.for, got %v", bad, err)
		}
	}
}

// TestPlanRotationWaitsOutAnOutage: vault.plan_rotation gave up after five attempts (about
// 3 s of backoff), so a Vault outage of a few seconds while it planned turned every secret into
// a "problem" and failed the run's rotation expectation. It now waits out a minute's outage,
// still with a bounded count of attempts, so that its last attempt knows to report what it
// could not check rather than fail the step.
func TestPlanRotationWaitsOutAnOutage(t *testing.T) {
	a, ok := playbooks.LookupAction("vault.plan_rotation")
	if !ok {
		t.Fatal("vault.plan_rotation is not in the catalog")
	}
	r := a.Retry
	if r.MaxAttempts <= 0 || r.For != 0 {
		t.Fatalf("plan_rotation's retry = %+v; want a bounded count of attempts (its last attempt reports what it could not check)", r)
	}
	var waited time.Duration
	wait := time.Duration(r.Initial)
	for range r.MaxAttempts - 1 {
		waited += min(wait, time.Duration(r.MaxInterval))
		wait = time.Duration(float64(wait) * r.Backoff)
	}
	if waited < time.Minute {
		t.Fatalf("plan_rotation waits %s between its %d attempts in all; want an outage of a minute waited out", waited, r.MaxAttempts)
	}
}
