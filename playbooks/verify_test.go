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
		if _, err := lib.Verify(back, nil); err != nil {
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
	if _, err := lib.Verify(forged, nil); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Fatalf("the hand-made plan: %v; want ErrPlanNotCompiled", err)
	}
	unknown := *p
	unknown.Name = "my-own"
	if _, err := lib.Verify(unknown, nil); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Errorf("a plan not in the library: %v; want it refused", err)
	}
	action := *p
	action.Name = playbooks.ActionPlanPrefix + "awsiam-rotate-key"
	action.TwoPersonOptOut = true
	if _, err := lib.Verify(action, nil); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Errorf("an action plan opting out of the two-person rule: %v; want it refused", err)
	}
}

// TestRenamedPlanIsNotAnActionPlan is the review's finding: a hand-made three-step plan
// renamed action-vault-revoke-tokens ran, because any plan named action-* was accepted. The
// worker now recompiles an action plan from the action request and its own approver roles.
func TestRenamedPlanIsNotAnActionPlan(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := lib.Get("compromised-dev-key")
	renamed := *p
	renamed.Name = playbooks.ActionPlanName("vault.revoke_tokens")
	req := &playbooks.ActionRequest{Action: "vault.revoke_tokens", Args: map[string]string{"accessors": "a1,a2"}}
	for _, act := range []*playbooks.ActionRequest{nil, req} {
		if _, err := lib.Verify(renamed, act); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
			t.Errorf("a playbook renamed %s (request %+v): %v; want ErrPlanNotCompiled", renamed.Name, act, err)
		}
	}
	honest, _, err := playbooks.ActionPlan(req.Action, req.Args, lib.ActionApproveRoles())
	if err != nil {
		t.Fatal(err)
	}
	if what, err := lib.Verify(*honest, req); err != nil {
		t.Fatalf("the action plan the worker compiles itself: %v; want it accepted", err)
	} else if !strings.Contains(what, "vault.revoke_tokens") {
		t.Errorf("verdict %q does not say which action was recompiled", what)
	}
	// An irreversible action whose approver roles the caller chose, not the worker.
	rot := &playbooks.ActionRequest{Action: "awsiam.rotate_key", Args: map[string]string{"user": "carol"}}
	mine, _, err := playbooks.ActionPlan(rot.Action, rot.Args, []string{"my-friends"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Verify(*mine, rot); !errors.Is(err, playbooks.ErrPlanNotCompiled) {
		t.Errorf("an action plan whose approver role the caller chose: %v; want it refused", err)
	}
	lib.SetActionApproveRoles([]string{"my-friends"})
	if _, err := lib.Verify(*mine, rot); err != nil {
		t.Errorf("the same plan on a worker configured with that role: %v; want it accepted", err)
	}
}
