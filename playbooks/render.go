package playbooks

import (
	"fmt"
	"strings"
	"time"
)

// Mermaid renders the plan's step graph as a Mermaid flowchart. Destructive steps are drawn
// as hexagons, people's steps (approvals, manual steps) as rounded boxes, verifications as
// stadiums.
func (p *Plan) Mermaid() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flowchart TD\n")
	for _, s := range p.Steps {
		label := mermaidEscape(stepTitle(s) + "\n" + s.Action + fanout(s) + gateNote(s))
		open, close := "[", "]"
		switch {
		case s.Destructive:
			open, close = "{{", "}}"
		case s.Builtin && s.Action != ActionWait:
			open, close = "(", ")"
		case s.Verifies:
			open, close = "([", "])"
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", s.ID, open, label, close)
	}
	for _, s := range p.Steps {
		for _, n := range s.Needs {
			if s.If != "" {
				fmt.Fprintf(&b, "  %s -. if .-> %s\n", n, s.ID)
			} else {
				fmt.Fprintf(&b, "  %s --> %s\n", n, s.ID)
			}
		}
	}
	return b.String()
}

// DOT renders the plan's step graph in Graphviz DOT.
func (p *Plan) DOT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n", p.Name)
	for _, s := range p.Steps {
		attrs := []string{fmt.Sprintf("label=%q", stepTitle(s)+"\n"+s.Action+fanout(s)+gateNote(s))}
		switch {
		case s.Destructive:
			attrs = append(attrs, "shape=hexagon", "color=red")
		case s.Builtin && s.Action != ActionWait:
			attrs = append(attrs, "shape=box", "style=rounded", "color=blue")
		case s.Verifies:
			attrs = append(attrs, "shape=ellipse", "color=darkgreen")
		}
		fmt.Fprintf(&b, "  %q [%s];\n", s.ID, strings.Join(attrs, ", "))
	}
	for _, s := range p.Steps {
		for _, n := range s.Needs {
			style := ""
			if s.If != "" {
				style = " [style=dashed, label=\"if\"]"
			}
			fmt.Fprintf(&b, "  %q -> %q%s;\n", n, s.ID, style)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// gateNote marks two-person gates and the irreversible steps in graph labels.
func gateNote(s Step) string {
	switch {
	case len(s.Guards) > 0:
		return "\n(two-person gate)"
	case s.Irreversible:
		return "\n(cannot be undone)"
	}
	return ""
}

func mermaidEscape(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return strings.ReplaceAll(s, "\n", "<br/>")
}

func stepTitle(s Step) string {
	if s.Name != "" {
		return s.Name
	}
	return s.ID
}

func fanout(s Step) string {
	if s.Foreach == "" {
		return ""
	}
	if s.Concurrency > 0 {
		return fmt.Sprintf(" ×each (%d at a time)", s.Concurrency)
	}
	return " ×each"
}

// Explain renders a one-page Markdown quick reference: what the playbook does, who may
// start and approve it, its inputs and triggers, every step (with what people must do),
// how it escalates and what it tells stakeholders.
func (p *Plan) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s (`%s`)\n\n", p.Title, p.Name)
	fmt.Fprintf(&b, "**Severity:** %s", p.Severity)
	if p.Version != "" {
		fmt.Fprintf(&b, " · **Version:** %s", p.Version)
	}
	if len(p.Owners) > 0 {
		fmt.Fprintf(&b, " · **Owners:** %s", strings.Join(p.Owners, ", "))
	}
	fmt.Fprintf(&b, " · **Source:** `%s` (sha256 %.12s)\n\n", p.SourceFile, p.SourceSHA256)
	if p.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(p.Description))
	}

	b.WriteString("## Roles\n\n")
	fmt.Fprintf(&b, "- May start: %s\n", listOr(p.Roles.Start, "anyone allowed to run firebreak"))
	fmt.Fprintf(&b, "- May approve: %s\n", listOr(escalationRoles(p), "nobody named (no approval steps)"))
	if p.Approval != nil && len(p.Approval.Roles) > 0 {
		fmt.Fprintf(&b, "- Approval: %d of [%s] within %s; on timeout: %s\n", p.Approval.Count, strings.Join(p.Approval.Roles, ", "), time.Duration(p.Approval.Timeout), p.Approval.OnTimeout)
	}
	if p.TwoPersonOptOut {
		b.WriteString("- Two-person rule: **opted out** (approval.two_person: false) — irreversible steps run without a second person.\n")
	} else {
		b.WriteString("- Two-person rule: steps that cannot be undone wait for a second person's approval; reversible containment runs at once.\n")
	}
	if rule := p.Approval; rule != nil && rule.OnCall {
		b.WriteString("- Approvers must be on call in PagerDuty for the run's incident.\n")
	}
	b.WriteString("- Nobody approves their own request.\n\n")

	if len(p.Inputs) > 0 {
		b.WriteString("## Inputs\n\n| name | type | required | default | description |\n| --- | --- | --- | --- | --- |\n")
		for _, in := range p.Inputs {
			req := ""
			if in.Required {
				req = "yes"
			}
			desc := in.Description
			if len(in.Enum) > 0 {
				desc += " (one of " + strings.Join(in.Enum, ", ") + ")"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", in.Name, in.Type, req, codeOr(in.Default), desc)
		}
		b.WriteString("\n")
	}

	if t := p.Triggers; t.Slash != nil || len(t.PagerDuty) > 0 || len(t.Schedule) > 0 {
		b.WriteString("## Triggers\n\n")
		if t.Slash != nil {
			fmt.Fprintf(&b, "- Slack: `%s %s`\n", t.Slash.Command, strings.Join(angle(t.Slash.Args), " "))
		}
		for _, m := range t.PagerDuty {
			var parts []string
			for _, kv := range [][2]string{{"service", m.Service}, {"priority", m.Priority}, {"urgency", m.Urgency}} {
				if kv[1] != "" {
					parts = append(parts, kv[0]+"="+kv[1])
				}
			}
			if m.Condition != "" {
				parts = append(parts, "when `"+m.Condition+"`")
			}
			fmt.Fprintf(&b, "- PagerDuty incident: %s\n", strings.Join(parts, ", "))
		}
		for _, s := range t.Schedule {
			fmt.Fprintf(&b, "- Drill on schedule `%s` (UTC)\n", s.Cron)
		}
		b.WriteString("\n")
	}

	b.WriteString("## Steps\n\n")
	for i, s := range p.Steps {
		var tags []string
		if s.Destructive {
			tags = append(tags, "**changes systems**")
		}
		if s.Irreversible {
			tags = append(tags, "**cannot be undone**")
		}
		if len(s.Guards) > 0 {
			tags = append(tags, "two-person gate (added by the compiler) before "+strings.Join(s.Guards, ", "))
		}
		if s.Verifies {
			tags = append(tags, "verifies")
		}
		if s.Foreach != "" {
			tags = append(tags, "for each of `"+s.Foreach+"`"+strings.TrimPrefix(fanout(s), " ×each"))
		}
		if s.If != "" {
			tags = append(tags, "only if `"+s.If+"`")
		}
		if len(s.Needs) > 0 {
			tags = append(tags, "after "+strings.Join(s.Needs, ", "))
		}
		if s.OnFailure != OnFailureAbort {
			tags = append(tags, "on failure: "+s.OnFailure)
		}
		fmt.Fprintf(&b, "%d. **%s** — `%s`", i+1, stepTitle(s), s.Action)
		if len(tags) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(tags, "; "))
		}
		b.WriteString("\n")
		switch s.Action {
		case ActionManual:
			fmt.Fprintf(&b, "   - 🙋 **%s** does this and confirms it: %s\n", s.Assignee, argText(s, "instructions"))
		case ActionApproval:
			fmt.Fprintf(&b, "   - 🙋 %d approval(s) from [%s] within %s, else %s: %s\n", s.Approval.Count, strings.Join(s.Approval.Roles, ", "), time.Duration(s.Approval.Timeout), s.Approval.OnTimeout, argText(s, "message"))
		}
		if s.Compensate != nil {
			fmt.Fprintf(&b, "   - undo if the run aborts: `%s`\n", s.Compensate.Action)
		}
	}
	b.WriteString("\n## Escalation\n\n")
	var esc []string
	for _, s := range p.Steps {
		if s.OnFailure == OnFailureEscalate {
			esc = append(esc, s.ID)
		}
		if s.Approval != nil && s.Approval.OnTimeout == OnTimeoutEscalate {
			esc = append(esc, s.ID+" (approval timeout)")
		}
	}
	if len(esc) > 0 {
		fmt.Fprintf(&b, "- Escalates to [%s] when %s fails; they approve to carry on or deny to abort.\n", strings.Join(escalationRoles(p), ", "), strings.Join(esc, ", "))
	}
	b.WriteString("- Any failed step that is not `continue` or `escalate` aborts the run; steps that need it are skipped")
	hasUndo := false
	for _, s := range p.Steps {
		hasUndo = hasUndo || s.Compensate != nil
	}
	if hasUndo {
		b.WriteString(" and the undos above run, latest first")
	}
	b.WriteString(".\n- Progress goes to the run's Slack thread and PagerDuty incident; reporting never holds up containment.\n\n")

	if len(p.Notify) > 0 {
		b.WriteString("## Communication templates\n\n")
		for _, n := range p.Notify {
			fmt.Fprintf(&b, "- **%s** (on %s", n.Name, strings.Join(n.On, ", "))
			if n.Audience != "" {
				fmt.Fprintf(&b, "; for %s", n.Audience)
			}
			fmt.Fprintf(&b, "): %s\n", n.Template)
		}
		b.WriteString("\n")
	}
	if len(p.Expect) > 0 {
		b.WriteString("## Done means\n\n")
		for _, e := range p.Expect {
			fmt.Fprintf(&b, "- %s\n", e.Name)
		}
	}
	return b.String()
}

func argText(s Step, _ string) string {
	return strings.Join(strings.Fields(s.Instructions), " ")
}

func listOr(xs []string, fallback string) string {
	if len(xs) == 0 {
		return fallback
	}
	return strings.Join(xs, ", ")
}

func codeOr(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func angle(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = "<" + x + ">"
	}
	return out
}
