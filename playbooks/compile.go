package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"gopkg.in/yaml.v3"
)

// MaxSourceBytes bounds the size of a playbook file.
const MaxSourceBytes = 1 << 20

var (
	namePattern  = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	identPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	severities   = []string{"low", "medium", "high", "critical"}
	inputTypes   = map[string]Type{"string": TypeString, "int": TypeInt, "bool": TypeBool, "list": TypeStringList}
	topKeys      = []string{"name", "title", "description", "severity", "version", "owners", "inputs", "steps", "expect"}
	inputKeys    = []string{"type", "description", "required", "default", "pattern"}
	stepKeys     = []string{"id", "name", "action", "with", "needs", "if", "retry", "timeout", "on_failure"}
	retryKeys    = []string{"attempts", "interval", "backoff", "max_interval"}
	expectKeys   = []string{"name", "that"}
	yamlErrLine  = regexp.MustCompile(`line (\d+)`)
)

// Compile parses, validates and compiles one playbook. file names the source in diagnostics.
// On failure the error is a *CompileError listing every problem found.
func Compile(file string, src []byte) (*Plan, error) {
	d := &diags{file: file}
	fail := func() (*Plan, error) {
		return nil, &CompileError{File: file, Source: src, Diagnostics: d.sorted()}
	}
	if len(src) > MaxSourceBytes {
		d.add(1, 1, "", "playbook is %d bytes; expected at most %d", len(src), MaxSourceBytes)
		return fail()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line, msg := 1, err.Error()
		if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		d.add(line, 1, "", "malformed YAML: %s", strings.TrimPrefix(msg, "yaml: "))
		return fail()
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		d.add(1, 1, "", "expected a YAML mapping with name, title, severity, inputs and steps")
		return fail()
	}
	c := &compiler{d: d}
	plan := c.compile(doc.Content[0])
	if len(d.list) > 0 {
		return fail()
	}
	sum := sha256.Sum256(src)
	plan.SourceFile = file
	plan.SourceSHA256 = hex.EncodeToString(sum[:])
	plan.CompilerVersion = CompilerVersion
	return plan, nil
}

type compiler struct {
	d *diags
}

type kv struct {
	key *yaml.Node
	val *yaml.Node
}

