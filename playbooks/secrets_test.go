package playbooks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// A playbook that compiles; each case below puts a credential somewhere in it.
const credentialBase = `
name: x
title: X
description: @DESC@
severity: high
inputs:
  subject: {type: string, description: @INDESC@, default: @DEFAULT@}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subject }}"}
  - id: check
    action: vault.verify_revoked
    needs: [inv]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
expect:
  - name: @EXPECT@
    that: ${{ steps.inv.outputs.entity_name != "" }}
`

// TestCredentialAnywhereInPlaybook checks every kind of string the old five hand-made
// patterns missed: other credential shapes, and places other than step arguments.
func TestCredentialAnywhereInPlaybook(t *testing.T) {
	fill := map[string]string{"@DESC@": "d", "@INDESC@": "who", "@DEFAULT@": "alice", "@EXPECT@": "found"}
	if _, err := playbooks.Compile("<t>", []byte(replaceAll(credentialBase, fill))); err != nil {
		t.Fatalf("the base playbook must compile: %v", err)
	}
	cases := []struct{ name, slot, secret, where string }{
		{"aws session key in input default", "@DEFAULT@", "ASIAZ7VRSQ3XMPLQ4JTN", "inputs.subject.default"},
		{"stripe key in description", "@DESC@", "billing uses sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF", "description"},
		{"github fine-grained token in expect name", "@EXPECT@", "github_pat_" + strings.Repeat("Zq7Hs9kPz2Lw4Vb8Nc1Rt6", 4)[:82], "expect[0].name"},
		{"aws secret access key in input description", "@INDESC@", "aws_secret_access_key=Zq7Hs9+kPz2Lw4Vb8Nc1Rt6Ym3Xd5Fg0Jh2KaQeW", "inputs.subject.description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := map[string]string{}
			for k, v := range fill {
				f[k] = v
			}
			f[tc.slot] = `"` + tc.secret + `"`
			_, err := playbooks.Compile("<t>", []byte(replaceAll(credentialBase, f)))
			var ce *playbooks.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("expected a compile error for a credential, got %v", err)
			}
			if msg := ce.Error(); !strings.Contains(msg, tc.where+": this string looks like a credential") {
				t.Fatalf("expected the credential reported at %s, got:\n%s", tc.where, msg)
			}
			// The source excerpt shows the line; the message itself must not repeat the secret.
			for _, d := range ce.Diagnostics {
				if strings.Contains(d.Message, tc.secret[8:]) {
					t.Fatalf("the diagnostic repeats the secret: %s", d.Message)
				}
			}
		})
	}
}

func replaceAll(s string, m map[string]string) string {
	for k, v := range m {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}
