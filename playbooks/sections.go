package playbooks

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// section is a top-level key of a playbook: whether a playbook must have it, and how the
// compiler decodes and checks its value into the plan.
type section struct {
	key      string
	required bool
	decode   func(c *compiler, e kv, b *build)
}

// build is the plan one compile is building and what its sections share.
type build struct {
	root   *yaml.Node
	p      *Plan
	inputs map[string]Type // each input's type, for the expressions of later sections
	final  *scope          // every step, for end-of-run expressions; made on first use
}

// finalScope is what end-of-run expressions (outputs, notify, expect) see: every step.
func (b *build) finalScope(c *compiler) scope {
	if b.final == nil {
		sc := c.finalScope(b.inputs, b.p.Steps)
		b.final = &sc
	}
	return *b.final
}

// sections are the top-level keys in the order the compiler decodes them, which is also the
// order diagnostics list them in: a section sees what earlier ones put in the plan (steps see
// the inputs' types and the approval rule; outputs, notify and expect see every step).
var sections = []section{
	{key: "name", required: true, decode: func(c *compiler, e kv, b *build) {
		b.p.Name = c.scalar(e, "name")
		if b.p.Name != "" && !namePattern.MatchString(b.p.Name) {
			c.d.add(e.val.Line, e.val.Column, "", "name %q: expected lower-case letters, digits and dashes, starting with a letter", b.p.Name)
		}
	}},
	{key: "title", required: true, decode: func(c *compiler, e kv, b *build) { b.p.Title = c.scalar(e, "title") }},
	{key: "description", decode: func(c *compiler, e kv, b *build) { b.p.Description = c.scalar(e, "description") }},
	{key: "severity", required: true, decode: func(c *compiler, e kv, b *build) {
		b.p.Severity = c.scalar(e, "severity")
		if b.p.Severity != "" && !slices.Contains(severities, b.p.Severity) {
			c.d.add(e.val.Line, e.val.Column, nearest(b.p.Severity, severities), "severity %q: expected one of %s", b.p.Severity, strings.Join(severities, ", "))
		}
	}},
	{key: "version", decode: func(c *compiler, e kv, b *build) { b.p.Version = c.scalar(e, "version") }},
	{key: "owners", decode: func(c *compiler, e kv, b *build) { b.p.Owners = c.strings(e.val, "owners") }},
	{key: "inputs", decode: func(c *compiler, e kv, b *build) { b.p.Inputs = c.inputs(e.val, b.inputs) }},
	{key: "roles", decode: func(c *compiler, e kv, b *build) { b.p.Roles = c.roles(e.val) }},
	{key: "approval", decode: func(c *compiler, e kv, b *build) { b.p.Approval = c.approval(e.val, "approval", b.p) }},
	{key: "triggers", decode: func(c *compiler, e kv, b *build) { b.p.Triggers = c.triggers(e.val, b.p.Inputs, b.inputs) }},
	{key: "steps", required: true, decode: func(c *compiler, e kv, b *build) {
		b.p.Steps = c.steps(e.val, b.inputs, b.p)
		if c.d.errors() == 0 {
			b.p.Steps = c.twoPerson(b.root, b.p, b.inputs)
		}
		c.checkOnCall(b.root, b.p, b.inputs)
	}},
	{key: "outputs", decode: func(c *compiler, e kv, b *build) { b.p.Outputs = c.outputs(e.val, b.finalScope(c)) }},
	{key: "notify", decode: func(c *compiler, e kv, b *build) { b.p.Notify = c.notify(e.val, b.inputs, b.finalScope(c)) }},
	{key: "expect", decode: func(c *compiler, e kv, b *build) { b.p.Expect = c.expect(e.val, b.finalScope(c)) }},
}

// sectionKeys are the keys of sections, in order: the keys a playbook may have.
func sectionKeys() []string {
	keys := make([]string, len(sections))
	for i, s := range sections {
		keys[i] = s.key
	}
	return keys
}

// scalar is the string value of the top-level key e, reporting anything else.
func (c *compiler) scalar(e kv, key string) string {
	if e.val.Kind != yaml.ScalarNode {
		c.d.add(e.val.Line, e.val.Column, "", "playbook.%s: expected a string, found %s", key, kindName(e.val))
		return ""
	}
	return e.val.Value
}
