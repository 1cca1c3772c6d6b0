package workflows

import (
	"strings"
	"testing"
)

const leakYAML = `
name: leak
title: Leak
severity: high
inputs:
  path: {type: string, required: true}
  repo: {type: string, required: true}
  reason: {type: string}
approval: {two_person: false}
steps:
  - id: note
    action: evidence.snapshot
    with: {subject: "${{ inputs.repo }}", data: {path: "${{ inputs.path }}"}}
`

// TestTwoLeaksTwoRuns: a playbook without a subject gets its workflow id from its
// identifying inputs, so two leaked secrets at once make two runs; the same leak reported
// again (another reason) joins the first.
func TestTwoLeaksTwoRuns(t *testing.T) {
	plan := compilePlan(t, leakYAML)
	a := PlaybookWorkflowID(plan, map[string]any{"path": "shared/stripe", "repo": "example/pay", "reason": "gitleaks"})
	b := PlaybookWorkflowID(plan, map[string]any{"path": "shared/db", "repo": "example/pay", "reason": "gitleaks"})
	again := PlaybookWorkflowID(plan, map[string]any{"path": "shared/stripe", "repo": "example/pay", "reason": "reported twice"})
	if a == b {
		t.Errorf("two leaks share the workflow id %s: the second would join the first and never be rotated", a)
	}
	if a != again {
		t.Errorf("the same leak reported twice: %s and %s; want one run", a, again)
	}
	if !strings.HasPrefix(a, "firebreak/leak/inputs-") {
		t.Errorf("id %s; want firebreak/leak/inputs-<digest>", a)
	}
	if got := PlaybookWorkflowID(plan, map[string]any{"subject": "alice"}); got != RunWorkflowID("leak", "alice") {
		t.Errorf("with a subject: %s; want %s", got, RunWorkflowID("leak", "alice"))
	}
}
