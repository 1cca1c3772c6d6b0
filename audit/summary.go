package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Record is an export read as an incident record: what the Markdown and HTML renderings show
// before the hash-chained entries.
type Record struct {
	Start     RunStarted
	End       *RunEnded            // nil while the run goes on
	Result    *workflows.RunResult // nil when the run ended without a firebreak result
	Times     workflows.RunTimes   // the scorecard's own computation (RunResult.Times)
	Requester string
	Subject   string
	Approvals []Approval
	Timeline  []Row
	Reports   int // progress reports delivered (Slack, PagerDuty), in the entries only
}

// Approval is one decision on a gate, approval or manual step.
type Approval struct {
	Step     string
	Kind     string
	Approver string
	Roles    []string
	Decision string // approve | deny | timeout | refused
	Reason   string
	At       time.Time
	Response time.Duration
	// Signed says how the decision was authenticated: the decision key's id, "not signed",
	// or "drill auto-approval".
	Signed string
}

// Row is one line of the timeline.
type Row struct {
	At       time.Time
	Offset   time.Duration // from the trigger
	Who      string
	What     string
	Objects  []string
	Outcome  string
	Duration string // the step's duration, as the scorecard gives it
	Entries  []int  // the hash-chained entries behind it
	Marker   bool   // a milestone: first cut, contained, ended
}

// Summarize reads ex as an incident record.
func Summarize(ex *Export) (Record, error) {
	var r Record
	if len(ex.Entries) == 0 || ex.Entries[0].Kind != KindRunStarted {
		return r, fmt.Errorf("the export does not start with the run's start (%d entries)", len(ex.Entries))
	}
	if err := json.Unmarshal(ex.Entries[0].Data, &r.Start); err != nil {
		return r, fmt.Errorf("run.started: %w", err)
	}
	r.Requester = ex.Entries[0].Who
	if r.Requester == "" {
		r.Requester = namer{}.trigger(r.Start.Trigger)
	}
	r.Subject, _ = r.Start.Inputs["subject"].(string)
	// Signatures of decisions, from the approve updates.
	signed := map[string]string{} // step + approver → how it was signed
	named := map[string]string{}  // approver id → as the record names them
	for _, e := range ex.Entries {
		switch e.Kind {
		case KindUpdate:
			var m MessageRecord
			var ai approvalInput
			if json.Unmarshal(e.Data, &m) == nil && m.Name == workflows.UpdateApprove && json.Unmarshal(m.Input, &ai) == nil && ai.Approver != "" {
				s := "not signed"
				if ai.Signature != nil {
					s = "signed, decision key " + cmp.Or(ai.Signature.KeyID, "-")
				}
				signed[ai.Step+"\x00"+ai.Approver] = s
				named[ai.Approver] = e.Who
			}
		case KindActivityCompleted, KindActivityFailed:
			if e.Report {
				r.Reports++
			}
		case KindRunEnded:
			var end RunEnded
			if err := json.Unmarshal(e.Data, &end); err != nil {
				return r, fmt.Errorf("run.ended: %w", err)
			}
			r.End, r.Result = &end, end.Result
		}
	}
	if r.Result != nil {
		r.Times = r.Result.Times()
		if r.Subject == "" {
			r.Subject = r.Result.Subject
		}
		for _, d := range r.Result.Decisions {
			a := Approval{Step: d.Step, Kind: d.Kind, Approver: cmp.Or(named[d.Approver], d.Approver), Roles: d.Roles, Decision: d.Decision, Reason: d.Reason, At: d.At, Response: time.Duration(d.ResponseMS) * time.Millisecond}
			switch {
			case d.Approver == workflows.DrillApprover:
				a.Signed = "drill auto-approval (sandbox only)"
			case d.Decision == workflows.DecisionTimeout:
				a.Signed = "no decision: timed out"
			case signed[d.Step+"\x00"+d.Approver] != "":
				a.Signed = signed[d.Step+"\x00"+d.Approver]
			default:
				a.Signed = "not signed"
			}
			r.Approvals = append(r.Approvals, a)
		}
	} else {
		r.Times = workflows.RunTimes{Origin: r.Start.Trigger.At}
		if r.Times.Origin.IsZero() {
			r.Times.Origin = ex.Entries[0].At
		}
	}
	r.Timeline = timeline(ex, r)
	return r, nil
}

// actorOf is who the entries of step say acted; firebreak when none does.
func actorOf(ex *Export, step string) string {
	for _, e := range ex.Entries {
		if e.Step == step && e.Who != "" && !e.Report {
			return e.Who
		}
	}
	if len(ex.Entries) > 0 && ex.Entries[len(ex.Entries)-1].Kind == KindRunEnded {
		return ex.Entries[len(ex.Entries)-1].Who
	}
	return "firebreak"
}

