package playbooks_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestLibraryVerifiesItsOwnPlans: every bundled plan, after the JSON round trip a workflow
// input takes, verifies against the library; a hand-made plan does not.
func TestLibraryVerifiesItsOwnPlans(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range lib.Names() {
		p, _ := lib.Get(name)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back playbooks.Plan
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if _, err := lib.Verify(back); err != nil {
			t.Errorf("%s after a JSON round trip: %v", name, err)
		}
	}
}

// TestHandMadePlanIsRefused is the security review's plan: compromised-dev-key with its
// two-person gate removed and two_person_opt_out set, still naming the bundled playbook and
// its source sha256.
func TestHandMadePlanIsRefused(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := lib.Get("compromised-dev-key")
	forged := *p
	forged.TwoPersonOptOut = true
	forged.Steps = slices.DeleteFunc(slices.Clone(p.Steps), func(s playbooks.Step) bool { return strings.HasPrefix(s.ID, playbooks.GatePrefix) })
	if len(forged.Steps) == len(p.Steps) {
		t.Fatal("compromised-dev-key has no two-person gate to remove")
	}
	for i := range forged.Steps {
		forged.Steps[i].Needs = slices.DeleteFunc(slices.Clone(forged.Steps[i].Needs), func(n string) bool { return strings.HasPrefix(n, playbooks.GatePrefix) })
	}
	if _, err := lib.Verify(forged); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Fatalf("the hand-made plan: %v; want ErrPlanNotCompiled", err)
	}
	unknown := *p
	unknown.Name = "my-own"
	if _, err := lib.Verify(unknown); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Errorf("a plan not in the library: %v; want it refused", err)
	}
	action := *p
	action.Name = playbooks.ActionPlanPrefix + "awsiam-rotate-key"
	action.TwoPersonOptOut = true
	if _, err := lib.Verify(action); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Errorf("an action plan opting out of the two-person rule: %v; want it refused", err)
	}
}
