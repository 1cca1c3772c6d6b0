// Package workflows holds the one interpreter workflow that runs a compiled playbook Plan,
// with the names — task queues, queries, workflow ids — that workers, chatops and tests share.
package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// Task queues. Drills run on their own queue, served only by workers built with sandbox
// endpoints; the interpreter refuses a drill input on the production queue and vice versa.
const (
	TaskQueue      = "firebreak"
	DrillTaskQueue = "firebreak-drill"
)

// IsDrillQueue reports whether a task queue is a drill queue: DrillTaskQueue itself, or a
// per-process queue under it ("firebreak-drill/<host>-<pid>") that a drill attached to a shared
// server uses so that only its own sandbox-bound worker serves its drills.
func IsDrillQueue(name string) bool {
	return name == DrillTaskQueue || strings.HasPrefix(name, DrillTaskQueue+"/")
}

// QueryStatus is the query that returns a run's current RunResult.
const QueryStatus = "status"

// RunWorkflowID is the id of a production run started for a playbook and subject: a second
// trigger for the same pair joins the open run instead of starting another.
func RunWorkflowID(playbook, subject string) string {
	return "firebreak/" + playbook + "/" + sanitize(subject)
}

// PlaybookWorkflowID is the id of a production run of plan with inputs: RunWorkflowID of its
// subject when it has one; otherwise a digest of its identifying inputs (every input but the
// free-text reason), so that two leaked secrets make two runs while a repeated trigger for the
// same one joins the open run.
func PlaybookWorkflowID(plan playbooks.Plan, inputs map[string]any) string {
	if s, ok := inputs["subject"].(string); ok && s != "" {
		return RunWorkflowID(plan.Name, s)
	}
	ident := map[string]any{}
	for _, d := range plan.Inputs {
		if v, ok := inputs[d.Name]; ok && d.Name != "reason" {
			ident[d.Name] = v
		}
	}
	b, _ := json.Marshal(ident) // map keys sorted: the same inputs, the same id
	sum := sha256.Sum256(b)
	return RunWorkflowID(plan.Name, "inputs-"+hex.EncodeToString(sum[:8]))
}

// IncidentWorkflowID is the id of a run started by a PagerDuty incident.
func IncidentWorkflowID(incidentID string) string {
	return "firebreak/pagerduty/" + sanitize(incidentID)
}

// DrillWorkflowID is the id of a drill of playbook against subject; nonce distinguishes
// repeated drills.
func DrillWorkflowID(playbook, subject, nonce string) string {
	return "drill/" + playbook + "/" + sanitize(subject) + "/" + nonce
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}
