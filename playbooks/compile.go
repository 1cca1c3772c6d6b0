package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/secretscan"
	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"gopkg.in/yaml.v3"
)

// MaxSourceBytes bounds the size of a playbook file.
const MaxSourceBytes = 1 << 20

var (
	namePattern  = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	identPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	severities   = []string{"low", "medium", "high", "critical"}
	inputTypes   = map[string]Type{"string": TypeString, "int": TypeInt, "bool": TypeBool, "duration": TypeString, "email": TypeString, "user": TypeString, "list": TypeStringList}
	topKeys      = sectionKeys()
	inputKeys    = []string{"type", "description", "required", "default", "pattern", "enum"}
	stepKeys     = []string{"id", "name", "action", "with", "needs", "if", "foreach", "concurrency", "retry", "timeout", "on_failure", "compensate"}
	retryKeys    = []string{"attempts", "interval", "backoff", "max_interval", "for", "non_retryable"}
	onFailures   = []string{OnFailureAbort, OnFailureContinue, OnFailureEscalate}
	expectKeys   = []string{"name", "that"}
	yamlErrLine  = regexp.MustCompile(`line (\d+)`)
)

// MaxDepth bounds how deeply a playbook's YAML may nest.
const MaxDepth = 32

// MaxNodes bounds how many YAML values a playbook may hold.
const MaxNodes = 200_000

// Option changes how Compile treats a source.
type Option func(*compileOptions)

type compileOptions struct{ oneAction bool }

// OneAction compiles the generated playbook of `firebreak action run`: one catalog action run
// on its own, which may read without changing or verifying anything (an inventory), since the
// person asked for exactly that.
func OneAction() Option { return func(o *compileOptions) { o.oneAction = true } }

// Compile parses, validates and compiles one playbook. file names the source in diagnostics.
// On failure the error is a *CompileError listing every problem found; warnings that do not
// stop compilation are returned in Plan.Warnings.
func Compile(file string, src []byte, opts ...Option) (*Plan, error) {
	var o compileOptions
	for _, opt := range opts {
		opt(&o)
	}
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
	if len(doc.Content) > 1 {
		d.add(doc.Content[1].Line, doc.Content[1].Column, "", "expected one YAML document per file, found more")
	}
	// Aliases could expand a small file into a huge one (a "YAML bomb"); playbooks are
	// reviewed by people, so every value is written out.
	nodes := 0
	var walk func(n *yaml.Node, depth int) bool
	walk = func(n *yaml.Node, depth int) bool {
		nodes++
		switch {
		case n.Kind == yaml.AliasNode:
			d.add(n.Line, n.Column, "", "YAML alias *%s: aliases are not allowed in playbooks; write the value out so reviewers see it", n.Value)
			return false
		case depth > MaxDepth:
			d.add(n.Line, n.Column, "", "values nest %d levels deep; expected at most %d", depth, MaxDepth)
			return false
		case nodes > MaxNodes:
			d.add(n.Line, n.Column, "", "playbook holds more than %d values; expected a smaller playbook", MaxNodes)
			return false
		}
		for _, ch := range n.Content {
			if !walk(ch, depth+1) {
				return false
			}
		}
		return true
	}
	if !walk(doc.Content[0], 0) {
		return fail()
	}
	scanCredentials(d, doc.Content[0], "", "")
	c := &compiler{d: d, opts: o, lines: strings.Split(string(src), "\n")}
	plan := c.compile(doc.Content[0])
	if d.errors() > 0 {
		return fail()
	}
	sum := sha256.Sum256(src)
	plan.SourceFile = file
	plan.SourceSHA256 = hex.EncodeToString(sum[:])
	plan.CompilerVersion = CompilerVersion
	plan.Warnings = d.sorted()
	return plan, nil
}

