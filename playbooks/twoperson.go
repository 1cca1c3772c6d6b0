package playbooks

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GatePrefix starts the id of every two-person gate the compiler adds: an approval.request
// step before irreversible steps that no approval precedes.
const GatePrefix = "two_person_"

// Two-person rule. Steps whose action cannot be undone (Action.Irreversible) must not run on
// one person's word: unless an approval.request step already precedes one (directly or
// through its needs), the compiler inserts a gate — an approval.request step with the
// irreversible step's needs and condition — and makes the step need it. Reversible steps
// (revoke, deactivate, disable, deny policies) are untouched, so containment runs at once
// while the gate waits. Irreversible steps with the same needs and condition share one gate.
// A gate's on_failure is continue: a denial or a timeout leaves the irreversible steps
// undone (and the run not contained) without stopping the rest of the response. A gate times
// out as the playbook's approval rule says, escalate or abort, but never continue (which
// would let the steps run ungranted). Only an approval that guards (isGuard) spares a gate.
// Compensations are refused if irreversible (compile.go): they run after an abort, unasked.
//
// Who may approve a gate, how many and for how long come from the playbook's approval rule
// (roles falling back to roles.approve); the interpreter's approval validators give the
// two-person property: the requester, the run's subject and anyone without an approving role
// are refused. approval: {two_person: false} opts out, with a warning.
func (c *compiler) twoPerson(root *yaml.Node, p *Plan, inputs map[string]Type) []Step {
	steps := p.Steps
	var irreversible []string
	for _, s := range steps {
		if s.Irreversible {
			irreversible = append(irreversible, s.ID)
		}
	}
	if p.TwoPersonOptOut {
		at := c.twoPersonAt
		if at == nil {
			at = root
		}
		if len(irreversible) == 0 {
			c.d.warn(at.Line, at.Column, "", "approval.two_person: false has no effect: playbook %s has no irreversible step", p.Name)
		} else {
			c.d.warn(at.Line, at.Column, "", "playbook %s opts out of the two-person rule: irreversible steps (%s) run without a second person's approval", p.Name, strings.Join(irreversible, ", "))
		}
		return steps
	}
	if len(irreversible) == 0 {
		return steps
	}
	index := map[string]int{}
	for i, s := range steps {
		index[s.ID] = i
	}
	// approved[id]: an approval.request step that guards (isGuard) is among id's needs,
	// directly or not. Steps are in topological order, so each need is settled before the
	// step. A step between the guard and id cannot let id run without the guard's approval:
	// a step whose need failed or was skipped with it is skipped, with no outputs.
	approved := map[string]bool{}
	for _, s := range steps {
		for _, n := range s.Needs {
			if approved[n] || isGuard(steps[index[n]]) {
				approved[s.ID] = true
			}
		}
	}
	type group struct {
		key   string
		steps []string
	}
	var groups []*group
	for _, id := range irreversible {
		s := steps[index[id]]
		if approved[id] {
			continue
		}
		needs := slices.Clone(s.Needs)
		slices.Sort(needs)
		key := strings.Join(needs, ",") + "|" + s.If
		var g *group
		for _, have := range groups {
			if have.key == key {
				g = have
			}
		}
		if g == nil {
			g = &group{key: key}
			groups = append(groups, g)
		}
		g.steps = append(g.steps, id)
	}
	if len(groups) == 0 {
		return steps
	}
	rule := ApprovalRule{Count: 1, Timeout: Duration(time.Hour), OnTimeout: OnTimeoutAbort}
	if p.Approval != nil {
		rule = *p.Approval
		rule.Roles = slices.Clone(p.Approval.Roles)
	}
	// A gate that timed out "continuing" would let the irreversible step run with nobody's
	// approval: gates escalate or abort, whatever the playbook's other approvals do.
	if rule.OnTimeout != OnTimeoutEscalate {
		if rule.OnTimeout == OnTimeoutContinue {
			at := valueAt(root, "approval", "on_timeout")
			c.d.warn(at.Line, at.Column, "", "approval.on_timeout: continue does not apply to two-person gates: a gate not granted in time aborts, leaving the irreversible steps undone")
		}
		rule.OnTimeout = OnTimeoutAbort
	}
	if len(rule.Roles) == 0 {
		rule.Roles = slices.Clone(p.Roles.Approve)
	}
	if len(rule.Roles) == 0 {
		for _, g := range groups {
			for _, id := range g.steps {
				at := c.stepAt[id]
				c.d.add(at.Line, at.Column, "", "step %s: %s cannot be undone, so by the two-person rule it waits for a second person's approval, but the playbook names nobody who may approve; add roles: {approve: [...]} or approval: {roles: [...]}, or opt out with approval: {two_person: false}", id, steps[index[id]].Action)
			}
		}
		return steps
	}
	taken := map[string]bool{}
	for _, s := range steps {
		taken[s.ID] = true
	}
	gateOf := map[string]string{} // irreversible step id → its gate
	before := map[string][]Step{} // step id → gates to insert right before it
	for _, g := range groups {
		first := steps[index[g.steps[0]]]
		id := GatePrefix + first.ID
		for n := 2; taken[id]; n++ {
			id = GatePrefix + first.ID + "_" + strconv.Itoa(n)
		}
		taken[id] = true
		var names, actions []string
		for _, sid := range g.steps {
			names = append(names, stepTitle(steps[index[sid]]))
			if a := steps[index[sid]].Action; !slices.Contains(actions, a) {
				actions = append(actions, a)
			}
		}
		msg := "Two-person rule: " + strings.Join(names, "; ") + " (" + strings.Join(actions, ", ") + ") cannot be undone. Containment that can be undone runs at once, without waiting for this; approve to let this run too, deny to leave it undone."
		expr := strconv.Quote(msg)
		if inputs["subject"] == TypeString {
			expr = strconv.Quote("Subject: ") + " + inputs.subject + " + strconv.Quote(". "+msg)
		}
		r := rule
		r.Roles = slices.Clone(rule.Roles)
		gate := Step{
			ID:           id,
			Name:         "Second person approves: " + strings.Join(names, "; "),
			Action:       ActionApproval,
			With:         []Arg{{Name: "message", Expr: expr}},
			Needs:        slices.Clone(first.Needs),
			If:           first.If,
			OnFailure:    OnFailureContinue,
			Builtin:      true,
			Approval:     &r,
			Timeout:      r.Timeout,
			Instructions: msg,
			Guards:       slices.Clone(g.steps),
		}
		if act, ok := LookupAction(ActionApproval); ok {
			for _, o := range act.Outputs {
				gate.Outputs = append(gate.Outputs, Output{Name: o.Name, Type: o.Type})
			}
		}
		for _, sid := range g.steps {
			gateOf[sid] = id
		}
		before[first.ID] = append(before[first.ID], gate)
	}
	out := make([]Step, 0, len(steps)+len(groups))
	for _, s := range steps {
		out = append(out, before[s.ID]...)
		if g, ok := gateOf[s.ID]; ok {
			s.Needs = append(slices.Clone(s.Needs), g)
		}
		out = append(out, s)
	}
	return out
}

