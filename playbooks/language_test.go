package playbooks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

func libPlan(t *testing.T, name string) *playbooks.Plan {
	t.Helper()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLibraryLanguageSurface(t *testing.T) {
	p := libPlan(t, "emergency-deprovision")
	if p.Approval == nil || p.Approval.OnTimeout != "escalate" || p.Approval.Roles[0] != "security-lead" {
		t.Fatalf("approval: %+v", p.Approval)
	}
	st, _ := p.Step("revoke_vault_tokens")
	if st.Foreach == "" || st.Concurrency != 4 || st.Outputs[0].Name != "items" {
		t.Fatalf("foreach step: %+v", st)
	}
	ap, _ := p.Step("approve")
	if !ap.Builtin || ap.Approval == nil || ap.Approval.Count != 1 {
		t.Fatalf("approval step: %+v", ap)
	}
	got := p.Triggers.Slash.BindSlash("alice leaving today, laptop gone")
	if got["subject"] != "alice" || got["reason"] != "leaving today, laptop gone" {
		t.Fatalf("slash binding: %v", got)
	}
	in, err := p.BindInputs(map[string]string{"subject": "<@U0ALICE|alice>", "others": "bob, carol"})
	if err != nil || in["subject"] != "alice" || len(in["others"].([]any)) != 2 {
		t.Fatalf("inputs: %v %v", in, err)
	}
	if _, err := p.BindInputs(map[string]string{"subject": "alice", "others": "bob,Eve!"}); err == nil || !strings.Contains(err.Error(), "does not match the pattern") {
		t.Fatalf("list pattern not enforced: %v", err)
	}
	if p.Warnings != nil {
		t.Fatalf("warnings: %v", p.Warnings)
	}
}

func TestPagerDutyMatch(t *testing.T) {
	p := libPlan(t, "leaked-secret-in-repo")
	m := p.Triggers.PagerDuty[0]
	inc := map[string]any{"service": "PSVCDEV", "urgency": "high", "title": "secret leak in repo", "details": map[string]any{"path": "shared/x", "repo": "example/app"}}
	ok, inputs, err := m.MatchIncident(inc)
	if err != nil || !ok || inputs["path"] != "shared/x" || inputs["repo"] != "example/app" {
		t.Fatalf("match: %v %v %v", ok, inputs, err)
	}
	inc["urgency"] = "low"
	if ok, _, _ := m.MatchIncident(inc); ok {
		t.Fatal("matched a low-urgency incident")
	}
	inc["urgency"], inc["title"] = "high", "disk full"
	if ok, _, _ := m.MatchIncident(inc); ok {
		t.Fatal("matched although the condition is false")
	}
	if p.DrillInputs()["path"] != "shared/stripe-api" {
		t.Fatalf("drill inputs: %v", p.DrillInputs())
	}
}

func TestValidateCron(t *testing.T) {
	for _, ok := range []string{"0 9 * * 1", "*/15 0-6 1,15 */3 0-6"} {
		if err := playbooks.ValidateCron(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7", "*/0 * * * *", "5-1 * * * *"} {
		if err := playbooks.ValidateCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRenderings(t *testing.T) {
	p := libPlan(t, "api-abuse")
	if m := p.Mermaid(); !strings.Contains(m, "snapshot -. if .-> block_keys") || !strings.Contains(m, "block_keys{{") || !strings.Contains(m, "escalate -. if .-> acknowledge") {
		t.Fatalf("mermaid:\n%s", m)
	}
	if d := p.DOT(); !strings.Contains(d, `"snapshot" -> "block_keys" [style=dashed, label="if"];`) || !strings.Contains(d, "shape=hexagon") {
		t.Fatalf("dot:\n%s", d)
	}
	ex := p.Explain()
	for _, want := range []string{"# API abuse from a developer credential", "## Roles", "**sre-oncall** does this", "## Communication templates", "api_owners", "## Escalation", "## Done means"} {
		if !strings.Contains(ex, want) {
			t.Errorf("explain lacks %q:\n%s", want, ex)
		}
	}
}

func TestJSONSchema(t *testing.T) {
	b, err := playbooks.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	steps := s["properties"].(map[string]any)["steps"].(map[string]any)["items"].(map[string]any)
	actions := steps["properties"].(map[string]any)["action"].(map[string]any)["enum"].([]any)
	if len(actions) != len(playbooks.Catalog()) {
		t.Fatalf("schema lists %d actions, catalog has %d", len(actions), len(playbooks.Catalog()))
	}
	if len(steps["allOf"].([]any)) != len(playbooks.Catalog()) {
		t.Fatal("schema does not constrain with: per action")
	}
	if !strings.Contains(string(b), `"required": [`+"\n"+`                    "accessors"`) {
		t.Fatal("schema does not mark vault.revoke_tokens' accessors as required")
	}
}

func TestValidateOverrides(t *testing.T) {
	bundled, err := playbooks.BundledSources()
	if err != nil {
		t.Fatal(err)
	}
	user := playbooks.Source{File: "mine/compromised-dev-key.yaml", Src: bundled[1].Src}
	res := playbooks.Validate(append(bundled, user, user))
	n := len(bundled)
	if res[1].OverriddenBy != user.File || res[n].Overrides != bundled[1].File || !res[n].OK {
		t.Fatalf("override not reported: %+v / %+v", res[1], res[n])
	}
	if res[n+1].OK {
		t.Fatal("two user playbooks with one name were accepted")
	}
}
