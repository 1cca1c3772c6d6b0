package playbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"gopkg.in/yaml.v3"
)

var (
	rolePattern    = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)
	slashPattern   = regexp.MustCompile(`^/[a-z0-9][a-z0-9_-]*$`)
	priorityPat    = regexp.MustCompile(`^P[0-9]$`)
	urgencies      = []string{"high", "low"}
	notifyEvents   = []string{NotifyStarted, NotifyApproval, NotifyEscalated, NotifyContained, NotifyFailed, NotifyFinished}
	rolesKeys      = []string{"start", "approve"}
	approvalKeys   = []string{"count", "roles", "timeout", "on_timeout", "on_call", "two_person"}
	triggerKeys    = []string{"slash", "pagerduty", "schedule"}
	slashKeys      = []string{"command", "args"}
	pagerdutyKeys  = []string{"service", "priority", "urgency", "condition", "inputs"}
	scheduleKeys   = []string{"cron", "inputs"}
	notifyKeys     = []string{"name", "on", "audience", "text"}
	onTimeoutNames = []string{OnTimeoutAbort, OnTimeoutContinue, OnTimeoutEscalate}
)

// knownRoles lists every role the playbook names in roles and approval.
func knownRoles(p *Plan) []string {
	var out []string
	add := func(rs []string) {
		for _, r := range rs {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	add(p.Roles.Start)
	add(p.Roles.Approve)
	if p.Approval != nil {
		add(p.Approval.Roles)
	}
	return out
}

func (c *compiler) roleList(n *yaml.Node, what string) []string {
	var out []string
	for _, r := range c.strings(n, what) {
		if !rolePattern.MatchString(r) {
			c.d.add(n.Line, n.Column, "", "%s: role %q: expected lower-case letters, digits, dots, dashes and underscores", what, r)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (c *compiler) roles(n *yaml.Node) Roles {
	f := c.fields(n, "roles", rolesKeys)
	var r Roles
	if e, ok := f["start"]; ok {
		r.Start = c.roleList(e.val, "roles.start")
	}
	if e, ok := f["approve"]; ok {
		r.Approve = c.roleList(e.val, "roles.approve")
	}
	return r
}

// approval compiles the playbook's approval rule.
func (c *compiler) approval(n *yaml.Node, what string, p *Plan) *ApprovalRule {
	f := c.fields(n, what, approvalKeys)
	rule := &ApprovalRule{Count: 1, Timeout: Duration(time.Hour), OnTimeout: OnTimeoutAbort}
	if e, ok := f["count"]; ok {
		v, err := strconv.Atoi(e.val.Value)
		if err != nil || v < 1 || v > 10 {
			c.d.add(e.val.Line, e.val.Column, "", "%s.count: expected a whole number from 1 to 10, found %q", what, e.val.Value)
		} else {
			rule.Count = v
		}
	}
	if e, ok := f["roles"]; ok {
		rule.Roles = c.roleList(e.val, what+".roles")
	}
	if e, ok := f["timeout"]; ok {
		if d, err := time.ParseDuration(e.val.Value); err != nil || d <= 0 {
			c.d.add(e.val.Line, e.val.Column, "", "%s.timeout: expected a positive duration like 15m, found %q", what, e.val.Value)
		} else {
			rule.Timeout = Duration(d)
		}
	}
	if e, ok := f["on_timeout"]; ok {
		if !slices.Contains(onTimeoutNames, e.val.Value) {
			c.d.add(e.val.Line, e.val.Column, nearest(e.val.Value, onTimeoutNames), "%s.on_timeout: expected abort, continue or escalate, found %q", what, e.val.Value)
		} else {
			rule.OnTimeout = e.val.Value
		}
	}
	if e, ok := f["on_call"]; ok {
		rule.OnCall = c.boolean(e.val, what+".on_call")
		c.onCallAt = e.val
	}
	if e, ok := f["two_person"]; ok {
		p.TwoPersonOptOut = !c.boolean(e.val, what+".two_person")
		c.twoPersonAt = e.val
	}
	return rule
}

// boolean reads a literal true or false.
func (c *compiler) boolean(n *yaml.Node, what string) bool {
	b, err := strconv.ParseBool(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		c.d.add(n.Line, n.Column, "", "%s: expected true or false, found %s", what, kindName(n))
	}
	return b
}

func (c *compiler) triggers(n *yaml.Node, decls []Input, types map[string]Type) Triggers {
	f := c.fields(n, "triggers", triggerKeys)
	var t Triggers
	names := make([]string, len(decls))
	for i, d := range decls {
		names[i] = d.Name
	}
	if e, ok := f["slash"]; ok {
		sf := c.fields(e.val, "triggers.slash", slashKeys)
		st := &SlashTrigger{Command: c.str(sf, "command", "triggers.slash", true)}
		if cmd, ok := sf["command"]; !ok || !slashPattern.MatchString(st.Command) {
			at := e.val
			if ok {
				at = cmd.val
			}
			c.d.add(at.Line, at.Column, "", "triggers.slash.command: expected a slash command like /revoke-dev, found %q", st.Command)
		}
		if a, ok := sf["args"]; ok {
			for _, it := range a.val.Content {
				if !slices.Contains(names, it.Value) {
					c.d.add(it.Line, it.Column, nearest(it.Value, names), "triggers.slash.args: %q is not an input; %s", it.Value, inputList(names))
				}
			}
			st.Args = c.strings(a.val, "triggers.slash.args")
		}
		t.Slash = st
	}
	if e, ok := f["pagerduty"]; ok {
		if e.val.Kind != yaml.SequenceNode {
			c.d.add(e.val.Line, e.val.Column, "", "triggers.pagerduty: expected a list of match rules, found %s", kindName(e.val))
		} else {
			for _, mn := range e.val.Content {
				t.PagerDuty = append(t.PagerDuty, c.pagerdutyMatch(mn, decls, types))
			}
		}
	}
	if e, ok := f["schedule"]; ok {
		if e.val.Kind != yaml.SequenceNode {
			c.d.add(e.val.Line, e.val.Column, "", "triggers.schedule: expected a list of {cron, inputs}, found %s", kindName(e.val))
		} else {
			for _, sn := range e.val.Content {
				t.Schedule = append(t.Schedule, c.schedule(sn, decls))
			}
		}
	}
	return t
}

// MatchIncident reports whether an incident matches the rule and, when it does, the playbook
// inputs its inputs mapping gives. The incident is a map with at least service, priority
// and urgency (strings); the condition and input expressions see all of it as incident.
func (m PagerDutyMatch) MatchIncident(incident map[string]any) (bool, map[string]any, error) {
	field := func(k string) string { s, _ := incident[k].(string); return s }
	if (m.Service != "" && m.Service != field("service")) || (m.Priority != "" && m.Priority != field("priority")) || (m.Urgency != "" && m.Urgency != field("urgency")) {
		return false, nil, nil
	}
	var ev Evaluator
	sc := Scope{Vars: map[string]any{"incident": incident}}
	if m.Condition != "" {
		v, err := ev.Eval(m.Condition, sc)
		if err != nil {
			return false, nil, fmt.Errorf("pagerduty match condition: %w", err)
		}
		if b, _ := v.(bool); !b {
			return false, nil, nil
		}
	}
	inputs := map[string]any{}
	for _, a := range m.Inputs {
		v, err := ev.Eval(a.Expr, sc)
		if err != nil {
			return false, nil, fmt.Errorf("pagerduty match input %s: %w", a.Name, err)
		}
		inputs[a.Name] = v
	}
	return true, inputs, nil
}

// BindSlash maps the text of a slash command onto raw inputs: each of Args takes one word in
// order, and the last takes the rest of the text.
func (s SlashTrigger) BindSlash(text string) map[string]string {
	out := map[string]string{}
	rest := strings.TrimSpace(text)
	for i, name := range s.Args {
		if rest == "" {
			break
		}
		if i == len(s.Args)-1 {
			out[name] = rest
			break
		}
		word, tail, _ := strings.Cut(rest, " ")
		out[name] = word
		rest = strings.TrimSpace(tail)
	}
	return out
}

func (c *compiler) pagerdutyMatch(n *yaml.Node, decls []Input, types map[string]Type) PagerDutyMatch {
	f := c.fields(n, "triggers.pagerduty", pagerdutyKeys)
	m := PagerDutyMatch{
		Service:  c.str(f, "service", "triggers.pagerduty", false),
		Priority: c.str(f, "priority", "triggers.pagerduty", false),
		Urgency:  c.str(f, "urgency", "triggers.pagerduty", false),
	}
	if e, ok := f["priority"]; ok && !priorityPat.MatchString(m.Priority) {
		c.d.add(e.val.Line, e.val.Column, "", "triggers.pagerduty.priority: expected a PagerDuty priority like P1, found %q", m.Priority)
	}
	if e, ok := f["urgency"]; ok && !slices.Contains(urgencies, m.Urgency) {
		c.d.add(e.val.Line, e.val.Column, nearest(m.Urgency, urgencies), "triggers.pagerduty.urgency: expected high or low, found %q", m.Urgency)
	}
	sc := scope{vars: map[string]*cel.Type{"incident": cel.MapType(cel.StringType, cel.DynType)}}
	if e, ok := f["condition"]; ok {
		if expr, err := nodeToCEL(e.val); err != nil {
			line, col := c.errPos(e.val, err)
			c.d.add(line, col, "", "triggers.pagerduty.condition: %v", err)
		} else if t, msg, sugg := sc.checkExpr(expr); msg != "" {
			c.d.add(e.val.Line, e.val.Column, sugg, "triggers.pagerduty.condition: %s", msg)
		} else if t != cel.BoolType && t != cel.DynType {
			c.d.add(e.val.Line, e.val.Column, "", "triggers.pagerduty.condition: expected a bool expression over incident, found %s", t)
		} else {
			m.Condition = expr
		}
	}
	if e, ok := f["inputs"]; ok && e.val.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(e.val.Content); i += 2 {
			k, v := e.val.Content[i], e.val.Content[i+1]
			t, declared := types[k.Value]
			if !declared {
				c.d.add(k.Line, k.Column, nearest(k.Value, keys(types)), "triggers.pagerduty.inputs: %q is not an input; inputs are %s", k.Value, keyList(types))
				continue
			}
			expr, err := nodeToCEL(v)
			if err != nil {
				line, col := c.errPos(v, err)
				c.d.add(line, col, "", "triggers.pagerduty.inputs.%s: %v", k.Value, err)
				continue
			}
			got, msg, sugg := sc.checkExpr(expr)
			if msg != "" {
				c.d.add(v.Line, v.Column, sugg, "triggers.pagerduty.inputs.%s: %s", k.Value, msg)
				continue
			}
			if !assignable(celType(t), got) {
				c.d.add(v.Line, v.Column, "", "triggers.pagerduty.inputs.%s: expected %s, found %s", k.Value, t, got)
				continue
			}
			m.Inputs = append(m.Inputs, Arg{Name: k.Value, Expr: expr})
		}
		sortArgs(m.Inputs)
	} else if ok {
		c.d.add(e.val.Line, e.val.Column, "", "triggers.pagerduty.inputs: expected a mapping of input name to expression over incident, found %s", kindName(e.val))
	}
	return m
}

func (c *compiler) schedule(n *yaml.Node, decls []Input) Schedule {
	f := c.fields(n, "triggers.schedule", scheduleKeys)
	s := Schedule{Cron: c.str(f, "cron", "triggers.schedule", true)}
	if e, ok := f["cron"]; !ok {
		c.d.add(n.Line, n.Column, "", "triggers.schedule: missing required key \"cron\"")
	} else if err := ValidateCron(s.Cron); err != nil {
		c.d.add(e.val.Line, e.val.Column, "", "triggers.schedule.cron: %v", err)
	}
	given := map[string]bool{}
	if e, ok := f["inputs"]; ok {
		if e.val.Kind != yaml.MappingNode {
			c.d.add(e.val.Line, e.val.Column, "", "triggers.schedule.inputs: expected a mapping of input name to value, found %s", kindName(e.val))
		} else {
			s.Inputs = map[string]string{}
			var names []string
			for _, d := range decls {
				names = append(names, d.Name)
			}
			for i := 0; i+1 < len(e.val.Content); i += 2 {
				k, v := e.val.Content[i], e.val.Content[i+1]
				var decl *Input
				for j := range decls {
					if decls[j].Name == k.Value {
						decl = &decls[j]
					}
				}
				if decl == nil {
					c.d.add(k.Line, k.Column, nearest(k.Value, names), "triggers.schedule.inputs: %q is not an input; inputs are %s", k.Value, strings.Join(names, ", "))
					continue
				}
				raw := v.Value
				if v.Kind == yaml.SequenceNode {
					var parts []string
					for _, it := range v.Content {
						parts = append(parts, it.Value)
					}
					raw = strings.Join(parts, ",")
				}
				if _, err := decl.Value(raw); err != nil {
					c.d.add(v.Line, v.Column, err.suggestion, "triggers.schedule.inputs.%s: %s", k.Value, err.msg)
					continue
				}
				given[k.Value] = true
				s.Inputs[k.Value] = raw
			}
		}
	}
	for _, d := range decls {
		if d.Required && !given[d.Name] && d.Name != "subject" {
			c.d.add(n.Line, n.Column, "", "triggers.schedule: a scheduled drill needs a value for required input %q; add it under inputs", d.Name)
		}
	}
	return s
}

func (c *compiler) outputs(n *yaml.Node, sc scope) []NamedExpr {
	if n.Kind != yaml.MappingNode {
		c.d.add(n.Line, n.Column, "", "outputs: expected a mapping of output name to expression, found %s", kindName(n))
		return nil
	}
	var out []NamedExpr
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !identPattern.MatchString(k.Value) {
			c.d.add(k.Line, k.Column, "", "output %q: expected lower-case letters, digits and underscores", k.Value)
			continue
		}
		expr, err := nodeToCEL(v)
		if err != nil {
			line, col := c.errPos(v, err)
			c.d.add(line, col, "", "output %s: %v", k.Value, err)
			continue
		}
		if _, msg, sugg := sc.checkExpr(expr); msg != "" {
			c.d.add(v.Line, v.Column, sugg, "output %s: %s", k.Value, msg)
			continue
		}
		out = append(out, NamedExpr{Name: k.Value, Expr: expr})
	}
	return out
}

func (c *compiler) notify(n *yaml.Node, inputs map[string]Type, all scope) []Notify {
	if n.Kind != yaml.SequenceNode {
		c.d.add(n.Line, n.Column, "", "notify: expected a list of {name, on, audience, text}, found %s", kindName(n))
		return nil
	}
	var out []Notify
	seen := map[string]bool{}
	for _, en := range n.Content {
		f := c.fields(en, "notify", notifyKeys)
		nt := Notify{Name: c.str(f, "name", "notify", true), Audience: c.str(f, "audience", "notify", false)}
		if nt.Name == "" || !identPattern.MatchString(nt.Name) {
			c.d.add(en.Line, en.Column, "", "notify: each template needs a name of lower-case letters, digits and underscores, found %q", nt.Name)
			continue
		}
		if seen[nt.Name] {
			c.d.add(en.Line, en.Column, "", "notify: template name %q is used twice", nt.Name)
		}
		seen[nt.Name] = true
		if e, ok := f["on"]; ok {
			items := []*yaml.Node{e.val}
			if e.val.Kind == yaml.SequenceNode {
				items = e.val.Content
			}
			for _, it := range items {
				if !slices.Contains(notifyEvents, it.Value) {
					c.d.add(it.Line, it.Column, nearest(it.Value, notifyEvents), "notify %s: on: unknown event %q; expected one of %s", nt.Name, it.Value, strings.Join(notifyEvents, ", "))
					continue
				}
				nt.On = append(nt.On, it.Value)
			}
		} else {
			c.d.add(en.Line, en.Column, "", "notify %s: missing required key \"on\" (one or more of %s)", nt.Name, strings.Join(notifyEvents, ", "))
		}
		e, ok := f["text"]
		if !ok {
			c.d.add(en.Line, en.Column, "", "notify %s: missing required key \"text\"", nt.Name)
			continue
		}
		expr, err := nodeToCEL(e.val)
		if err != nil {
			line, col := c.errPos(e.val, err)
			c.d.add(line, col, "", "notify %s: text: %v", nt.Name, err)
			continue
		}
		// A message sent when the run starts can only use inputs and run fields.
		sc := all
		if len(nt.On) == 1 && nt.On[0] == NotifyStarted {
			sc = scope{inputs: inputs, all: all.all}
		}
		t, msg, sugg := sc.checkExpr(expr)
		if msg != "" {
			c.d.add(e.val.Line, e.val.Column, sugg, "notify %s: text: %s", nt.Name, msg)
			continue
		}
		if t != cel.StringType && t != cel.DynType {
			c.d.add(e.val.Line, e.val.Column, "", "notify %s: text: expected a string, found %s", nt.Name, t)
			continue
		}
		nt.Text, nt.Template = expr, strings.TrimSpace(e.val.Value)
		out = append(out, nt)
	}
	return out
}

// cronFields are the five fields of a cron expression with their bounds.
var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 6}}

// ValidateCron checks a five-field cron expression (minute hour day-of-month month
// day-of-week; numbers, *, ranges a-b, steps /n and lists a,b) and says what is wrong.
func ValidateCron(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Errorf("expected five fields (minute hour day-of-month month day-of-week), found %d in %q", len(fields), expr)
	}
	for i, f := range fields {
		spec := cronFields[i]
		for _, part := range strings.Split(f, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				n, err := strconv.Atoi(step)
				if err != nil || n < 1 || n > spec.max+1 {
					return fmt.Errorf("%s field %q: expected a step from 1 to %d after /", spec.name, part, spec.max+1)
				}
			}
			if rng == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			a, err := strconv.Atoi(lo)
			if err != nil || a < spec.min || a > spec.max {
				return fmt.Errorf("%s field %q: expected *, or numbers from %d to %d", spec.name, part, spec.min, spec.max)
			}
			if isRange {
				b, err := strconv.Atoi(hi)
				if err != nil || b < a || b > spec.max {
					return fmt.Errorf("%s field %q: expected a range a-b with %d ≤ a ≤ b ≤ %d", spec.name, part, spec.min, spec.max)
				}
			}
		}
	}
	return nil
}

func inputList(names []string) string {
	if len(names) == 0 {
		return "the playbook declares no inputs"
	}
	return "inputs are " + strings.Join(names, ", ")
}
