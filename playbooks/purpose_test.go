package playbooks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestPlaybookMustChangeOrVerify: a playbook that neither changes nor verifies anything would
// drill PASS while proving nothing; one that changes systems without checking them is warned.
func TestPlaybookMustChangeOrVerify(t *testing.T) {
	head := "name: x\ntitle: X\nseverity: high\n"
	for _, tc := range []struct{ name, steps, want string }{
		{"no steps", "steps: []\n", "found no steps"},
		{"only reads and reports", `steps:
  - id: inv
    action: vault.inventory
    with: {subject: x}
  - id: say
    action: slack.post
    needs: [inv]
    with: {channel: C1, text: hello}
`, "found only steps that read or report (inv, say)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := playbooks.Compile("p.yaml", []byte(head+tc.steps))
			var ce *playbooks.CompileError
			if !errors.As(err, &ce) || !strings.Contains(ce.Error(), tc.want) {
				t.Fatalf("expected a compile error containing %q, got %v", tc.want, err)
			}
		})
	}
	changes := head + `steps:
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
`
	p, err := playbooks.Compile("p.yaml", []byte(changes))
	if err != nil {
		t.Fatalf("a playbook that changes but does not verify still compiles: %v", err)
	}
	if !hasWarning(p, "changes systems (revoke) but verifies nothing") || len(p.Unverified) != 1 {
		t.Fatalf("expected a warning that nothing verifies the change, got %v", p.Warnings)
	}
	verified := changes + `  - id: check
    action: vault.verify_revoked
    needs: [revoke]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`
	if p, err := playbooks.Compile("p.yaml", []byte(verified)); err != nil || hasWarning(p, "verifies nothing") {
		t.Fatalf("with a verify step: want no warning, got %v %v", err, p)
	}
	expected := changes + "expect:\n  - name: revoked\n    that: ${{ size(steps.revoke.outputs.revoked) >= 0 }}\n"
	if p, err := playbooks.Compile("p.yaml", []byte(expected)); err != nil || hasWarning(p, "verifies nothing") {
		t.Fatalf("with an expect: want no warning, got %v", err)
	}
}

func hasWarning(p *playbooks.Plan, s string) bool {
	for _, w := range p.Warnings {
		if strings.Contains(w.Message, s) {
			return true
		}
	}
	return false
}
