package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// rotated reports whether the irreversible rotation ran.
func (g *gateEnv) rotated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Contains(g.calls, "vault.RotateSecrets")
}

func stepOf(t *testing.T, res RunResult, id string) StepResult {
	t.Helper()
	for _, s := range res.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", id, res.Steps)
	return StepResult{}
}

// withoutGate returns plan with its two-person gates removed, as a plan made by hand (or a
// playbook directory that drops the gate) would be.
func withoutGate(plan playbooks.Plan) playbooks.Plan {
	var steps []playbooks.Step
	for _, s := range plan.Steps {
		if strings.HasPrefix(s.ID, playbooks.GatePrefix) {
			continue
		}
		s.Needs = slices.DeleteFunc(slices.Clone(s.Needs), func(n string) bool { return strings.HasPrefix(n, playbooks.GatePrefix) })
		s.Irreversible = false // a forged plan need not say so; the catalog does
		steps = append(steps, s)
	}
	plan.Steps = steps
	return plan
}

// TestGateTimeoutNeverContinues: a playbook whose approvals continue on timeout must not let a
// gate's timeout run the irreversible step with nobody's approval.
func TestGateTimeoutNeverContinues(t *testing.T) {
	g := newGateEnv(t)
	src := strings.Replace(strings.Replace(strings.Replace(gateYAML, "on_timeout: abort", "on_timeout: continue", 1), "%s", "", 1), "%s", "", 1)
	in := gateInput(t, "", "")
	in.Plan = compilePlan(t, src)
	res, _ := g.run(t, in)
	if g.rotated() {
		t.Fatal("the rotation ran although nobody approved its gate")
	}
	if s := stepOf(t, res, "two_person_rotate"); s.Status != StatusFailed || s.ErrorKind != "ApprovalTimeout" {
		t.Errorf("gate %s (%s: %s); want it failed by its timeout", s.Status, s.ErrorKind, s.Error)
	}
	if s := stepOf(t, res, "rotate"); s.Status != StatusSkipped {
		t.Errorf("rotate %s; want skipped", s.Status)
	}
}

// TestInterpreterRefusesUngatedIrreversibleSteps: the worker does not trust the plan it is
// given: an irreversible step that no granted approval precedes fails, whatever the plan says.
func TestInterpreterRefusesUngatedIrreversibleSteps(t *testing.T) {
	t.Run("gate removed", func(t *testing.T) {
		g := newGateEnv(t)
		in := gateInput(t, "", "")
		in.Plan = withoutGate(in.Plan)
		res, err := g.run(t, in)
		if err == nil || g.rotated() {
			t.Fatalf("err %v, rotated %v; want the run failed and nothing rotated", err, g.rotated())
		}
		s := stepOf(t, res, "rotate")
		if s.Status != StatusFailed || s.ErrorKind != ErrNoApproval || !strings.Contains(s.Error, "cannot be undone and no approval granted it") || !strings.Contains(s.Error, "recompile the playbook") {
			t.Errorf("rotate %s (%s: %s); want refused for want of an approval", s.Status, s.ErrorKind, s.Error)
		}
		if s := stepOf(t, res, "revoke"); s.Status != StatusSucceeded {
			t.Errorf("revoke %s; reversible containment must still run", s.Status)
		}
	})
	t.Run("foreach step", func(t *testing.T) {
		g := newGateEnv(t)
		in := gateInput(t, "", "")
		in.Plan = withoutGate(in.Plan)
		for i := range in.Plan.Steps {
			if in.Plan.Steps[i].ID == "rotate" {
				in.Plan.Steps[i].Foreach = `["once"]`
			}
		}
		res, _ := g.run(t, in)
		if s := stepOf(t, res, "rotate"); g.rotated() || s.ErrorKind != ErrNoApproval {
			t.Errorf("rotated %v, rotate %s (%s); want the fan-out refused", g.rotated(), s.Status, s.ErrorKind)
		}
	})
	t.Run("forged gate that continues on timeout", func(t *testing.T) {
		g := newGateEnv(t)
		in := gateInput(t, "", "")
		for i := range in.Plan.Steps {
			if s := &in.Plan.Steps[i]; s.ID == "two_person_rotate" {
				rule := *s.Approval
				rule.OnTimeout = playbooks.OnTimeoutContinue
				s.Approval = &rule
			}
		}
		res, _ := g.run(t, in)
		if s := stepOf(t, res, "rotate"); g.rotated() || s.ErrorKind != ErrNoApproval {
			t.Errorf("rotated %v, rotate %s (%s); want it refused: the gate timed out ungranted", g.rotated(), s.Status, s.ErrorKind)
		}
	})
	t.Run("conditional approval skipped", func(t *testing.T) {
		g := newGateEnv(t)
		in := gateInput(t, "", "")
		for i := range in.Plan.Steps {
			if s := &in.Plan.Steps[i]; s.ID == "two_person_rotate" {
				s.If = `inputs.subject == "nobody"`
			}
		}
		res, _ := g.run(t, in)
		if s := stepOf(t, res, "rotate"); g.rotated() || s.ErrorKind != ErrNoApproval {
			t.Errorf("rotated %v, rotate %s (%s); want it refused: its approval was skipped", g.rotated(), s.Status, s.ErrorKind)
		}
	})
	t.Run("opted out", func(t *testing.T) {
		g := newGateEnv(t)
		in := gateInput(t, "", "")
		in.Plan = withoutGate(in.Plan)
		in.Plan.TwoPersonOptOut = true
		if _, err := g.run(t, in); err != nil || !g.rotated() {
			t.Fatalf("err %v, rotated %v; a plan that opts out runs its irreversible steps", err, g.rotated())
		}
	})
	t.Run("drill with auto-approve", func(t *testing.T) {
		g := newGateEnv(t)
		in := gateInput(t, "", "")
		in.Drill, in.AutoApprove, in.Report = true, true, Report{}
		g.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "drill/gate/alice", TaskQueue: DrillTaskQueue, WorkflowExecutionTimeout: 24 * time.Hour})
		if res, err := g.run(t, in); err != nil || !g.rotated() || stepOf(t, res, "rotate").Status != StatusSucceeded {
			t.Fatalf("err %v, rotated %v; want the drill bot's approval to let the rotation run", err, g.rotated())
		}
	})
	t.Run("one-step action plan with a granted approval", func(t *testing.T) {
		// The shape of `firebreak action run` for an irreversible action: an approval, then
		// the action (with its evidence), and nothing else.
		g := newGateEnv(t)
		var got []string
		g.update(time.Minute, ApprovalRequest{Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: DecisionApprove}, &got)
		plan := withoutGate(gateInput(t, "", "").Plan)
		var steps []playbooks.Step
		for _, s := range plan.Steps {
			switch s.ID {
			case "revoke":
				continue
			case "rotate":
				s.Needs = []string{"ok"}
				steps = append(steps, playbooks.Step{ID: "ok", Action: playbooks.ActionApproval, Builtin: true, Needs: []string{"snap"}, OnFailure: playbooks.OnFailureAbort,
					With: []playbooks.Arg{{Name: "message", Expr: `"rotate?"`}}, Approval: &playbooks.ApprovalRule{Count: 1, Roles: []string{"security-oncall"}, Timeout: playbooks.Duration(time.Hour), OnTimeout: playbooks.OnTimeoutAbort}})
			}
			steps = append(steps, s)
		}
		plan.Steps = steps
		in := gateInput(t, "", "")
		in.Plan = plan
		if _, err := g.run(t, in); err != nil || !g.rotated() {
			t.Fatalf("err %v, rotated %v, decisions %q; want the approved action run", err, g.rotated(), got)
		}
	})
}

