package runs

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestTwoLeaksTwoRuns: a playbook without a subject gets its workflow id from its
// identifying inputs, so two leaked secrets at once make two runs (they all shared
// firebreak/leaked-secret-in-repo/ before, and the second leak was answered "already running"
// and never rotated); the same leak reported again joins the first.
func TestTwoLeaksTwoRuns(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("leaked-secret-in-repo")
	if err != nil {
		t.Fatal(err)
	}
	id := func(raw map[string]string) string {
		in, err := p.BindInputs(raw)
		if err != nil {
			t.Fatal(err)
		}
		return WorkflowID(p, in, Request{})
	}
	a := id(map[string]string{"path": "shared/stripe-api", "repo": "example/pay"})
	b := id(map[string]string{"path": "shared/payments-db", "repo": "example/pay"})
	again := id(map[string]string{"path": "shared/stripe-api", "repo": "example/pay"})
	if a == b {
		t.Errorf("two leaks share the workflow id %s: the second would join the first and never be rotated", a)
	}
	if a != again {
		t.Errorf("the same leak reported twice: %s and %s; want one run", a, again)
	}
	if !strings.HasPrefix(a, "firebreak/leaked-secret-in-repo/inputs-") {
		t.Errorf("id %s; want firebreak/leaked-secret-in-repo/inputs-<digest>", a)
	}
	if got := WorkflowID(plan(t), map[string]any{"subject": "alice"}, Request{}); got != workflows.RunWorkflowID("compromised-dev-key", "alice") {
		t.Errorf("with a subject: %s; want %s", got, workflows.RunWorkflowID("compromised-dev-key", "alice"))
	}
}
