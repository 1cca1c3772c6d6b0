package playbooks_test

import (
	"fmt"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestMassDeprovisionFoundAtBatchSize evaluates the bundled mass-deprovision's `found` check as
// the interpreter does, over a batch of 1,000 people (workflows.MaxBatch): everyone present
// passes, someone absent from one system passes, someone absent from both fails — within CEL's
// cost limit. Written as sets.contains(found in either, users), the check failed every case
// here with "actual cost limit exceeded" (from about 700 people on, everyone present or not),
// and every batch of the 10,000-person benchmark failed on it.
func TestMassDeprovisionFoundAtBatchSize(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("mass-deprovision")
	if err != nil {
		t.Fatal(err)
	}
	step, ok := p.Step("found")
	if !ok {
		t.Fatal("mass-deprovision has no step found")
	}
	var that string
	for _, a := range step.With {
		if a.Name == "that" {
			that = a.Expr
		}
	}
	if that == "" {
		t.Fatalf("step found has no argument that: %+v", step.With)
	}
	const n = 1000
	scope := func(absentVault, absentIAM int) playbooks.Scope {
		users := make([]any, n)
		vault, iam := make([]any, n), make([]any, n)
		for i := range n {
			u := fmt.Sprintf("dev%04d", i)
			users[i] = u
			vault[i] = map[string]any{"subject": u, "present": i != absentVault, "detail": ""}
			iam[i] = map[string]any{"subject": u, "present": i != absentIAM, "detail": ""}
		}
		return playbooks.Scope{
			Inputs:  map[string]any{"users": users, "reason": "test"},
			Outputs: map[string]map[string]any{"vault_inventory": {"items": vault}, "iam_inventory": {"items": iam}},
		}
	}
	for _, c := range []struct {
		name                   string
		absentVault, absentIAM int
		want                   bool
	}{
		{"everyone present", -1, -1, true},
		{"one absent from Vault only", 17, -1, true},
		{"one absent from IAM only", -1, 999, true},
		{"one absent from both", 500, 500, false},
		{"two absent, one from each", 3, 4, true},
		{"the first absent from both", 0, 0, false},
	} {
		var ev playbooks.Evaluator
		v, err := ev.Eval(that, scope(c.absentVault, c.absentIAM))
		if err != nil {
			t.Errorf("%s, %d people: %v", c.name, n, err)
			continue
		}
		if v != c.want {
			t.Errorf("%s, %d people: found is %v, want %v", c.name, n, v, c.want)
		}
	}
}
