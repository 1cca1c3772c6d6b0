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