// fields returns a mapping's entries, reporting unknown and duplicate keys.
func (c *compiler) fields(n *yaml.Node, what string, allowed []string) map[string]kv {
	out := map[string]kv{}
	if n.Kind != yaml.MappingNode {
		c.d.add(n.Line, n.Column, "", "%s: expected a mapping, found %s", what, kindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if allowed != nil && !contains(allowed, k.Value) {
			c.d.add(k.Line, k.Column, nearest(k.Value, allowed), "%s: unknown key %q; expected one of %s", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			c.d.add(k.Line, k.Column, "", "%s: key %q appears twice", what, k.Value)
			continue
		}
		out[k.Value] = kv{k, v}
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func (c *compiler) str(f map[string]kv, key, what string, required bool) string {
	e, ok := f[key]
	if !ok {
		return ""
	}
	if e.val.Kind != yaml.ScalarNode {
		c.d.add(e.val.Line, e.val.Column, "", "%s.%s: expected a string, found %s", what, key, kindName(e.val))
		return ""
	}
	return e.val.Value
}

func (c *compiler) strings(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		c.d.add(n.Line, n.Column, "", "%s: expected a list of strings, found %s", what, kindName(n))
		return nil
	}
	var out []string
	for _, it := range n.Content {
		if it.Kind != yaml.ScalarNode {
			c.d.add(it.Line, it.Column, "", "%s: expected a string, found %s", what, kindName(it))
			continue
		}
		out = append(out, it.Value)
	}
	return out
}

func (c *compiler) compile(root *yaml.Node) *Plan {
	top := c.fields(root, "playbook", topKeys)
	p := &Plan{
		Name:        c.str(top, "name", "playbook", true),
		Title:       c.str(top, "title", "playbook", true),
		Description: c.str(top, "description", "playbook", false),
		Severity:    c.str(top, "severity", "playbook", true),
		Version:     c.str(top, "version", "playbook", false),
	}
	for _, req := range []string{"name", "title", "severity", "steps"} {
		if _, ok := top[req]; !ok {
			c.d.add(root.Line, root.Column, "", "playbook: missing required key %q", req)
		}
	}
	if e, ok := top["name"]; ok && p.Name != "" && !namePattern.MatchString(p.Name) {
		c.d.add(e.val.Line, e.val.Column, "", "name %q: expected lower-case letters, digits and dashes, starting with a letter", p.Name)
	}
	if e, ok := top["severity"]; ok && p.Severity != "" && !contains(severities, p.Severity) {
		c.d.add(e.val.Line, e.val.Column, nearest(p.Severity, severities), "severity %q: expected one of %s", p.Severity, strings.Join(severities, ", "))
	}
	if e, ok := top["owners"]; ok {
		p.Owners = c.strings(e.val, "owners")
	}
	inputs := map[string]Type{}
	if e, ok := top["inputs"]; ok {
		p.Inputs = c.inputs(e.val, inputs)
	}
	if e, ok := top["steps"]; ok {
		p.Steps = c.steps(e.val, inputs)
	}
	if e, ok := top["expect"]; ok {
		p.Expect = c.expect(e.val, inputs, p.Steps)
	}
	return p
}

func (c *compiler) inputs(n *yaml.Node, types map[string]Type) []Input {
	var out []Input
	if n.Kind != yaml.MappingNode {
		c.d.add(n.Line, n.Column, "", "inputs: expected a mapping of input name to its declaration, found %s", kindName(n))
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !identPattern.MatchString(k.Value) {
			c.d.add(k.Line, k.Column, "", "input %q: expected lower-case letters, digits and underscores", k.Value)
			continue
		}
		f := c.fields(v, "input "+k.Value, inputKeys)
		in := Input{Name: k.Value, Type: "string", Description: c.str(f, "description", "input", false), Default: c.str(f, "default", "input", false), Pattern: c.str(f, "pattern", "input", false)}
		if t := c.str(f, "type", "input", false); t != "" {
			if _, ok := inputTypes[t]; !ok {
				c.d.add(f["type"].val.Line, f["type"].val.Column, nearest(t, keys(inputTypes)), "input %s: unknown type %q; expected one of %s", k.Value, t, keyList(inputTypes))
			}
			in.Type = t
		}
		if r := c.str(f, "required", "input", false); r != "" {
			b, err := strconv.ParseBool(r)
			if err != nil {
				c.d.add(f["required"].val.Line, f["required"].val.Column, "", "input %s: required: expected true or false, found %q", k.Value, r)
			}
			in.Required = b
		}
		if in.Pattern != "" {
			if _, err := regexp.Compile(in.Pattern); err != nil {
				c.d.add(f["pattern"].val.Line, f["pattern"].val.Column, "", "input %s: pattern is not a valid regular expression: %v", k.Value, err)
			}
		}
		if _, ok := types[k.Value]; ok {
			c.d.add(k.Line, k.Column, "", "input %q is declared twice", k.Value)
		}
		types[k.Value] = inputTypes[in.Type]
		out = append(out, in)
	}
	return out
}

type stepNode struct {
	step   Step
	node   *yaml.Node
	fields map[string]kv
	with   []kv
}

func (c *compiler) steps(n *yaml.Node, inputs map[string]Type) []Step {
	if n.Kind != yaml.SequenceNode {
		c.d.add(n.Line, n.Column, "", "steps: expected a list of steps, found %s", kindName(n))
		return nil
	}
	var nodes []*stepNode
	byID := map[string]*stepNode{}
	var ids []string
	for _, sn := range n.Content {
		f := c.fields(sn, "step", stepKeys)
		s := Step{ID: c.str(f, "id", "step", true), Name: c.str(f, "name", "step", false), Action: c.str(f, "action", "step", true), OnFailure: OnFailureAbort}
		if s.ID == "" {
			c.d.add(sn.Line, sn.Column, "", "step: missing required key \"id\"")
			continue
		}
		idNode := f["id"].val
		if !identPattern.MatchString(s.ID) {
			c.d.add(idNode.Line, idNode.Column, "", "step id %q: expected lower-case letters, digits and underscores, so expressions can name it", s.ID)
		}
		if _, dup := byID[s.ID]; dup {
			c.d.add(idNode.Line, idNode.Column, "", "step id %q is used twice; step ids must be unique", s.ID)
			continue
		}
		st := &stepNode{step: s, node: sn, fields: f}
		byID[s.ID] = st
		ids = append(ids, s.ID)
		nodes = append(nodes, st)
	}
	// Needs, then order, then per-step checks that depend on what each step can see.
	for _, st := range nodes {
		if e, ok := st.fields["needs"]; ok {
			items := []*yaml.Node{e.val}
			if e.val.Kind == yaml.SequenceNode {
				items = e.val.Content
			}
			for _, it := range items {
				if it.Kind != yaml.ScalarNode {
					c.d.add(it.Line, it.Column, "", "step %s: needs: expected step ids, found %s", st.step.ID, kindName(it))
					continue
				}
				if _, ok := byID[it.Value]; !ok {
					c.d.add(it.Line, it.Column, nearest(it.Value, ids), "step %s: needs unknown step %q", st.step.ID, it.Value)
					continue
				}
				if it.Value == st.step.ID {
					c.d.add(it.Line, it.Column, "", "step %s needs itself", st.step.ID)
					continue
				}
				st.step.Needs = append(st.step.Needs, it.Value)
			}
		}
	}
	order, cycle := topoSort(nodes, byID)
	if cycle != nil {
		first := byID[cycle[0]]
		c.d.add(first.node.Line, first.node.Column, "", "steps form a dependency cycle: %s", strings.Join(cycle, " → "))
		return nil
	}
	ancestors := map[string]map[string]bool{}
	for _, st := range order {
		anc := map[string]bool{}
		for _, need := range st.step.Needs {
			anc[need] = true
			for a := range ancestors[need] {
				anc[a] = true
			}
		}
		ancestors[st.step.ID] = anc
	}
	var out []Step
	for _, st := range order {
		visible := map[string]map[string]Type{}
		for a := range ancestors[st.step.ID] {
			if act, ok := LookupAction(byID[a].step.Action); ok {
				visible[a] = outputTypes(act)
			}
		}
		sc := scope{inputs: inputs, steps: visible, all: ids}
		c.step(st, sc, ancestors[st.step.ID], byID)
		out = append(out, st.step)
	}
	return out
}

func outputTypes(a Action) map[string]Type {
	m := map[string]Type{}
	for _, o := range a.Outputs {
		m[o.Name] = o.Type
	}
	return m
}

// topoSort orders steps so each comes after its needs, keeping declaration order where free.
// On a cycle it returns the step ids along it.
func topoSort(nodes []*stepNode, byID map[string]*stepNode) ([]*stepNode, []string) {
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var out []*stepNode
	var stack []string
	var cycle []string
	var visit func(st *stepNode) bool
	visit = func(st *stepNode) bool {
		switch state[st.step.ID] {
		case 1:
			for i, id := range stack {
				if id == st.step.ID {
					cycle = append(append([]string{}, stack[i:]...), st.step.ID)
				}
			}
			return false
		case 2:
			return true
		}
		state[st.step.ID] = 1
		stack = append(stack, st.step.ID)
		for _, need := range st.step.Needs {
			if !visit(byID[need]) {
				return false
			}
		}
		stack = stack[:len(stack)-1]
		state[st.step.ID] = 2
		out = append(out, st)
		return true
	}
	for _, st := range nodes {
		if !visit(st) {
			return nil, cycle
		}
	}
	return out, nil
}

func (c *compiler) step(st *stepNode, sc scope, ancestors map[string]bool, byID map[string]*stepNode) {
	s := &st.step
	f := st.fields
	act, ok := LookupAction(s.Action)
	if !ok {
		if e, has := f["action"]; has {
			names := make([]string, len(catalog))
			for i, a := range catalog {
				names[i] = a.Name
			}
			c.d.add(e.val.Line, e.val.Column, nearest(s.Action, names), "step %s: unknown action %q; `firebreak actions` lists the catalog", s.ID, s.Action)
		} else {
			c.d.add(st.node.Line, st.node.Column, "", "step %s: missing required key \"action\"", s.ID)
		}
		return
	}
	s.Destructive, s.Contains, s.Verifies = act.Destructive, act.Contains, act.Verifies
	s.Retry, s.Timeout = act.Retry, Duration(act.Timeout)
	s.Idempotent = act.HasIdempotencyKey()
	for _, o := range act.Outputs {
		s.Outputs = append(s.Outputs, Output{Name: o.Name, Type: o.Type})
	}

	// Arguments.
	given := map[string]bool{}
	if e, has := f["with"]; has {
		if e.val.Kind != yaml.MappingNode {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: with: expected a mapping of argument name to value, found %s", s.ID, kindName(e.val))
		} else {
			var argNames []string
			for _, p := range act.Args {
				if !p.Internal {
					argNames = append(argNames, p.Name)
				}
			}
			for i := 0; i+1 < len(e.val.Content); i += 2 {
				k, v := e.val.Content[i], e.val.Content[i+1]
				param, known := act.arg(k.Value)
				if !known || param.Internal {
					c.d.add(k.Line, k.Column, nearest(k.Value, argNames), "step %s: action %s has no argument %q; expected %s", s.ID, act.Name, k.Value, strings.Join(argNames, ", "))
					continue
				}
				if given[k.Value] {
					c.d.add(k.Line, k.Column, "", "step %s: argument %q is given twice", s.ID, k.Value)
					continue
				}
				given[k.Value] = true
				expr, err := nodeToCEL(v)
				if err != nil {
					c.d.add(v.Line, v.Column, "", "step %s: %s: %v", s.ID, k.Value, err)
					continue
				}
				if looksLikeCredential(v) {
					c.d.add(v.Line, v.Column, "", "step %s: %s: this literal looks like a credential; secrets never belong in a playbook — reference them through inputs or Vault", s.ID, k.Value)
					continue
				}
				t, msg, sugg := sc.checkExpr(expr)
				if msg != "" {
					c.d.add(v.Line, v.Column, sugg, "step %s: %s: %s", s.ID, k.Value, msg)
					continue
				}
				if want := celType(param.Type); !want.IsAssignableType(t) && t != cel.DynType {
					c.d.add(v.Line, v.Column, "", "step %s: %s: expected %s, found %s", s.ID, k.Value, param.Type, t)
					continue
				}
				s.With = append(s.With, Arg{Name: k.Value, Expr: expr})
			}
		}
	}
	for _, p := range act.Args {
		if p.Required && !given[p.Name] {
			c.d.add(st.node.Line, st.node.Column, "", "step %s: action %s needs argument %q (%s: %s)", s.ID, act.Name, p.Name, p.Type, p.Doc)
		}
	}
	sortArgs(s.With)

	if e, has := f["if"]; has {
		expr, err := nodeToCEL(e.val)
		if err == nil {
			var t *cel.Type
			var msg, sugg string
			t, msg, sugg = sc.checkExpr(expr)
			if msg != "" {
				c.d.add(e.val.Line, e.val.Column, sugg, "step %s: if: %s", s.ID, msg)
			} else if t != cel.BoolType && t != cel.DynType {
				c.d.add(e.val.Line, e.val.Column, "", "step %s: if: expected a bool expression, found %s", s.ID, t)
			}
			s.If = expr
		} else {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: if: %v", s.ID, err)
		}
	}
	if e, has := f["timeout"]; has {
		if dur, err := time.ParseDuration(e.val.Value); err != nil || dur <= 0 {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: timeout: expected a positive duration like 30s or 5m, found %q", s.ID, e.val.Value)
		} else {
			s.Timeout = Duration(dur)
		}
	}
	if e, has := f["on_failure"]; has {
		opts := []string{OnFailureAbort, OnFailureContinue}
		if !contains(opts, e.val.Value) {
			c.d.add(e.val.Line, e.val.Column, nearest(e.val.Value, opts), "step %s: on_failure: expected abort or continue, found %q", s.ID, e.val.Value)
		}
		s.OnFailure = e.val.Value
	}
	if e, has := f["retry"]; has {
		c.retry(s, e.val)
	}
	// Evidence before change: a destructive step must come after an evidence snapshot.
	if s.Destructive {
		snap := false
		for a := range ancestors {
			if byID[a].step.Action == "evidence.snapshot" {
				snap = true
			}
		}
		if !snap {
			c.d.add(st.node.Line, st.node.Column, "", "step %s: %s changes a system, so it must need (directly or indirectly) an evidence.snapshot step of what it changes", s.ID, s.Action)
		}
	}
}

func (c *compiler) retry(s *Step, n *yaml.Node) {
	f := c.fields(n, "step "+s.ID+": retry", retryKeys)
	if e, ok := f["attempts"]; ok {
		v, err := strconv.Atoi(e.val.Value)
		if err != nil || v < 1 || v > 100 {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: retry.attempts: expected a whole number from 1 to 100, found %q", s.ID, e.val.Value)
		} else {
			s.Retry.MaxAttempts = v
		}
	}
	for _, key := range []string{"interval", "max_interval"} {
		if e, ok := f[key]; ok {
			dur, err := time.ParseDuration(e.val.Value)
			if err != nil || dur <= 0 {
				c.d.add(e.val.Line, e.val.Column, "", "step %s: retry.%s: expected a positive duration like 1s, found %q", s.ID, key, e.val.Value)
			} else if key == "interval" {
				s.Retry.Initial = Duration(dur)
			} else {
				s.Retry.MaxInterval = Duration(dur)
			}
		}
	}
	if e, ok := f["backoff"]; ok {
		v, err := strconv.ParseFloat(e.val.Value, 64)
		if err != nil || v < 1 {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: retry.backoff: expected a number ≥ 1, found %q", s.ID, e.val.Value)
		} else {
			s.Retry.Backoff = v
		}
	}
}

func (c *compiler) expect(n *yaml.Node, inputs map[string]Type, steps []Step) []Expectation {
	if n.Kind != yaml.SequenceNode {
		c.d.add(n.Line, n.Column, "", "expect: expected a list of {name, that}, found %s", kindName(n))
		return nil
	}
	visible := map[string]map[string]Type{}
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.ID)
		if act, ok := LookupAction(s.Action); ok {
			visible[s.ID] = outputTypes(act)
		}
	}
	sc := scope{inputs: inputs, steps: visible, all: ids}
	var out []Expectation
	for _, en := range n.Content {
		f := c.fields(en, "expect", expectKeys)
		e := Expectation{Name: c.str(f, "name", "expect", true)}
		that, ok := f["that"]
		if !ok || e.Name == "" {
			c.d.add(en.Line, en.Column, "", "expect: each entry needs a name and a that (a bool expression)")
			continue
		}
		expr, err := nodeToCEL(that.val)
		if err != nil {
			c.d.add(that.val.Line, that.val.Column, "", "expect %q: %v", e.Name, err)
			continue
		}
		t, msg, sugg := sc.checkExpr(expr)
		if msg != "" {
			c.d.add(that.val.Line, that.val.Column, sugg, "expect %q: %s", e.Name, msg)
			continue
		}
		if t != cel.BoolType && t != cel.DynType {
			c.d.add(that.val.Line, that.val.Column, "", "expect %q: expected a bool expression, found %s", e.Name, t)
			continue
		}
		e.That = expr
		out = append(out, e)
	}
	return out
}

func sortArgs(a []Arg) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].Name < a[j-1].Name; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// nodeToCEL compiles a YAML value into one CEL expression: scalars become literals (strings may
// hold ${{ }} templates), lists become list literals and mappings map literals.
func nodeToCEL(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			return n.Value, nil
		case "!!bool":
			b, err := strconv.ParseBool(n.Value)
			if err != nil {
				return "", fmt.Errorf("expected true or false, found %q", n.Value)
			}
			return strconv.FormatBool(b), nil
		case "!!null":
			return "null", nil
		}
		return templateToCEL(n.Value)
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			e, err := nodeToCEL(it)
			if err != nil {
				return "", err
			}
			parts = append(parts, e)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			e, err := nodeToCEL(n.Content[i+1])
			if err != nil {
				return "", err
			}
			parts = append(parts, strconv.Quote(n.Content[i].Value)+": "+e)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	case yaml.AliasNode:
		return nodeToCEL(n.Alias)
	}
	return "", fmt.Errorf("expected a value, found %s", kindName(n))
}

var credentialPatterns = []*regexp.Regexp{
	regexp.MustCompile(`AKIA[0-9A-Z]{16}`),
	regexp.MustCompile(`xox[abprs]-[0-9A-Za-z-]{10,}`),
	regexp.MustCompile(`hvs\.[A-Za-z0-9_-]{20,}`),
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	regexp.MustCompile(`ghp_[A-Za-z0-9]{30,}`),
}

// looksLikeCredential reports whether a literal in the playbook has the shape of a secret.
func looksLikeCredential(n *yaml.Node) bool {
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			for _, re := range credentialPatterns {
				if re.MatchString(n.Value) {
					found = true
				}
			}
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(n)
	return found
}
