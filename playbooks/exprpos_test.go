package playbooks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestExpressionSyntaxErrorPosition: a CEL syntax error points at the playbook's line and a
// column inside the ${{ }} that holds it, not at a column of the CEL text generated from the
// value (which the author never wrote).
func TestExpressionSyntaxErrorPosition(t *testing.T) {
	head := `name: x
title: X
severity: high
inputs:
  subject: {type: string}
steps:
  - id: inv
    action: vault.inventory
`
	tail := `  - id: check
    action: vault.verify_revoked
    needs: [inv]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`
	for _, tc := range []struct{ name, src, bad string }{
		{"quoted with text before", head + `    with: {subject: "user-${{ inputs.subject + }}"}
` + tail, "+ }}"},
		{"plain", head + `    with:
      subject: prefix ${{ inputs.subject ) }} suffix
` + tail, ") }}"},
		{"block scalar in expect", head + `    with: {subject: x}
` + tail + `expect:
  - name: found
    that: |
      ${{ steps.inv.outputs.entity_name == == "" }}
`, `== ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := playbooks.Compile("p.yaml", []byte(tc.src))
			var ce *playbooks.CompileError
			if !errors.As(err, &ce) || len(ce.Diagnostics) == 0 {
				t.Fatalf("expected a compile error, got %v", err)
			}
			d := ce.Diagnostics[0]
			lines := strings.Split(tc.src, "\n")
			wantLine := 0
			for i, l := range lines {
				if strings.Contains(l, tc.bad) {
					wantLine = i + 1
				}
			}
			if d.Line != wantLine {
				t.Fatalf("error at line %d, want %d: %s", d.Line, wantLine, d.Message)
			}
			src := lines[d.Line-1]
			open := strings.Index(src, "${{")
			close := strings.Index(src, "}}") + 2
			if d.Col <= open || d.Col > close {
				t.Fatalf("error at column %d of %q; want a column inside its ${{ }} (%d..%d): %s", d.Col, src, open+1, close, d.Message)
			}
			if !strings.Contains(d.Message, "invalid expression") || strings.Contains(d.Message, "<input>") {
				t.Fatalf("message %q: want a syntax error without CEL's own position", d.Message)
			}
		})
	}
}