// valueAt returns the value node at path in a YAML mapping (the playbook's root), or n itself
// when the path is not there, for a diagnostic's position.
func valueAt(n *yaml.Node, path ...string) *yaml.Node {
	at := n
	for _, key := range path {
		var next *yaml.Node
		for i := 0; at.Kind == yaml.MappingNode && i+1 < len(at.Content); i += 2 {
			if at.Content[i].Value == key {
				next = at.Content[i+1]
			}
		}
		if next == nil {
			return n
		}
		at = next
	}
	return at
}

// isGuard reports whether an approval.request step holds back the steps that need it: the
// interpreter skips them unless it was granted. Not a guard: an approval with a condition (when
// it is false the step is skipped with empty outputs and its dependents run), one that
// continues without approval when it times out (it succeeds, granted false), or one whose
// failure the playbook tolerates with on_failure: continue.
func isGuard(s Step) bool {
	return s.Action == ActionApproval && s.If == "" && s.OnFailure != OnFailureContinue &&
		s.Approval != nil && s.Approval.OnTimeout != OnTimeoutContinue
}

// Irreversible reports whether running action with the arguments with cannot be undone,
// by the catalog: the action is irreversible, or the argument it names in IrreversibleWith
// is given as anything but the literal false (an expression may be true at run time). An
// action the catalog does not know is not irreversible by it. The compiler marks steps with
// it; the interpreter checks it again, so a plan made by hand cannot drop the two-person rule.
func Irreversible(action string, with []Arg) bool {
	act, ok := LookupAction(action)
	if !ok {
		return false
	}
	if act.Irreversible {
		return true
	}
	if act.IrreversibleWith != "" {
		for _, a := range with {
			if a.Name == act.IrreversibleWith && a.Expr != "false" {
				return true
			}
		}
	}
	return false
}

// checkOnCall refuses an on-call approval rule in a playbook whose runs cannot have a
// PagerDuty incident: on-call is decided per the incident's escalation policy, so the
// playbook needs a PagerDuty trigger or an input named incident.
func (c *compiler) checkOnCall(root *yaml.Node, p *Plan, inputs map[string]Type) {
	if len(p.Triggers.PagerDuty) > 0 || inputs["incident"] == TypeString {
		return
	}
	const fix = "add a triggers.pagerduty rule or an input named incident (type string, a PagerDuty incident id)"
	if p.Approval != nil && p.Approval.OnCall {
		at := c.onCallAt
		if at == nil {
			at = root
		}
		c.d.add(at.Line, at.Column, "", "approval.on_call: on-call approvers are checked against the run's PagerDuty incident, but playbook %s cannot have one; %s", p.Name, fix)
		return
	}
	for _, s := range p.Steps {
		if s.Approval != nil && s.Approval.OnCall && len(s.Guards) == 0 {
			at := c.stepAt[s.ID]
			c.d.add(at.Line, at.Column, "", "step %s: on_call: on-call approvers are checked against the run's PagerDuty incident, but playbook %s cannot have one; %s", s.ID, p.Name, fix)
		}
	}
}
