package playbooks

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"google.golang.org/protobuf/types/known/structpb"
)

// costLimit bounds the work one expression evaluation may do.
const costLimit = 1_000_000

// celType maps a playbook type to its CEL type.
func celType(t Type) *cel.Type {
	switch t {
	case TypeString:
		return cel.StringType
	case TypeInt:
		return cel.IntType
	case TypeBool:
		return cel.BoolType
	case TypeStringList:
		return cel.ListType(cel.StringType)
	case TypeIntList:
		return cel.ListType(cel.IntType)
	case TypeMapList:
		return cel.ListType(cel.MapType(cel.StringType, cel.DynType))
	case TypeMap:
		return cel.MapType(cel.StringType, cel.DynType)
	default:
		return cel.DynType
	}
}

// scope is what an expression may refer to at compile time.
type scope struct {
	inputs map[string]Type            // input name → type
	steps  map[string]map[string]Type // visible step id → output name → type
	all    []string                   // every step id in the playbook, for did-you-mean
	item   *cel.Type                  // the element type in a foreach step; nil elsewhere
	vars   map[string]*cel.Type       // other top-level variables (incident in trigger conditions)
}

// run.* variables every expression may use.
var runVars = map[string]Type{"id": TypeString, "workflow_id": TypeString, "drill": TypeBool, "playbook": TypeString, "slack_channel": TypeString, "incident": TypeString, "started_by": TypeString}

var (
	baseEnvOnce sync.Once
	baseEnvVal  *cel.Env
	baseEnvErr  error
)

// baseEnv is the environment expressions are parsed in: standard macros, no variables. It is
// built once and never changed.
func baseEnv() (*cel.Env, error) {
	baseEnvOnce.Do(func() { baseEnvVal, baseEnvErr = cel.NewEnv(extensions()...) })
	return baseEnvVal, baseEnvErr
}

// extensions are the CEL libraries playbooks may use beyond the standard ones: string
// helpers (join, split, lowerAscii…), list helpers (flatten, distinct, sort…) and sets.
func extensions() []cel.EnvOption {
	return []cel.EnvOption{ext.Strings(), ext.Lists(), ext.Sets(),
		cel.Function(pathEscapeFunc, cel.Overload(pathEscapeFunc+"_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.Value().(string)
				if !ok {
					return celtypes.NewErr("pathEscape: expected a string, found %s", v.Type())
				}
				return celtypes.String(url.PathEscape(s))
			})))}
}

// env declares only what the expression refers to, so checking stays cheap in big playbooks.
func (s scope) env(refs map[string]bool) (*cel.Env, error) {
	var opts []cel.EnvOption
	for _, name := range keys(refs) {
		root, rest, _ := strings.Cut(name, ".")
		switch root {
		case "inputs":
			if t, ok := s.inputs[rest]; ok {
				opts = append(opts, cel.Variable(name, celType(t)))
			}
		case "run":
			if t, ok := runVars[rest]; ok {
				opts = append(opts, cel.Variable(name, celType(t)))
			}
		case "steps":
			outs, ok := s.steps[rest]
			if !ok {
				continue
			}
			opts = append(opts, cel.Variable("steps."+rest+".outputs", cel.MapType(cel.StringType, cel.DynType)))
			for _, o := range keys(outs) {
				opts = append(opts, cel.Variable("steps."+rest+".outputs."+o, celType(outs[o])))
			}
		case "item":
			if s.item != nil {
				opts = append(opts, cel.Variable("item", s.item))
			}
		case "item_index":
			if s.item != nil {
				opts = append(opts, cel.Variable("item_index", cel.IntType))
			}
		default:
			if t, ok := s.vars[root]; ok {
				opts = append(opts, cel.Variable(root, t))
			}
		}
	}
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	return base.Extend(opts...)
}

// staticCostLimit bounds the estimated worst-case cost of an expression at compile time,
// assuming lists and maps of at most maxListSize entries and strings of at most maxStringSize.
const (
	staticCostLimit = costLimit
	// maxListSize is an upper bound for inventories (tokens, keys, secrets of a few people),
	// small enough that one level of nesting (lists of per-item lists) stays under the limit.
	maxListSize   = 256
	maxStringSize = 4096
)

