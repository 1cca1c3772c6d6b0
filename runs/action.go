package runs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// ActionReport is the outcome of a run of one catalog action (`firebreak action run`): the
// action step's status and outputs, and the run it was recorded as.
type ActionReport struct {
	Action     string         `json:"action"`
	WorkflowID string         `json:"workflow_id"`
	RunID      string         `json:"run_id"`
	Status     string         `json:"status"`
	Outputs    map[string]any `json:"outputs,omitempty"`
	Error      string         `json:"error,omitempty"`
	// Steps are every step of the one-step plan, evidence first for a destructive action,
	// and the two-person gate before an irreversible one.
	Steps []workflows.StepResult `json:"steps"`
	// Decisions are the people's decisions on the gate of an irreversible action.
	Decisions []workflows.Decision `json:"decisions,omitempty"`
}

// ReportAction condenses a run of a one-step plan (playbooks.ActionPlan): the action step's
// status and outputs, or why it did not run.
func ReportAction(action, id, runID string, res workflows.RunResult, runErr error) ActionReport {
	rep := ActionReport{Action: action, WorkflowID: id, RunID: runID, Status: workflows.StatusFailed, Steps: res.Steps, Decisions: res.Decisions}
	for _, s := range res.Steps {
		if s.ID != playbooks.ActionStepID {
			continue
		}
		rep.Status, rep.Outputs, rep.Error = s.Status, s.Outputs, s.Error
		if s.Status == workflows.StatusPending || s.Status == workflows.StatusSkipped {
			rep.Status = workflows.StatusFailed
			rep.Error = "not run: " + cmp.Or(gateRefusal(res), res.Error)
		}
	}
	if rep.Error == "" && runErr != nil && rep.Status != workflows.StatusSucceeded {
		rep.Error = runErr.Error()
		if res.Error != "" {
			rep.Error = res.Error
		}
	}
	return rep
}

// gateRefusal says why the two-person gate of an action did not let it run: who denied it
// and why, or that nobody approved it in time; "" when the gate did not stop it.
func gateRefusal(res workflows.RunResult) string {
	for _, d := range res.Decisions {
		if d.Step != playbooks.ActionGateID {
			continue
		}
		switch d.Decision {
		case workflows.DecisionDeny:
			return fmt.Sprintf("%s denied the second-person approval (%s): %s", d.Approver, playbooks.ActionGateID, cmp.Or(d.Reason, "no reason given"))
		case workflows.DecisionTimeout:
			return fmt.Sprintf("nobody approved %s in time: the action cannot be undone and needs a second person", playbooks.ActionGateID)
		}
	}
	return ""
}

// WriteText writes the report as people read it: the verdict, each step, each decision, the
// error and the outputs.
func (rep ActionReport) WriteText(w io.Writer) {
	verdict := "OK"
	if rep.Status != workflows.StatusSucceeded {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "ACTION %s — %s\n  run %s\n", rep.Action, verdict, rep.WorkflowID)
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "  %-9s %-12s %-30s %6d ms\n", s.Status, s.ID, s.Action, s.DurationMS)
	}
	for _, d := range rep.Decisions {
		fmt.Fprintf(w, "  %s %s by %s%s\n", d.Step, d.Decision, d.Approver, strings.TrimSuffix(" — "+d.Reason, " — "))
	}
	if rep.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", rep.Error)
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Outputs)) {
		b, _ := json.Marshal(rep.Outputs[k])
		fmt.Fprintf(w, "  %s: %s\n", k, b)
	}
}

// ApprovalHelp tells the requester of an irreversible action, started as run wfID, how it
// gets its second person at gate.
func ApprovalHelp(action, wfID, requester string, gate playbooks.Step) string {
	roles, timeout := "", "no deadline"
	if gate.Approval != nil {
		roles = strings.Join(gate.Approval.Roles, ", ")
		if d := time.Duration(gate.Approval.Timeout); d > 0 {
			timeout = "within " + d.String() + ", else it is not run"
		}
	}
	return fmt.Sprintf(`%s cannot be undone: by the two-person rule it waits for someone with role [%s], other than you (%s), to approve (%s).
The evidence snapshot runs first. Ask them to answer in Slack:
  /firebreak approve %s step=%s     (or /firebreak deny …, or the buttons in the run's thread with --slack-channel)
`, action, roles, requester, timeout, wfID, gate.ID)
}