// timeline is one row per step (with the scorecard's durations and the entries behind it),
// per decision and escalation, and the milestones; without a result, one row per entry.
func timeline(ex *Export, r Record) []Row {
	origin := r.Times.Origin
	var rows []Row
	row := func(at time.Time, x Row) {
		x.At = at
		if !at.IsZero() && !origin.IsZero() {
			x.Offset = at.Sub(origin)
		}
		rows = append(rows, x)
	}
	row(origin, Row{Who: r.Requester, What: "triggered: " + cmp.Or(r.Start.Trigger.Reason, "-"), Outcome: "", Entries: []int{1}})
	if r.Result == nil {
		for _, e := range ex.Entries[1:] {
			if e.Report {
				continue
			}
			row(e.At, Row{Who: e.Who, What: e.Summary, Objects: e.Objects, Outcome: e.Outcome, Entries: []int{e.Seq}})
		}
		return rows
	}
	res := r.Result
	bySteps := map[string][]Entry{}
	for _, e := range ex.Entries {
		if (e.Kind == KindActivityCompleted || e.Kind == KindActivityFailed) && !e.Report && e.Step != "" {
			bySteps[e.Step] = append(bySteps[e.Step], e)
		}
	}
	steps := append(slices.Clone(res.Steps), res.Compensations...)
	for i, s := range steps {
		if s.Status == workflows.StatusPending || s.Status == workflows.StatusRunning || s.Status == workflows.StatusWaiting {
			continue
		}
		x := Row{Who: actorOf(ex, s.ID), Outcome: s.Status}
		x.What = "step " + s.ID
		if s.Name != "" {
			x.What += " “" + s.Name + "”"
		}
		x.What += " (" + s.Action + ")"
		if i >= len(res.Steps) {
			x.What = "undo: " + x.What
		}
		switch s.Status {
		case workflows.StatusSkipped:
			x.What += " — skipped: " + s.SkipReason
		case workflows.StatusFailed:
			x.What += " — " + firstLine(s.Error)
		}
		if s.Status == workflows.StatusSucceeded || s.Status == workflows.StatusFailed {
			x.Duration = workflows.Millis(time.Duration(s.DurationMS) * time.Millisecond)
		}
		for _, e := range bySteps[s.ID] {
			x.Entries = append(x.Entries, e.Seq)
			for _, o := range e.Objects {
				if !slices.Contains(x.Objects, o) {
					x.Objects = append(x.Objects, o)
				}
			}
		}
		at := s.EndedAt
		if at.IsZero() {
			at = s.StartedAt
		}
		if s.Action == "approval.request" || s.Action == "manual" {
			for _, a := range r.Approvals {
				if a.Step == s.ID {
					x.Who = a.Approver
				}
			}
		}
		row(at, x)
	}
	for _, a := range r.Approvals {
		x := Row{Who: a.Approver, Outcome: a.Decision, What: fmt.Sprintf("%s of step %s after %s", cmp.Or(a.Kind, "-"), a.Step, workflows.Millis(a.Response))}
		if len(a.Roles) > 0 {
			x.What += ", as " + strings.Join(a.Roles, ", ")
		}
		x.What += "; " + a.Signed
		if a.Reason != "" {
			x.What += " — " + a.Reason
		}
		for _, e := range ex.Entries {
			if e.Kind == KindUpdate && e.Step == a.Step {
				x.Entries = append(x.Entries, e.Seq)
			}
		}
		row(a.At, x)
	}
	for _, e := range res.Escalations {
		row(e.At, Row{Who: "firebreak", What: "escalated step " + e.Step + ": " + firstLine(e.Reason), Outcome: e.Outcome})
	}
	if t := r.Times; t.FirstCutStep != "" {
		row(t.FirstCut, Row{Who: "firebreak", What: "first cut (" + t.FirstCutStep + ") — " + workflows.Millis(t.ToFirstCut) + " after the trigger", Marker: true})
	}
	if !res.ContainedAt.IsZero() {
		row(res.ContainedAt, Row{Who: "firebreak", What: "contained — " + workflows.Millis(r.Times.ToContain) + " after the trigger", Marker: true})
	}
	if !res.RemediatedAt.IsZero() {
		row(res.RemediatedAt, Row{Who: "firebreak", What: "remediated — " + workflows.Millis(r.Times.ToRemediate) + " after the trigger", Marker: true})
	}
	if r.End != nil {
		last := ex.Entries[len(ex.Entries)-1]
		at := res.EndedAt
		if at.IsZero() {
			at = last.At
		}
		row(at, Row{Who: last.Who, What: "run " + r.End.Status, Outcome: r.End.Outcome, Entries: []int{last.Seq}, Marker: true})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].At.Before(rows[j].At) })
	return rows
}