type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if n.Type() != nil && n.Type().Kind() == celtypes.StringKind {
		return &checker.SizeEstimate{Min: 0, Max: maxStringSize}
	}
	return &checker.SizeEstimate{Min: 0, Max: maxListSize}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// checkExpr type-checks expr in scope and returns its CEL output type, or a message that says
// what was wrong and, where it can, the nearest valid name.
func (s scope) checkExpr(expr string) (*cel.Type, string, string) {
	base, err := baseEnv()
	if err != nil {
		return nil, "internal: " + err.Error(), ""
	}
	parsed, iss := base.Parse(expr)
	if iss.Err() != nil {
		return nil, "invalid expression: " + firstLine(iss.Err().Error()), ""
	}
	refs := map[string]bool{}
	if msg, sugg := s.checkRefs(parsed.NativeRep().Expr(), refs); msg != "" {
		return nil, msg, sugg
	}
	env, err := s.env(refs)
	if err != nil {
		return nil, "internal: " + err.Error(), ""
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, "expression does not type-check: " + firstLine(iss.Err().Error()), ""
	}
	if msg := mapIteration(checked.NativeRep()); msg != "" {
		return nil, msg, ""
	}
	est, err := env.EstimateCost(checked, sizeEstimator{})
	if err == nil && est.Max > staticCostLimit {
		return nil, fmt.Sprintf("expression may cost up to %d evaluation steps on lists of %d items; the limit is %d — simplify it or split it over steps", est.Max, maxListSize, staticCostLimit), ""
	}
	return checked.OutputType(), "", ""
}

// mapIteration refuses macros (all, exists, map, filter…) that range over a map: Go maps have
// no order, so a result built from one could differ when the workflow replays.
func mapIteration(a *celast.AST) string {
	msg := ""
	var walk func(e celast.Expr)
	walk = func(e celast.Expr) {
		if msg != "" {
			return
		}
		switch e.Kind() {
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			if t := a.GetType(c.IterRange().ID()); t != nil && t.Kind() == celtypes.MapKind {
				msg = "iterating over a map is not allowed: its order is not fixed, and a workflow must decide the same way every time it replays; iterate over a list instead"
				return
			}
			walk(c.IterRange())
			walk(c.LoopStep())
			walk(c.Result())
		case celast.SelectKind:
			walk(e.AsSelect().Operand())
		case celast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				walk(c.Target())
			}
			for _, arg := range c.Args() {
				walk(arg)
			}
		case celast.ListKind:
			for _, el := range e.AsList().Elements() {
				walk(el)
			}
		case celast.MapKind:
			for _, en := range e.AsMap().Entries() {
				walk(en.AsMapEntry().Key())
				walk(en.AsMapEntry().Value())
			}
		}
	}
	walk(a.Expr())
	return msg
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, "ERROR: <input>:")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// checkRefs walks the parsed expression for references into inputs, steps and run, so an
// unknown name is reported with what exists instead of CEL's bare "undeclared reference".
func (s scope) checkRefs(e celast.Expr, refs map[string]bool) (string, string) {
	var msg, sugg string
	var walk func(e celast.Expr)
	walk = func(e celast.Expr) {
		if msg != "" {
			return
		}
		if path, ok := qualifiedName(e); ok {
			msg, sugg = s.checkPath(path)
			switch {
			case len(path) >= 2 && (path[0] == "inputs" || path[0] == "run" || path[0] == "steps"):
				refs[path[0]+"."+path[1]] = true
			default:
				refs[path[0]] = true
			}
			if msg != "" || len(path) > 0 {
				return
			}
		}
		switch e.Kind() {
		case celast.SelectKind:
			walk(e.AsSelect().Operand())
		case celast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				walk(c.Target())
			}
			for _, a := range c.Args() {
				walk(a)
			}
		case celast.ListKind:
			for _, el := range e.AsList().Elements() {
				walk(el)
			}
		case celast.MapKind:
			for _, en := range e.AsMap().Entries() {
				m := en.AsMapEntry()
				walk(m.Key())
				walk(m.Value())
			}
		case celast.ComprehensionKind:
			c := e.AsComprehension()
			walk(c.IterRange())
			walk(c.LoopStep())
			walk(c.Result())
		}
	}
	walk(e)
	return msg, sugg
}

