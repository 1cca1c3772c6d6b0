package playbooks_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

func TestLibraryCompiles(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("compromised-dev-key")
	if err != nil {
		t.Fatal(err)
	}
	// Eighteen steps as written, plus the two-person gate before rotate_shared_secrets.
	if len(p.Steps) != 19 || p.Steps[0].ID != "vault_entity" {
		b, _ := json.MarshalIndent(p, "", " ")
		t.Fatalf("unexpected plan: %s", b)
	}
	// The first cut does not wait for the inventories, which grow with the organisation.
	byID := map[string]playbooks.Step{}
	for _, s := range p.Steps {
		byID[s.ID] = s
	}
	var upstream func(id string, seen map[string]bool)
	upstream = func(id string, seen map[string]bool) {
		for _, n := range byID[id].Needs {
			if !seen[n] {
				seen[n] = true
				upstream(n, seen)
			}
		}
	}
	for _, cut := range []string{"disable_entity", "deactivate_keys", "revoke_sessions"} {
		seen := map[string]bool{}
		upstream(cut, seen)
		for id := range seen {
			if a := byID[id].Action; a == "vault.inventory" || a == "awsiam.inventory" {
				t.Errorf("%s waits for %s (%s): the first cut must not wait for an inventory", cut, id, a)
			}
		}
		if !seen["first_snapshot"] {
			t.Errorf("%s does not wait for the first evidence snapshot", cut)
		}
	}
	if seen := map[string]bool{}; true {
		upstream("disable_entity", seen)
		if !seen["vault_next_login"] {
			t.Error("disable_entity does not wait for vault_next_login: after it Vault no longer says what the person's next login is granted")
		}
	}
	if p.SourceSHA256 == "" || p.CompilerVersion == "" {
		t.Fatal("plan does not record its source digest and compiler version")
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"unknown action", `
name: x
title: X
severity: high
steps:
  - id: a
    action: vault.revoke_token
`, []string{`<t>:7:13: step a: unknown action "vault.revoke_token"`, `did you mean "vault.revoke_tokens"`}},
		{"unknown key", `
name: x
title: X
severity: high
stpes: []
`, []string{`<t>:5:1: playbook: unknown key "stpes"`, `did you mean "steps"`, `missing required key "steps"`}},
		{"cycle", `
name: x
title: X
severity: high
steps:
  - id: a
    action: vault.inventory
    needs: [b]
    with: {subject: x}
  - id: b
    action: vault.inventory
    needs: [a]
    with: {subject: x}
`, []string{"dependency cycle: a → b → a"}},
		{"bad reference and type", `
name: x
title: X
severity: high
inputs:
  subject: {type: string}
steps:
  - id: inv
    action: vault.inventory
    with: {subject: "${{ inputs.subjct }}"}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: x, data: {a: 1}}
  - id: revoke
    action: vault.revoke_tokens
    needs: [snap]
    with:
      accessors: ${{ steps.inv.outputs.entity_id }}
`, []string{`unknown input "subjct"`, `did you mean "subject"`, "accessors: expected list<string>, found string"}},
		{"destructive without evidence", `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: x}
  - id: revoke
    action: vault.revoke_tokens
    needs: [inv]
    with:
      accessors: ${{ steps.inv.outputs.accessors }}
`, []string{"must need (directly or indirectly) an evidence.snapshot"}},
		{"step not in needs", `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: x}
  - id: other
    action: vault.inventory
    with: {subject: "${{ steps.inv.outputs.entity_name }}"}
`, []string{`step "inv" is used but not in this step's needs`}},
		{"credential literal", `
name: x
title: X
severity: high
steps:
  - id: p
    action: slack.post
    with: {channel: c, text: "key AKIAABCDEFGHIJKLMNOP"}
`, []string{"looks like a credential"}},
		{"malformed yaml", "name: [x\n", []string{"malformed YAML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := playbooks.Compile("<t>", []byte(tc.src))
			var ce *playbooks.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("expected a CompileError, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%s", w, ce.Render())
				}
			}
		})
	}
}

func TestBindInputs(t *testing.T) {
	lib, _ := playbooks.LoadLibrary("")
	p, _ := lib.Get("compromised-dev-key")
	got, err := p.BindInputs(map[string]string{"subject": "alice"})
	if err != nil || got["subject"] != "alice" || got["reason"] != "unspecified" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []map[string]string{{}, {"subject": "Alice!"}, {"subject": "alice", "subjct": "x"}} {
		if _, err := p.BindInputs(bad); !errors.Is(err, playbooks.ErrInvalidInput) {
			t.Errorf("%v: expected ErrInvalidInput, got %v", bad, err)
		}
	}
}

func TestEval(t *testing.T) {
	var ev playbooks.Evaluator
	v, err := ev.Eval(`{"n": size(steps.a.outputs.xs), "s": "hi " + string(inputs.subject)}`, playbooks.Scope{
		Inputs:  map[string]any{"subject": "alice"},
		Outputs: map[string]map[string]any{"a": {"xs": []any{"p", "q"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["n"] != int64(2) || m["s"] != "hi alice" {
		t.Fatalf("got %#v", v)
	}
}

func TestMapIterationRefused(t *testing.T) {
	src := `
name: x
title: X
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: post
    action: slack.post
    needs: [inv]
    with:
      channel: c
      text: "${{ steps.inv.outputs.tokens[0].map(k, k).join(\",\") }}"
`
	_, err := playbooks.Compile("<t>", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "iterating over a map is not allowed") {
		t.Fatalf("expected map iteration to be refused, got %v", err)
	}
}
