package drills

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestUpstreamChecksAskTheSandbox: a rotation reported for a secret whose copy changed but
// whose credential did not is caught by asking the database and the service themselves.
func TestUpstreamChecksAskTheSandbox(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	// Somebody wrote new values into the copies only: nothing changed upstream.
	sb.Vault.PutSecret("secret", "shared/payments-db", map[string]string{"username": "payments", "password": "copy-only-" + testenv.Canary})
	sb.Vault.PutSecret("secret", "shared/stripe-api", map[string]string{"api_key": "copy-only-" + testenv.Canary})
	sb.Vault.PutSecret("secret", "shared/ci/webhook-hmac", map[string]string{"hmac_key": "new-" + testenv.Canary, "algorithm": "sha512"})
	rotated := func(path, strategy string) map[string]any {
		return map[string]any{"mount": "secret", "path": path, "strategy": strategy, "previous_version": float64(1), "new_version": float64(2)}
	}
	card := Scorecard{RunResult: workflows.RunResult{Steps: []workflows.StepResult{{ID: "rotate", Action: "vault.rotate_secrets", Outputs: map[string]any{"rotated": []any{
		rotated("shared/payments-db", "database:database/payments"),
		rotated("shared/stripe-api", "service:payments-admin/rotate/stripe"),
		rotated("shared/ci/webhook-hmac", "generate:hmac_key"),
	}}}}}}
	checks := upstreamChecks(sb, card)
	if len(checks) != 3 {
		t.Fatalf("checks %+v, want 3", checks)
	}
	for _, c := range checks {
		if c.Passed {
			t.Errorf("%s passed (%s) although nothing changed upstream", c.Name, c.Detail)
		}
		if testenv.ContainsCanary(c.Detail) {
			t.Errorf("%s detail holds a secret", c.Name)
		}
	}
	if !strings.Contains(checks[0].Detail, "refuses payments's previous password: false") {
		t.Errorf("database check detail %q", checks[0].Detail)
	}
	card.RemediationPending = []workflows.PendingRotation{{Mount: "secret", Path: "shared/ci/deploy-key", Owner: "carol"}}
	card.Passed = true
	if v := Verdict(card); v != VerdictRemediationPending {
		t.Errorf("verdict %q, want %q", v, VerdictRemediationPending)
	}
}