// qualifiedName returns the dotted path of an identifier with field selections (a.b.c).
func qualifiedName(e celast.Expr) ([]string, bool) {
	switch e.Kind() {
	case celast.IdentKind:
		return []string{e.AsIdent()}, true
	case celast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return nil, false
		}
		p, ok := qualifiedName(sel.Operand())
		if !ok {
			return nil, false
		}
		return append(p, sel.FieldName()), true
	}
	return nil, false
}

func (s scope) checkPath(p []string) (string, string) {
	switch p[0] {
	case "inputs":
		if len(p) < 2 {
			return "use inputs.<name>, not inputs alone", ""
		}
		if _, ok := s.inputs[p[1]]; !ok {
			return fmt.Sprintf("unknown input %q; declared inputs: %s", p[1], keyList(s.inputs)), nearest(p[1], keys(s.inputs))
		}
	case "run":
		if len(p) < 2 {
			return "use run.<field>, not run alone", ""
		}
		if _, ok := runVars[p[1]]; !ok {
			return fmt.Sprintf("unknown run field %q; expected one of %s", p[1], keyList(runVars)), nearest(p[1], keys(runVars))
		}
	case "item", "item_index":
		if s.item == nil {
			return fmt.Sprintf("%s is only defined in the arguments of a step with foreach", p[0]), ""
		}
	case "steps":
		if len(p) < 3 || p[2] != "outputs" {
			return "expected steps.<id>.outputs.<name>", ""
		}
		outs, ok := s.steps[p[1]]
		if !ok {
			if slices.Contains(s.all, p[1]) {
				return fmt.Sprintf("step %q is used but not in this step's needs (directly or indirectly); add it to needs", p[1]), ""
			}
			return fmt.Sprintf("unknown step %q", p[1]), nearest(p[1], s.all)
		}
		if len(p) >= 4 {
			if _, ok := outs[p[3]]; !ok {
				return fmt.Sprintf("step %q has no output %q; its outputs are %s", p[1], p[3], keyList(outs)), nearest(p[3], keys(outs))
			}
		}
	}
	return "", ""
}

// keys is keys(m) in a form workflowcheck can be told about: the
// interpreter evaluates expressions, and workflowcheck flags maps.Keys, which iterates over
// the map, though the keys are sorted before anyone sees their order.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	//workflowcheck:ignore the keys are sorted before anyone sees their order
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// contains is slices.Contains under the name compile.go calls it by.

func keyList[V any](m map[string]V) string { return strings.Join(keys(m), ", ") }

// templateToCEL turns a YAML string that may hold ${{ expr }} parts into one CEL expression:
// a lone ${{ e }} keeps e's type; text mixed with expressions becomes string concatenation.
func templateToCEL(s string) (string, error) { return templateWith(s, "") }

// pathTemplateToCEL is templateToCEL for a URL path: every value interpolated among text is
// path-escaped, so "/v1/blocklist/${{ inputs.ip }}" stays one segment under /v1/blocklist
// whatever the input holds ("../admin" becomes "..%2Fadmin", "?" becomes "%3F").
func pathTemplateToCEL(s string) (string, error) { return templateWith(s, pathEscapeFunc) }

// pathEscapeFunc is the CEL function that path-escapes a string (url.PathEscape).
const pathEscapeFunc = "pathEscape"

func templateWith(s, escape string) (string, error) {
	trimmed := strings.TrimSpace(s)
	if strings.HasPrefix(trimmed, "${{") && strings.HasSuffix(trimmed, "}}") && strings.Count(trimmed, "${{") == 1 {
		inner := strings.TrimSpace(trimmed[3 : len(trimmed)-2])
		if inner == "" {
			return "", fmt.Errorf("empty expression ${{ }}")
		}
		return "(" + inner + ")", nil
	}
	var parts []string
	rest := s
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			if rest != "" || len(parts) == 0 {
				parts = append(parts, strconv.Quote(rest))
			}
			break
		}
		if i > 0 {
			parts = append(parts, strconv.Quote(rest[:i]))
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unterminated ${{ : expected }} to close the expression")
		}
		inner := strings.TrimSpace(rest[i+3 : i+j])
		if inner == "" {
			return "", fmt.Errorf("empty expression ${{ }}")
		}
		part := "string(" + inner + ")"
		if escape != "" {
			part = escape + "(" + part + ")"
		}
		parts = append(parts, part)
		rest = rest[i+j+2:]
	}
	return strings.Join(parts, " + "), nil
}

