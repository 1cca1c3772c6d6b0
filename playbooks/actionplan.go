package playbooks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ActionStepID is the id of the step that carries out the action in a one-step plan.
const ActionStepID = "action"

// ActionPlanName is the name of the plan that runs one catalog action, e.g.
// "action-vault-revoke-tokens" for vault.revoke_tokens.
func ActionPlanName(action string) string {
	return ActionPlanPrefix + strings.NewReplacer(".", "-", "_", "-").Replace(action)
}

// inputTypeOf maps a catalog argument type to the playbook input type that carries it from
// the command line; "" means the value is a JSON literal written into the plan.
func inputTypeOf(t Type) string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeBool:
		return "bool"
	case TypeStringList:
		return "list"
	}
	return ""
}

// subjectArgs are the arguments that name whose state an action changes, in order of
// preference; the first one given becomes the evidence subject.
var subjectArgs = []string{"subject", "user", "entity_id", "prefix", "incident_id", "email", "channel"}

// DefaultApproveRole is the role whose members approve an irreversible single action when
// neither --approve-role nor FIREBREAK_APPROVE_ROLE names one: the bundled playbooks' approvers.
const DefaultApproveRole = "security-oncall"

// ActionGateID is the id of the two-person gate the compiler puts before an irreversible
// action step (GatePrefix + ActionStepID).
const ActionGateID = GatePrefix + ActionStepID

