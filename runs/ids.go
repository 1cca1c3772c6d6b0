package runs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// NonceFormat formats the trigger time that distinguishes drills when no nonce is given.
const NonceFormat = "20060102T150405.000"

// ScheduledNonce is the nonce of a scheduled drill's id; Temporal appends the scheduled time.
const ScheduledNonce = "scheduled"

// WorkflowID is the id of the run r asks for of p with inputs. It is the one place that
// decides which requests are one run (rule 4: one incident, one run; two incidents, two runs):
// a PagerDuty incident's run is the incident's; a drill is its playbook, subject and nonce; a
// single action is its action and a digest of its arguments; any other run is its playbook
// and subject, or, for a playbook without one, a digest of its identifying inputs (every
// input but the free-text reason), so that two leaked secrets make two runs while the same
// leak reported twice joins the first.
func WorkflowID(p *playbooks.Plan, inputs map[string]any, r Request) string {
	subject, _ := inputs["subject"].(string)
	switch {
	case r.Incident != "":
		return workflows.IncidentWorkflowID(r.Incident)
	case r.Drill:
		nonce := r.Nonce
		if nonce == "" {
			nonce = r.Trigger.At.UTC().Format(NonceFormat)
		}
		return workflows.DrillWorkflowID(p.Name, subject, nonce)
	case r.DigestStep != "":
		step, _ := p.Step(r.DigestStep)
		b, _ := json.Marshal(struct {
			Inputs map[string]any
			With   []playbooks.Arg
		}{inputs, step.With})
		sum := sha256.Sum256(b)
		return workflows.RunWorkflowID(p.Name, hex.EncodeToString(sum[:6]))
	}
	if subject == "" {
		ident := map[string]any{}
		for _, d := range p.Inputs {
			if v, ok := inputs[d.Name]; ok && d.Name != "reason" {
				ident[d.Name] = v
			}
		}
		b, _ := json.Marshal(ident) // map keys sorted: the same inputs, the same id
		sum := sha256.Sum256(b)
		return workflows.RunWorkflowID(p.Name, "inputs-"+hex.EncodeToString(sum[:8]))
	}
	return workflows.RunWorkflowID(p.Name, subject)
}
