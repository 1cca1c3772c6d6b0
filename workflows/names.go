// Package workflows holds the one interpreter workflow that runs a compiled playbook Plan,
// with the names — task queues, queries, workflow ids — that workers, chatops and tests share.
package workflows

import (
	"strings"
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