// ActionPlan compiles the plan that runs one catalog action with the raw key=value arguments
// of the command line: string, int, bool and list arguments become typed playbook inputs (so
// they are checked like any input), map and list-of-map arguments are JSON written into the
// plan. A destructive action is preceded by an evidence snapshot of the request (and, for
// IAM actions on a user, of the user's IAM state), as every playbook must.
//
// approveRoles are the roles that may approve: an action that cannot be undone (awsiam.
// rotate_key, vault.destroy_totp, …, or deactivate_mfa_devices with delete_virtual=true) is
// held by the two-person rule like any playbook step — the compiler puts the gate
// ActionGateID between the snapshot and the action, and someone holding one of these roles,
// other than the requester, must approve it. It returns the plan and the bound inputs.
func ActionPlan(name string, raw map[string]string, approveRoles []string) (*Plan, map[string]any, error) {
	act, ok := LookupAction(name)
	if !ok {
		var names []string
		for _, a := range Catalog() {
			if !a.Builtin {
				names = append(names, a.Name)
			}
		}
		return nil, nil, fmt.Errorf("unknown action %q; expected one of %s (see `firebreak actions`)", name, strings.Join(names, ", "))
	}
	if act.Builtin {
		return nil, nil, fmt.Errorf("%s is carried out by the interpreter inside a playbook (a person or a timer), not by an integration; it cannot run on its own", name)
	}
	var argNames []string
	for _, p := range act.Args {
		if !p.Internal {
			argNames = append(argNames, p.Name)
		}
	}
	inputs := map[string]any{}   // input name → declaration
	with := map[string]any{}     // argument → YAML value
	evidence := map[string]any{} // argument → YAML value, for the snapshot
	inputRaw := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		p, ok := act.Arg(k)
		if !ok || p.Internal {
			return nil, nil, fmt.Errorf("action %s has no argument %q; its arguments are %s", name, k, strings.Join(argNames, ", "))
		}
		if strings.Contains(raw[k], "${{") {
			return nil, nil, fmt.Errorf("argument %s: expressions (${{ }}) are not allowed in a single action; give the value itself", k)
		}
	}
	for _, p := range act.Args {
		if p.Internal {
			continue
		}
		v, given := raw[p.Name]
		if p.Name == act.IrreversibleWith && (v == "true" || v == "false") {
			// Written as a literal, so the compiler sees whether this run can be undone: a
			// delete_virtual=false run is reversible and needs no second person.
			with[p.Name], evidence[p.Name] = v == "true", v == "true"
			continue
		}
		if t := inputTypeOf(p.Type); t != "" {
			if t == "string" && (p.Name == "subject" || p.Name == "user") {
				t = "user" // whose state changes: the workflow refuses them as an approver
			}
			if !given && !p.Required {
				continue
			}
			inputs[p.Name] = map[string]any{"type": t, "required": p.Required, "description": p.Doc}
			if given {
				inputRaw[p.Name] = v
			}
			with[p.Name] = "${{ inputs." + p.Name + " }}"
			evidence[p.Name] = with[p.Name]
			continue
		}
		if !given {
			if p.Required {
				return nil, nil, fmt.Errorf("argument %s is required (%s, %s as JSON)", p.Name, p.Doc, p.Type)
			}
			continue
		}
		var lit any
		if err := json.Unmarshal([]byte(v), &lit); err != nil {
			return nil, nil, fmt.Errorf("argument %s: expected %s as JSON, e.g. %s; found %q", p.Name, p.Type, jsonExample(p.Type), v)
		}
		with[p.Name], evidence[p.Name] = lit, lit
	}

	step := map[string]any{"id": ActionStepID, "name": act.Summary, "action": name, "with": with}
	steps := []any{}
	if act.Destructive {
		subject := name
		for _, a := range subjectArgs {
			if _, ok := inputs[a]; ok {
				subject = "${{ string(inputs." + a + ") }}"
				break
			}
		}
		data := map[string]any{"action": name, "args": evidence}
		var needs []string
		if _, ok := inputs["user"]; ok && strings.HasPrefix(name, "awsiam.") {
			steps = append(steps, map[string]any{"id": "inventory", "name": "Record the user's IAM state", "action": "awsiam.inventory", "with": map[string]any{"user": "${{ inputs.user }}"}})
			data["iam"] = "${{ steps.inventory.outputs }}"
			needs = []string{"inventory"}
		}
		snap := map[string]any{"id": "snapshot", "name": "Snapshot evidence before " + name, "action": "evidence.snapshot",
			"with": map[string]any{"subject": subject, "kind": "pre-action", "data": data}}
		if needs != nil {
			snap["needs"] = needs
		}
		steps = append(steps, snap)
		step["needs"] = []string{"snapshot"}
	}
	if act.Preflight != "" {
		// What would make the action fail is checked before the gate asks anyone: the gate
		// has the action's needs, so a failed preflight leaves both undone.
		pre, _ := LookupAction(act.Preflight)
		pw := map[string]any{}
		for _, p := range pre.Args {
			if v, ok := with[p.Name]; ok {
				pw[p.Name] = v
			}
		}
		steps = append(steps, map[string]any{"id": "preflight", "name": pre.Summary, "action": act.Preflight, "with": pw})
		needs, _ := step["needs"].([]string)
		step["needs"] = append(needs, "preflight")
	}
	steps = append(steps, step)
	doc := map[string]any{
		"name": ActionPlanName(name), "title": "Single action " + name, "description": act.Summary,
		"severity": "high", "steps": steps,
	}
	if len(inputs) > 0 {
		doc["inputs"] = inputs
	}
	if len(approveRoles) > 0 {
		// Used only by the gate the compiler adds before an irreversible action.
		doc["roles"] = map[string]any{"approve": approveRoles}
	}
	src, err := yaml.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	plan, err := Compile("action:"+name, src, OneAction())
	if err != nil {
		if len(approveRoles) == 0 {
			return nil, nil, fmt.Errorf("%v\n(%s cannot be undone: name the role that approves it with --approve-role)", err, name)
		}
		return nil, nil, err
	}
	bound, err := plan.BindInputs(inputRaw)
	if err != nil {
		return nil, nil, err
	}
	return plan, bound, nil
}

func jsonExample(t Type) string {
	switch t {
	case TypeMapList:
		return `[{"mount":"secret","path":"shared/db"}]`
	case TypeMap:
		return `{"key":"value"}`
	}
	return `"value"`
}

// ActionRequest is what a single-action run was asked for: the catalog action and its raw
// key=value arguments as given. A worker recompiles the action plan from it (Verify), so a
// run named like an action plan cannot carry a plan of its own making.
type ActionRequest struct {
	Action string            `json:"action"`
	Args   map[string]string `json:"args,omitempty"`
}

// ActionGate returns the two-person gate of a single-action plan (ActionGateID), present
// when its action cannot be undone.
func (p *Plan) ActionGate() (Step, bool) {
	for _, s := range p.Steps {
		if len(s.Guards) > 0 && slices.Contains(s.Guards, ActionStepID) {
			return s, true
		}
	}
	return Step{}, false
}
