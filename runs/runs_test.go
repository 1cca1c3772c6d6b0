package runs

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

func plan(t *testing.T) *playbooks.Plan {
	t.Helper()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("compromised-dev-key")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWorkflowID: which requests are one run. The ids are those chatops, the command line and
// drills used before runs existed, so open runs keep being joined across an upgrade.
func TestWorkflowID(t *testing.T) {
	p := plan(t)
	at := time.Date(2026, 12, 7, 10, 11, 12, 345e6, time.UTC)
	in := map[string]any{"subject": "bob", "reason": "leak"}
	cases := []struct {
		name string
		r    Request
		want string
	}{
		{"run", Request{}, workflows.RunWorkflowID(p.Name, "bob")},
		{"incident", Request{Incident: "P123"}, workflows.IncidentWorkflowID("P123")},
		{"incident drill", Request{Incident: "P123", Drill: true}, workflows.IncidentWorkflowID("P123")},
		{"drill at trigger time", Request{Drill: true, Trigger: workflows.Trigger{At: at}}, workflows.DrillWorkflowID(p.Name, "bob", "20261207T101112.345")},
		{"drill with nonce", Request{Drill: true, Nonce: ScheduledNonce}, workflows.DrillWorkflowID(p.Name, "bob", "scheduled")},
	}
	for _, c := range cases {
		if got := WorkflowID(p, in, c.r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestDigestID: a single action's id digests its inputs and its step's arguments: the same
// arguments are one run, other arguments another.
func TestDigestID(t *testing.T) {
	p := plan(t)
	step := p.Steps[0].ID
	a := WorkflowID(p, map[string]any{"subject": "bob"}, Request{DigestStep: step})
	b := WorkflowID(p, map[string]any{"subject": "bob"}, Request{DigestStep: step})
	c := WorkflowID(p, map[string]any{"subject": "carol"}, Request{DigestStep: step})
	if a != b || a == c || !strings.HasPrefix(a, "firebreak/"+p.Name+"/") || len(a) != len("firebreak/"+p.Name+"/")+12 {
		t.Errorf("digest ids: %q %q %q; want the first two equal, the third different, 12 hex digits after the playbook", a, b, c)
	}
}

func TestPrepareRefusesBadInputs(t *testing.T) {
	p := plan(t)
	if _, err := Prepare(p, map[string]string{"nonsense": "x"}, Request{}); err == nil {
		t.Error("an unknown input was accepted")
	}
	run, err := Prepare(p, map[string]string{"subject": "bob", "reason": "r"}, Request{Drill: true, AutoApprove: true, Report: workflows.Report{SlackChannel: "C1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Input.Drill || !run.Input.AutoApprove || run.Input.Report.SlackChannel != "C1" || run.Input.Inputs["subject"] != "bob" || run.Input.Plan.Name != p.Name {
		t.Errorf("prepared input %+v", run.Input)
	}
}

func TestDrillInputs(t *testing.T) {
	p := plan(t)
	got := DrillInputs(p, map[string]string{"subject": "carol", "reason": "sched"}, map[string]string{"reason": "given"})
	if got["subject"] != "carol" || got["reason"] != "given" {
		t.Errorf("given inputs override defaults: %v", got)
	}
	if got := DrillInputs(p, nil, nil); got["subject"] != DrillSubject {
		t.Errorf("subject defaults to %s: %v", DrillSubject, got)
	}
}

func TestInputDiff(t *testing.T) {
	have := map[string]any{"subject": "bob", "reason": "a", "n": float64(3), "list": []any{"x"}}
	want := map[string]any{"subject": "alice", "reason": "b", "n": 3, "list": []string{"x"}, "extra": true}
	got := inputDiff(have, want)
	wantDiff := []string{`extra: unset in the run, true here`, `subject: "bob" in the run, "alice" here`}
	if strings.Join(got, "|") != strings.Join(wantDiff, "|") {
		t.Errorf("inputDiff = %q, want %q", got, wantDiff)
	}
}
