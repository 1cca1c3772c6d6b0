package runs

import (
	"fmt"
	"maps"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Request says which run is asked for and where the request came from; with a playbook and
// its inputs, Prepare makes it a Run.
type Request struct {
	Trigger workflows.Trigger
	Report  workflows.Report
	// Drill runs the plan as a drill, on the drill task queue against the sandbox.
	Drill bool
	// AutoApprove has a drill grant its own approvals and manual steps (unattended).
	AutoApprove bool
	// Incident is the PagerDuty incident the run answers: the run's id is the incident's, so
	// one incident has one run. Empty: the id comes from the playbook and its inputs.
	Incident string
	// Nonce distinguishes drills of one playbook and subject; empty means the trigger time.
	Nonce string
	// DigestStep names the step whose arguments, with the inputs, identify the run (a single
	// action): the same request while one is open joins it.
	DigestStep string
	// Directory is firebreak.yaml's directory as identities; the run carries the entries of
	// the people its inputs name (RunInput.Directory), so its activities find each person
	// where the directory says. Empty: subject = Vault entity name = IAM user name.
	Directory []playbooks.Identity
	// Action is the single action and raw arguments the plan was compiled from
	// (playbooks.ActionPlan); the worker recompiles the plan from it.
	Action *playbooks.ActionRequest
}

// Run is a prepared run: its workflow id and the input the interpreter workflow starts with.
type Run struct {
	ID    string
	Input workflows.RunInput
}

// Prepare binds raw (key=value) inputs to the playbook p and makes the run r asks for. A bad
// input is refused here, before anything is started.
func Prepare(p *playbooks.Plan, raw map[string]string, r Request) (Run, error) {
	inputs, err := p.BindInputs(raw)
	if err != nil {
		return Run{}, err
	}
	return PrepareBound(p, inputs, r), nil
}

// PrepareBound makes the run r asks for of p with inputs already bound (a run's pinned
// inputs, a single action's).
func PrepareBound(p *playbooks.Plan, inputs map[string]any, r Request) Run {
	return Run{
		ID: WorkflowID(p, inputs, r),
		Input: workflows.RunInput{Plan: *p, Inputs: inputs, Trigger: r.Trigger, Drill: r.Drill,
			Report: r.Report, AutoApprove: r.AutoApprove, Directory: DirectoryFor(r.Directory, inputs), Action: r.Action},
	}
}

// DirectoryFor returns the entries of dir naming the people inputs name (string inputs and
// lists of strings equal to a subject) that say where they are found, in directory order.
func DirectoryFor(dir []playbooks.Identity, inputs map[string]any) []playbooks.Identity {
	named := map[string]bool{}
	for _, v := range inputs {
		switch x := v.(type) {
		case string:
			named[x] = true
		case []string:
			for _, s := range x {
				named[s] = true
			}
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					named[s] = true
				}
			}
		}
	}
	var out []playbooks.Identity
	for _, e := range dir {
		if named[e.Subject] && (e.Vault != nil || e.AWS != nil) {
			out = append(out, e)
		}
	}
	return out
}

// Lookup finds playbook name in lib and prepares it; the errors say which part was wrong.
func Lookup(lib *playbooks.Library, name string, raw map[string]string, r Request) (Run, error) {
	if lib == nil {
		return Run{}, fmt.Errorf("no playbook library")
	}
	p, err := lib.Get(name)
	if err != nil {
		return Run{}, err
	}
	return Prepare(p, raw, r)
}

// DrillInputs are the raw inputs of a drill of p: the playbook's drill schedule inputs, then
// given, and subject alice (a sandbox developer) when the playbook takes a subject and none
// is given.
func DrillInputs(p *playbooks.Plan, defaults, given map[string]string) map[string]string {
	in := map[string]string{}
	maps.Copy(in, defaults)
	maps.Copy(in, given)
	if _, ok := in["subject"]; !ok && p.HasInput("subject") {
		in["subject"] = DrillSubject
	}
	return in
}

// DrillSubject is the subject of a drill that names none: a developer of the sandbox's
// seeded organisation.
const DrillSubject = "alice"

// MergeReason makes the reason input (raw["reason"], as README writes it) and the reason
// given apart (--reason) one: the input and the trigger's reason that Slack, PagerDuty and
// the audit show. Given twice and differently, it is an error. It returns the reason.
func MergeReason(raw map[string]string, reason string) (string, error) {
	if given, ok := raw["reason"]; ok && reason != "" && given != reason {
		return "", fmt.Errorf("reason given twice, as reason=%q and --reason %q; give it once", given, reason)
	} else if ok {
		reason = given
	}
	if reason != "" {
		raw["reason"] = reason
	}
	return reason, nil
}