type compiler struct {
	d     *diags
	opts  compileOptions
	lines []string // the source, for positions inside values
	// stepAt holds each step's YAML node, for diagnostics about the plan as a whole.
	stepAt map[string]*yaml.Node
	// onCallAt and twoPersonAt are the approval rule's on_call and two_person values, if given.
	onCallAt, twoPersonAt *yaml.Node
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
		if allowed != nil && !slices.Contains(allowed, k.Value) {
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
	b := &build{root: root, p: &Plan{}, inputs: map[string]Type{}}
	for _, s := range sections {
		if _, ok := top[s.key]; s.required && !ok {
			c.d.add(root.Line, root.Column, "", "playbook: missing required key %q", s.key)
		}
	}
	for _, s := range sections {
		if e, ok := top[s.key]; ok {
			s.decode(c, e, b)
		}
	}
	c.policyWarnings(root, b.p)
	if e, ok := top["steps"]; ok && c.d.errors() == 0 && !c.opts.oneAction {
		c.checkPurpose(root, e.val, b.p)
	}
	return b.p
}

// checkPurpose refuses a playbook that neither changes nor verifies anything — a drill of it
// would pass while proving nothing — and warns when one changes systems but checks nothing
// afterwards (validate --strict and drills treat the warning as a failure).
func (c *compiler) checkPurpose(root, stepsNode *yaml.Node, p *Plan) {
	var changes, verifies []string
	for _, s := range p.Steps {
		switch {
		case s.Destructive || s.Action == ActionManual:
			changes = append(changes, s.ID)
		case s.Verifies:
			verifies = append(verifies, s.ID)
		}
	}
	at := stepsNode
	if len(p.Steps) == 0 {
		c.d.add(at.Line, at.Column, "", "steps: expected at least one step that changes a system (such as vault.revoke_tokens) or verifies one (such as vault.verify_revoked), found no steps")
		return
	}
	if len(changes) == 0 && len(verifies) == 0 {
		c.d.add(at.Line, at.Column, "", "steps: expected at least one step that changes a system (such as vault.revoke_tokens) or verifies one (such as vault.verify_revoked); found only steps that read or report (%s), so a run or drill would prove nothing", strings.Join(stepIDs(p.Steps), ", "))
		return
	}
	if len(changes) > 0 && len(verifies) == 0 && len(p.Expect) == 0 {
		p.Unverified = changes
		c.d.warn(root.Line, root.Column, "", "playbook %s changes systems (%s) but verifies nothing: add a verify step (such as vault.verify_revoked or awsiam.verify_contained) or an expect: assertion, so a run shows the change took effect", p.Name, strings.Join(changes, ", "))
	}
}

func stepIDs(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.ID
	}
	return out
}

// finalScope is what end-of-run expressions (expect, outputs, notify) see: every step.
func (c *compiler) finalScope(inputs map[string]Type, steps []Step) scope {
	visible := map[string]map[string]Type{}
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.ID)
		visible[s.ID] = stepOutputTypes(s)
	}
	return scope{inputs: inputs, steps: visible, all: ids}
}

// policyWarnings flags playbooks that compile but break a house rule.
func (c *compiler) policyWarnings(root *yaml.Node, p *Plan) {
	if p.Severity != "critical" || p.Approval != nil {
		return
	}
	var destructive []string
	for _, s := range p.Steps {
		if s.Action == ActionApproval {
			return
		}
		if s.Destructive {
			destructive = append(destructive, s.ID)
		}
	}
	if len(destructive) > 0 {
		c.d.warn(root.Line, root.Column, "", "playbook %s is critical and changes systems (%s) without an approval rule; add approval: {roles: [...]} (used by approval.request steps) or accept that containment runs unapproved", p.Name, strings.Join(destructive, ", "))
	}
}