// Scope holds the values expressions see while a plan runs.
type Scope struct {
	Inputs  map[string]any            // input name → value
	Outputs map[string]map[string]any // step id → output name → value
	Run     map[string]any            // run.* fields
	Vars    map[string]any            // other top-level variables: item, item_index, incident
}

// Evaluator evaluates a plan's expressions. It keeps the CEL environment and each compiled
// program for reuse — compiling is what costs, evaluation is cheap — and nothing else, so two
// evaluations of one expression over the same scope give the same result: it is safe in
// workflow code. The zero value is ready to use; it is not safe for concurrent use.
type Evaluator struct {
	envs  map[string]*cel.Env    // by the sorted names of Scope.Vars
	progs map[string]cel.Program // by those names and the expression
}

// Eval evaluates a compiled expression against scope and returns a JSON-like Go value
// (string, bool, int64, float64, nil, []any, map[string]any). At run time inputs, run and
// steps are maps, so inputs.subject and steps.x.outputs.y select into them exactly as the
// compiler's typed declarations promised.
func (e *Evaluator) Eval(expr string, sc Scope) (any, error) {
	vars := keys(sc.Vars)
	envKey := strings.Join(vars, ",")
	prg, ok := e.progs[envKey+"\x00"+expr]
	//workflowcheck:ignore CEL's parser and checker iterate maps internally; the program depends only on expr and vars
	if !ok {
		env, err := e.env(envKey, vars)
		if err != nil {
			return nil, err
		}
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			return nil, fmt.Errorf("expression %s: %s", expr, firstLine(iss.Err().Error()))
		}
		if prg, err = env.Program(ast, cel.CostLimit(costLimit)); err != nil {
			return nil, err
		}
		if e.progs == nil {
			e.progs = map[string]cel.Program{}
		}
		e.progs[envKey+"\x00"+expr] = prg
	}
	steps := map[string]any{}
	for _, id := range keys(sc.Outputs) {
		steps[id] = map[string]any{"outputs": sc.Outputs[id]}
	}
	act := map[string]any{"inputs": orEmpty(sc.Inputs), "run": orEmpty(sc.Run), "steps": steps}
	for _, k := range vars {
		act[k] = sc.Vars[k]
	}
	out, _, err := prg.Eval(act) //workflowcheck:ignore CEL evaluation is a pure function of the program and act
	if err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", expr, err)
	}
	native, err := out.ConvertToNative(reflect.TypeOf(&structpb.Value{}))
	if err != nil {
		return nil, fmt.Errorf("evaluating %s: result is not plain data: %w", expr, err)
	}
	return normalize(native.(*structpb.Value).AsInterface()), nil //workflowcheck:ignore AsInterface copies a map; order does not matter
}

func (e *Evaluator) env(key string, vars []string) (*cel.Env, error) {
	if env, ok := e.envs[key]; ok {
		return env, nil
	}
	dynMap := cel.MapType(cel.StringType, cel.DynType)
	opts := append(extensions(), cel.Variable("inputs", dynMap), cel.Variable("run", dynMap), cel.Variable("steps", dynMap))
	for _, v := range vars {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, err
	}
	if e.envs == nil {
		e.envs = map[string]*cel.Env{}
	}
	e.envs[key] = env
	return env, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// normalize turns integral float64s back into int64, as JSON loses the distinction.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case map[string]any:
		//workflowcheck:ignore each value is normalised in place; order does not matter
		for k := range x {
			x[k] = normalize(x[k])
		}
		return x
	}
	return v
}

// assignable reports whether a value of CEL type got may be passed where want is expected;
// lists and maps of dyn (an empty literal [], a value from a foreach item) are accepted where
// a list or map of a concrete type is expected, and checked when the action runs.
func assignable(want, got *cel.Type) bool {
	if got.Kind() == celtypes.DynKind || want.IsAssignableType(got) {
		return true
	}
	if want.Kind() != got.Kind() || len(want.Parameters()) != len(got.Parameters()) {
		return false
	}
	for i, p := range got.Parameters() {
		if p.Kind() != celtypes.DynKind && !assignable(want.Parameters()[i], p) {
			return false
		}
	}
	return true
}