// TestSubjectsCannotApprove: anyone the run acts on — a user or email input, an element of a
// list input, not only inputs.subject — and the responder who confirmed the run are refused.
func TestSubjectsCannotApprove(t *testing.T) {
	src := strings.Replace(strings.Replace(gateYAML, "%s", "", 1), "%s", "", 1)
	src = strings.Replace(src, "  subject: {type: string, required: true}\n", "  subject: {type: string, required: true}\n  others: {type: list}\n  manager: {type: user}\n  contact: {type: email}\n", 1)
	oncall := []string{"security-oncall"}
	for _, tc := range []struct {
		name string
		req  ApprovalRequest
		want string
	}{
		{"in a list input", ApprovalRequest{Approver: "Dave", ApproverRoles: oncall, Decision: DecisionApprove}, "Dave is a subject of this run (input others)"},
		{"a user input", ApprovalRequest{Approver: "erin", ApproverRoles: oncall, Decision: DecisionApprove}, "erin is a subject of this run (input manager)"},
		{"by email", ApprovalRequest{Approver: "U999", ApproverEmail: "Frank@example.test", ApproverRoles: oncall, Decision: DecisionApprove}, "U999 is a subject of this run (input contact)"},
		{"inputs.subject", ApprovalRequest{Approver: "alice", ApproverRoles: oncall, Decision: DecisionApprove}, "alice is the subject of this run"},
		{"the responder who confirmed it", ApprovalRequest{Approver: "grace", ApproverRoles: oncall, Decision: DecisionApprove}, "grace confirmed this run and cannot decide two_person_rotate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateEnv(t)
			var got []string
			g.update(time.Minute, tc.req, &got)
			g.update(2*time.Minute, ApprovalRequest{Approver: "carol", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
			in := gateInput(t, "", "")
			in.Plan = compilePlan(t, src)
			in.Inputs = map[string]any{"subject": "alice", "others": []any{"bob2", "dave"}, "manager": "erin", "contact": "frank@example.test"}
			in.Trigger = Trigger{Kind: "pagerduty", By: "pagerduty:P1", ConfirmedBy: "grace"}
			if _, err := g.run(t, in); err != nil {
				t.Fatalf("%v: %q", err, got)
			}
			if len(got) != 2 || !strings.HasPrefix(got[0], "rejected") || !strings.Contains(got[0], tc.want) || !strings.HasPrefix(got[1], "ok carol") {
				t.Errorf("decisions %q; want the first refused (%q), carol's counted", got, tc.want)
			}
		})
	}
}