func (c *compiler) inputs(n *yaml.Node, types map[string]Type) []Input {
	var out []Input
	if n.Kind != yaml.MappingNode {
		c.d.add(n.Line, n.Column, "", "inputs: expected a mapping of input name to its declaration, found %s", kindName(n))
		return nil
	}
	typeNames := keys(inputTypes)
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
				c.d.add(f["type"].val.Line, f["type"].val.Column, nearest(t, typeNames), "input %s: unknown type %q; expected one of %s", k.Value, t, strings.Join(typeNames, ", "))
			} else {
				in.Type = t
			}
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
				in.Pattern = ""
			}
		}
		if e, ok := f["enum"]; ok {
			in.Enum = c.strings(e.val, "input "+k.Value+": enum")
			if len(in.Enum) == 0 {
				c.d.add(e.val.Line, e.val.Column, "", "input %s: enum: expected at least one allowed value", k.Value)
			}
		}
		if e, ok := f["default"]; ok {
			if in.Required {
				c.d.add(e.val.Line, e.val.Column, "", "input %s: a required input cannot have a default; drop one of them", k.Value)
			} else if _, err := in.Value(in.Default); err != nil {
				c.d.add(e.val.Line, e.val.Column, err.suggestion, "input %s: default: %s", k.Value, err.msg)
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

func (c *compiler) steps(n *yaml.Node, inputs map[string]Type, p *Plan) []Step {
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
		if c.stepAt == nil {
			c.stepAt = map[string]*yaml.Node{}
		}
		c.stepAt[s.ID] = sn
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
		c.d.add(first.node.Line, first.node.Column, "", "steps form a dependency cycle: %s; remove one of these needs", strings.Join(cycle, " → "))
		// Keep checking every step (in declaration order) so all errors are reported at once.
		order = nodes
	}
	ancestors := map[string]map[string]bool{}
	for _, st := range order {
		anc := map[string]bool{}
		if cycle == nil { // topological order: each need's ancestors are known already
			for _, need := range st.step.Needs {
				anc[need] = true
				for a := range ancestors[need] {
					anc[a] = true
				}
			}
		} else { // a walk that tolerates the cycle
			queue := append([]string(nil), st.step.Needs...)
			for len(queue) > 0 {
				id := queue[0]
				queue = queue[1:]
				if anc[id] {
					continue
				}
				anc[id] = true
				queue = append(queue, byID[id].step.Needs...)
			}
		}
		ancestors[st.step.ID] = anc
	}
	var out []Step
	compiled := map[string]map[string]Type{} // step id → its output types, once compiled
	for _, st := range order {
		visible := make(map[string]map[string]Type, len(ancestors[st.step.ID]))
		for a := range ancestors[st.step.ID] {
			if t, ok := compiled[a]; ok {
				visible[a] = t
			} else {
				visible[a] = declaredOutputTypes(byID[a])
			}
		}
		sc := scope{inputs: inputs, steps: visible, all: ids}
		c.step(st, sc, ancestors[st.step.ID], byID, p)
		compiled[st.step.ID] = stepOutputTypes(st.step)
		out = append(out, st.step)
	}
	if cycle != nil {
		return nil
	}
	return out
}

// declaredOutputTypes is what a step not compiled yet (in a cycle) will output.
func declaredOutputTypes(st *stepNode) map[string]Type {
	act, ok := LookupAction(st.step.Action)
	if !ok {
		return nil
	}
	if _, fan := st.fields["foreach"]; fan {
		return map[string]Type{"items": TypeMapList, "failed": TypeInt}
	}
	m := map[string]Type{}
	for _, o := range act.Outputs {
		m[o.Name] = o.Type
	}
	return m
}

// stepOutputTypes is what expressions see of a compiled step's outputs; nil when its action
// is unknown (already reported), so references to it are not reported twice.
func stepOutputTypes(s Step) map[string]Type {
	if _, ok := LookupAction(s.Action); !ok {
		return nil
	}
	m := map[string]Type{}
	for _, o := range s.Outputs {
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

func (c *compiler) step(st *stepNode, sc scope, ancestors map[string]bool, byID map[string]*stepNode, p *Plan) {
	s := &st.step
	f := st.fields
	act, ok := LookupAction(s.Action)
	if !ok {
		if e, has := f["action"]; has {
			c.d.add(e.val.Line, e.val.Column, nearest(s.Action, actionNames(false)), "step %s: unknown action %q; `firebreak actions` lists the catalog", s.ID, s.Action)
		} else {
			c.d.add(st.node.Line, st.node.Column, "", "step %s: missing required key \"action\"", s.ID)
		}
		return
	}
	s.Destructive, s.Contains, s.Verifies, s.Builtin = act.Destructive, act.Contains, act.Verifies, act.Builtin
	s.Cuts = act.Cuts
	s.Retry, s.Timeout, s.Heartbeat = act.Retry, Duration(act.Timeout), Duration(act.Heartbeat)
	s.Idempotent = act.HasIdempotencyKey()
	s.Identity = act.IdentityArgName()

	// Fan-out: the list is evaluated in the step's scope; its elements are item.
	argScope := sc
	if e, has := f["foreach"]; has {
		expr, err := nodeToCEL(e.val)
		if err != nil {
			line, col := c.errPos(e.val, err)
			c.d.add(line, col, "", "step %s: foreach: %v", s.ID, err)
		} else if t, msg, sugg := sc.checkExpr(expr); msg != "" {
			c.d.add(e.val.Line, e.val.Column, sugg, "step %s: foreach: %s", s.ID, msg)
		} else if t.Kind() != celtypes.ListKind && t != cel.DynType {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: foreach: expected a list, found %s", s.ID, t)
		} else {
			s.Foreach = expr
			argScope.item = cel.DynType
			if t.Kind() == celtypes.ListKind && len(t.Parameters()) == 1 {
				argScope.item = t.Parameters()[0]
			}
		}
		if act.Builtin {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: foreach cannot fan out %s; it is carried out once", s.ID, act.Name)
		}
	}
	if e, has := f["concurrency"]; has {
		v, err := strconv.Atoi(e.val.Value)
		switch {
		case err != nil || v < 1 || v > 100:
			c.d.add(e.val.Line, e.val.Column, "", "step %s: concurrency: expected a whole number from 1 to 100, found %q", s.ID, e.val.Value)
		case !hasKey(f, "foreach"):
			c.d.add(e.key.Line, e.key.Column, "", "step %s: concurrency only applies to a step with foreach", s.ID)
		default:
			s.Concurrency = v
		}
	}
	if s.Foreach != "" {
		s.Outputs = []Output{{Name: "items", Type: TypeMapList}, {Name: "failed", Type: TypeInt}}
	} else {
		for _, o := range act.Outputs {
			s.Outputs = append(s.Outputs, Output{Name: o.Name, Type: o.Type})
		}
	}

	// Arguments.
	literals := map[string]*yaml.Node{}
	s.With = c.args(s.ID, act, f["with"], argScope, true, literals, st.node)
	c.builtin(st, act, literals, p)
	s.Irreversible = Irreversible(act.Name, s.With)

	if e, has := f["if"]; has {
		expr, err := nodeToCEL(e.val)
		if err == nil {
			t, msg, sugg := sc.checkExpr(expr)
			if msg != "" {
				c.d.add(e.val.Line, e.val.Column, sugg, "step %s: if: %s", s.ID, msg)
			} else if t != cel.BoolType && t != cel.DynType {
				c.d.add(e.val.Line, e.val.Column, "", "step %s: if: expected a bool expression, found %s", s.ID, t)
			}
			s.If = expr
		} else {
			line, col := c.errPos(e.val, err)
			c.d.add(line, col, "", "step %s: if: %v", s.ID, err)
		}
	}
	if e, has := f["timeout"]; has && (s.Action == ActionApproval || s.Action == ActionWait) {
		where := "its duration argument"
		if s.Action == ActionApproval {
			where = "with.timeout or the playbook's approval.timeout"
		}
		c.d.add(e.key.Line, e.key.Column, "", "step %s: timeout does not apply to %s; set %s instead", s.ID, s.Action, where)
	} else if has {
		if dur, err := time.ParseDuration(e.val.Value); err != nil || dur <= 0 {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: timeout: expected a positive duration like 30s or 5m, found %q", s.ID, e.val.Value)
		} else {
			s.Timeout = Duration(dur)
		}
	}
	if e, has := f["on_failure"]; has {
		if !slices.Contains(onFailures, e.val.Value) {
			c.d.add(e.val.Line, e.val.Column, nearest(e.val.Value, onFailures), "step %s: on_failure: expected abort, continue or escalate, found %q", s.ID, e.val.Value)
		}
		s.OnFailure = e.val.Value
		if s.OnFailure == OnFailureEscalate && len(escalationRoles(p)) == 0 {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: on_failure: escalate needs people to escalate to: set approval.roles or roles.approve", s.ID)
		}
	}
	if e, has := f["retry"]; has {
		if act.Builtin {
			c.d.add(e.key.Line, e.key.Column, "", "step %s: %s is carried out by the interpreter and is not retried; remove retry", s.ID, act.Name)
		}
		c.retry(s, e.val)
	}
	if e, has := f["compensate"]; has {
		s.Compensate = c.compensate(st, e.val, sc)
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

func hasKey(f map[string]kv, key string) bool {
	_, ok := f[key]
	return ok
}

func actionNames(includeBuiltin bool) []string {
	var names []string
	for _, a := range catalog {
		if includeBuiltin || !a.Builtin {
			names = append(names, a.Name)
		}
	}
	return names
}

// args compiles a with: mapping against an action's parameters. Literal parameters are
// collected in literals (by name) for the caller to check.
func (c *compiler) args(id string, act Action, e kv, sc scope, checkRequired bool, literals map[string]*yaml.Node, at *yaml.Node) []Arg {
	var out []Arg
	given := map[string]bool{}
	if e.val != nil {
		if e.val.Kind != yaml.MappingNode {
			c.d.add(e.val.Line, e.val.Column, "", "step %s: with: expected a mapping of argument name to value, found %s", id, kindName(e.val))
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
					c.d.add(k.Line, k.Column, nearest(k.Value, argNames), "step %s: action %s has no argument %q; expected %s", id, act.Name, k.Value, strings.Join(argNames, ", "))
					continue
				}
				if given[k.Value] {
					c.d.add(k.Line, k.Column, "", "step %s: argument %q is given twice", id, k.Value)
					continue
				}
				given[k.Value] = true
				if param.Literal {
					if hasTemplate(v) {
						c.d.add(v.Line, v.Column, "", "step %s: %s: expected a plain value the compiler can check, found an expression", id, k.Value)
						continue
					}
					literals[k.Value] = v
				}
				expr, err := nodeToCEL(v)
				if param.URLPath && v.Kind == yaml.ScalarNode {
					expr, err = pathTemplateToCEL(v.Value)
				}
				if err != nil {
					line, col := c.errPos(v, err)
					c.d.add(line, col, "", "step %s: %s: %v", id, k.Value, err)
					continue
				}
				t, msg, sugg := sc.checkExpr(expr)
				if msg != "" {
					c.d.add(v.Line, v.Column, sugg, "step %s: %s: %s", id, k.Value, msg)
					continue
				}
				if want := celType(param.Type); !assignable(want, t) {
					c.d.add(v.Line, v.Column, "", "step %s: %s: expected %s, found %s", id, k.Value, param.Type, t)
					continue
				}
				out = append(out, Arg{Name: k.Value, Expr: expr})
			}
		}
	}
	if checkRequired {
		for _, p := range act.Args {
			if p.Required && !given[p.Name] {
				c.d.add(at.Line, at.Column, "", "step %s: action %s needs argument %q (%s: %s)", id, act.Name, p.Name, p.Type, p.Doc)
			}
		}
	}
	sortArgs(out)
	return out
}

func hasTemplate(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${{") {
		return true
	}
	for _, ch := range n.Content {
		if hasTemplate(ch) {
			return true
		}
	}
	return false
}

// builtin checks the literal arguments of approval.request, manual and wait steps and
// records what the interpreter needs.
func (c *compiler) builtin(st *stepNode, act Action, lit map[string]*yaml.Node, p *Plan) {
	s := &st.step
	if w, ok := st.fields["with"]; ok && w.val.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(w.val.Content); i += 2 {
			if k := w.val.Content[i].Value; (k == "instructions" || k == "message") && act.Builtin {
				s.Instructions = strings.TrimSpace(w.val.Content[i+1].Value)
			}
		}
	}
	switch act.Name {
	case ActionApproval:
		rule := ApprovalRule{Count: 1, Timeout: Duration(time.Hour), OnTimeout: OnTimeoutAbort}
		if p.Approval != nil {
			rule = *p.Approval
			rule.Roles = append([]string(nil), p.Approval.Roles...)
		}
		if len(rule.Roles) == 0 {
			rule.Roles = append([]string(nil), p.Roles.Approve...)
		}
		if n, ok := lit["count"]; ok {
			v, err := strconv.Atoi(n.Value)
			if err != nil || v < 1 || v > 10 {
				c.d.add(n.Line, n.Column, "", "step %s: count: expected a whole number from 1 to 10, found %q", s.ID, n.Value)
			} else {
				rule.Count = v
			}
		}
		if n, ok := lit["roles"]; ok {
			rule.Roles = c.roleList(n, "step "+s.ID+": roles")
		}
		if n, ok := lit["timeout"]; ok {
			if d, err := time.ParseDuration(n.Value); err != nil || d <= 0 {
				c.d.add(n.Line, n.Column, "", "step %s: timeout: expected a positive duration like 15m, found %q", s.ID, n.Value)
			} else {
				rule.Timeout = Duration(d)
			}
		}
		if n, ok := lit["on_timeout"]; ok {
			opts := []string{OnTimeoutAbort, OnTimeoutContinue, OnTimeoutEscalate}
			if !slices.Contains(opts, n.Value) {
				c.d.add(n.Line, n.Column, nearest(n.Value, opts), "step %s: on_timeout: expected abort, continue or escalate, found %q", s.ID, n.Value)
			} else {
				rule.OnTimeout = n.Value
			}
		}
		if n, ok := lit["on_call"]; ok {
			rule.OnCall = c.boolean(n, "step "+s.ID+": on_call")
		}
		if len(rule.Roles) == 0 {
			c.d.add(st.node.Line, st.node.Column, "", "step %s: approval.request needs roles that may approve: give with.roles, approval.roles or roles.approve", s.ID)
		}
		s.Approval = &rule
		s.Timeout = rule.Timeout
	case ActionManual:
		if n, ok := lit["assignee"]; ok {
			if n.Kind != yaml.ScalarNode || !rolePattern.MatchString(n.Value) {
				c.d.add(n.Line, n.Column, "", "step %s: assignee: expected a role name like security-oncall, found %s", s.ID, kindName(n))
			} else {
				s.Assignee = n.Value
				if known := knownRoles(p); len(known) > 0 && !slices.Contains(known, n.Value) {
					c.d.warn(n.Line, n.Column, nearest(n.Value, known), "step %s: assignee %q is not among the playbook's roles (%s)", s.ID, n.Value, strings.Join(known, ", "))
				}
			}
		}
	case ActionWait:
		for _, a := range s.With {
			if a.Name != "duration" {
				continue
			}
			if lit, err := strconv.Unquote(a.Expr); err == nil {
				if d, err := time.ParseDuration(lit); err != nil || d <= 0 {
					n := st.fields["with"].val
					c.d.add(n.Line, n.Column, "", "step %s: duration: expected a positive duration like 10m, found %q", s.ID, lit)
				}
			}
		}
	}
}

// compensate compiles a step's undo: an action whose arguments may use the step's own outputs.
func (c *compiler) compensate(st *stepNode, n *yaml.Node, sc scope) *Compensation {
	s := &st.step
	f := c.fields(n, "step "+s.ID+": compensate", []string{"action", "with"})
	name := c.str(f, "action", "compensate", true)
	act, ok := LookupAction(name)
	if !ok || act.Builtin {
		at := n
		if e, has := f["action"]; has {
			at = e.val
		}
		c.d.add(at.Line, at.Column, nearest(name, actionNames(false)), "step %s: compensate: expected an action from the catalog that undoes this step, found %q", s.ID, name)
		return nil
	}
	own := sc
	own.steps = map[string]map[string]Type{s.ID: stepOutputTypes(*s)}
	for id, o := range sc.steps {
		own.steps[id] = o
	}
	own.item = nil
	with := c.args(s.ID+" (compensate)", act, f["with"], own, true, map[string]*yaml.Node{}, n)
	if Irreversible(act.Name, with) {
		// Compensation runs after an abort with nobody's approval, so it must be an undo
		// that can itself be undone.
		at := f["action"].val
		c.d.add(at.Line, at.Column, "", "step %s: compensate: %s cannot be undone, and compensation runs when the run aborts without anyone's approval; compensate with an action that can be undone (revoke, deactivate, disable), or make the irreversible change a step of its own, behind an approval.request", s.ID, act.Name)
		return nil
	}
	return &Compensation{Action: act.Name, With: with, Retry: act.Retry, Timeout: Duration(act.Timeout), Idempotent: act.HasIdempotencyKey()}
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
	for _, key := range []string{"interval", "max_interval", "for"} {
		if e, ok := f[key]; ok {
			dur, err := time.ParseDuration(e.val.Value)
			switch {
			case err != nil || dur <= 0:
				c.d.add(e.val.Line, e.val.Column, "", "step %s: retry.%s: expected a positive duration like 1s, found %q", s.ID, key, e.val.Value)
			case key == "for" && dur > MaxRetryFor:
				c.d.add(e.val.Line, e.val.Column, "", "step %s: retry.for: expected at most %s, found %s; a person should look before then", s.ID, MaxRetryFor, dur)
			case key == "interval":
				s.Retry.Initial = Duration(dur)
			case key == "max_interval":
				s.Retry.MaxInterval = Duration(dur)
			default:
				s.Retry.For = Duration(dur)
			}
		}
	}
	if e, ok := f["non_retryable"]; ok {
		s.Retry.NonRetryable = c.strings(e.val, "step "+s.ID+": retry.non_retryable")
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

func (c *compiler) expect(n *yaml.Node, sc scope) []Expectation {
	if n.Kind != yaml.SequenceNode {
		c.d.add(n.Line, n.Column, "", "expect: expected a list of {name, that}, found %s", kindName(n))
		return nil
	}
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
			line, col := c.errPos(that.val, err)
			c.d.add(line, col, "", "expect %q: %v", e.Name, err)
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
		if err := syntaxCheck(n); err != nil {
			return "", err
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

// scanCredentials reports every string in the playbook — keys and values, descriptions,
// input defaults, expect names, step arguments — that gitleaks' rule set takes for a
// credential. A value is scanned as "key: value", the way a secret scanner reads a YAML file,
// so rules that need the name beside the secret (aws_secret_access_key: …) apply too.
func scanCredentials(d *diags, n *yaml.Node, path, key string) {
	switch n.Kind {
	case yaml.ScalarNode:
		text := n.Value
		if key != "" {
			text = key + ": " + n.Value
		}
		if fs := secretscan.Find(text); len(fs) > 0 {
			where := path
			if where == "" {
				where = "playbook"
			}
			d.add(n.Line, n.Column, "", "%s: this string looks like a credential (gitleaks rule %s); secrets never belong in a playbook — reference them through inputs or Vault", where, fs[0].RuleID)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			scanCredentials(d, k, path, "")
			scanCredentials(d, v, joinPath(path, k.Value), k.Value)
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			label := strconv.Itoa(i)
			if it.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(it.Content); j += 2 {
					if k := it.Content[j]; (k.Value == "id" || k.Value == "name") && it.Content[j+1].Kind == yaml.ScalarNode && secretscan.Find(it.Content[j+1].Value) == nil {
						label = it.Content[j+1].Value
						break
					}
				}
			}
			scanCredentials(d, it, path+"["+label+"]", key)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// escalationRoles are the roles that decide escalations: the playbook's approvers.
func escalationRoles(p *Plan) []string {
	if p.Approval != nil && len(p.Approval.Roles) > 0 {
		return p.Approval.Roles
	}
	return p.Roles.Approve
}
