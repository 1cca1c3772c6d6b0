package drills

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// ReplayReport compares a finished run with a drill of the same pinned Plan and inputs.
type ReplayReport struct {
	OriginalWorkflowID string              `json:"original_workflow_id"`
	OriginalRunID      string              `json:"original_run_id"`
	Playbook           string              `json:"playbook"`
	PlaybookSHA256     string              `json:"playbook_sha256"`
	Original           workflows.RunResult `json:"original"`
	Replay             Scorecard           `json:"replay"`
	// Sandbox says what the replay's sandbox was seeded with: SandboxFromSnapshot or
	// SandboxStandard; SandboxNote says why or from what.
	Sandbox     string `json:"sandbox"`
	SandboxNote string `json:"sandbox_note"`
	// Differences lists, step by step and then for the outcome and the checks, every way the
	// replay came out differently; empty means the same outcome.
	Differences []ReplayDifference `json:"differences"`
}

// What a replay's sandbox was seeded with.
const (
	// SandboxFromSnapshot: the standard organisation with the subject as the run's
	// pre-containment evidence snapshot recorded them (testenv.OrgFromSnapshot).
	SandboxFromSnapshot = "evidence-snapshot"
	// SandboxStandard: the standard seeded organisation, for a run without a snapshot.
	SandboxStandard = "standard"
)

// ReplayDifference is one way a replay came out differently from the original run.
type ReplayDifference struct {
	Step     string `json:"step,omitempty"` // "" for the run as a whole
	What     string `json:"what"`           // status | error_kind | outcome | check | missing
	Original string `json:"original"`
	Replay   string `json:"replay"`
}

// ReadHistoryFile reads a history saved as protobuf JSON with its payloads in the clear
// (temporal workflow show --output json, or the recordings under workflows/testdata).
func ReadHistoryFile(path string) ([]*historypb.HistoryEvent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h historypb.History
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s: expected a Temporal history in JSON: %w", path, err)
	}
	return h.GetEvents(), nil
}

// PinnedRun reads a finished run's input and result from its decrypted history.
func PinnedRun(events []*historypb.HistoryEvent) (workflows.RunInput, workflows.RunResult, audit.RunStarted, error) {
	var rs audit.RunStarted
	in, err := runs.PinnedInput(events)
	if err != nil {
		return in, workflows.RunResult{}, rs, err
	}
	ex, err := audit.Build("", "", events, nil)
	if err != nil {
		return in, workflows.RunResult{}, rs, err
	}
	_ = json.Unmarshal(ex.Entries[0].Data, &rs) // a history carries no workflow id: the result does
	last := ex.Entries[len(ex.Entries)-1]
	var end audit.RunEnded
	if last.Kind != audit.KindRunEnded || json.Unmarshal(last.Data, &end) != nil {
		return in, workflows.RunResult{}, rs, errors.New("the run has not finished: replay compares finished runs")
	}
	if end.Result == nil {
		return in, workflows.RunResult{}, rs, fmt.Errorf("the run ended %s without a firebreak result: %s", end.Status, cmp.Or(end.Failure, "-"))
	}
	return in, *end.Result, rs, nil
}

// Replay drills the pinned Plan and inputs of the run recorded in events (decrypted) on the
// rig, on a sandbox seeded from the run's evidence snapshot when it has one, and compares
// the outcomes.
func (r *Rig) Replay(ctx context.Context, events []*historypb.HistoryEvent, f Settings) (ReplayReport, error) {
	in, orig, _, err := PinnedRun(events)
	if err != nil {
		return ReplayReport{}, err
	}
	seed, note := SandboxStandard, "the run has no evidence snapshot: replayed on the standard seeded organisation"
	snap, found, err := EvidenceSnapshot(events)
	if err != nil {
		return ReplayReport{}, err
	}
	if found {
		org, err := testenv.OrgFromSnapshot(testenv.DefaultOrg(), snap.Subject, snap.Data)
		if err != nil {
			return ReplayReport{}, fmt.Errorf("seeding the sandbox from the run's evidence snapshot: %w", err)
		}
		r.org = org
		seed, note = SandboxFromSnapshot, fmt.Sprintf("subject %s as the run's %s evidence snapshot recorded them", snap.Subject, cmp.Or(snap.Kind, "-"))
	}
	plan := in.Plan
	f.ReplayOf = orig.WorkflowID
	card := r.Drill(ctx, &plan, in.Inputs, f)
	return ReplayReport{
		OriginalWorkflowID: orig.WorkflowID, OriginalRunID: orig.RunID,
		Playbook: plan.Name, PlaybookSHA256: plan.SourceSHA256,
		Original: orig, Replay: card, Differences: DiffRuns(orig, card.RunResult),
		Sandbox: seed, SandboxNote: note,
	}, nil
}

// EvidenceSnapshot reads the input of the run's evidence.Snapshot activity: the first one of
// kind pre-containment, else the first one. found is false when the run took no snapshot.
func EvidenceSnapshot(events []*historypb.HistoryEvent) (snap evidence.SnapshotInput, found bool, err error) {
	for _, ev := range events {
		a := ev.GetActivityTaskScheduledEventAttributes()
		if a == nil || a.GetActivityType().GetName() != evidence.ActivityPrefix+"Snapshot" {
			continue
		}
		ps := a.GetInput().GetPayloads()
		if len(ps) != 1 {
			return snap, false, fmt.Errorf("event %d: expected one input to evidence.Snapshot, found %d", ev.GetEventId(), len(ps))
		}
		var in evidence.SnapshotInput
		if err := converter.GetDefaultDataConverter().FromPayload(ps[0], &in); err != nil {
			return snap, false, fmt.Errorf("event %d: the evidence snapshot's input is not an evidence.SnapshotInput (is the history still encrypted?): %w", ev.GetEventId(), err)
		}
		if !found || (snap.Kind != "pre-containment" && in.Kind == "pre-containment") {
			snap, found = in, true
		}
	}
	return snap, found, nil
}

// DiffRuns compares two results of the same Plan step by step, then their outcome and checks.
func DiffRuns(orig, re workflows.RunResult) []ReplayDifference {
	var out []ReplayDifference
	reSteps := map[string]workflows.StepResult{}
	for _, s := range re.Steps {
		reSteps[s.ID] = s
	}
	seen := map[string]bool{}
	for _, o := range orig.Steps {
		seen[o.ID] = true
		r, ok := reSteps[o.ID]
		switch {
		case !ok:
			out = append(out, ReplayDifference{Step: o.ID, What: "missing", Original: o.Status, Replay: "not in the replay"})
		case o.Status != r.Status:
			out = append(out, ReplayDifference{Step: o.ID, What: "status", Original: stepState(o), Replay: stepState(r)})
		case o.ErrorKind != r.ErrorKind:
			out = append(out, ReplayDifference{Step: o.ID, What: "error_kind", Original: cmp.Or(o.ErrorKind, "-"), Replay: cmp.Or(r.ErrorKind, "-")})
		}
	}
	for _, r := range re.Steps {
		if !seen[r.ID] {
			out = append(out, ReplayDifference{Step: r.ID, What: "missing", Original: "not in the original", Replay: r.Status})
		}
	}
	if orig.Outcome != re.Outcome {
		out = append(out, ReplayDifference{What: "outcome", Original: orig.Outcome, Replay: re.Outcome})
	}
	checks := func(r workflows.RunResult) map[string]bool {
		m := map[string]bool{}
		for _, c := range append(append([]workflows.Check(nil), r.Verifications...), r.Expectations...) {
			m[c.Step+": "+c.Name] = c.Passed
		}
		return m
	}
	oc, rc := checks(orig), checks(re)
	for _, c := range append(append([]workflows.Check(nil), orig.Verifications...), orig.Expectations...) {
		k := c.Step + ": " + c.Name
		if p, ok := rc[k]; !ok {
			out = append(out, ReplayDifference{Step: c.Step, What: "check", Original: checkWord(c.Passed) + " " + c.Name, Replay: "not checked"})
		} else if p != c.Passed {
			out = append(out, ReplayDifference{Step: c.Step, What: "check", Original: checkWord(c.Passed) + " " + c.Name, Replay: checkWord(p) + " " + c.Name})
		}
	}
	for _, c := range append(append([]workflows.Check(nil), re.Verifications...), re.Expectations...) {
		if _, ok := oc[c.Step+": "+c.Name]; !ok {
			out = append(out, ReplayDifference{Step: c.Step, What: "check", Original: "not checked", Replay: checkWord(c.Passed) + " " + c.Name})
		}
	}
	return out
}

func stepState(s workflows.StepResult) string {
	switch {
	case s.Error != "":
		return s.Status + ": " + firstLine(s.Error)
	case s.SkipReason != "":
		return s.Status + ": " + s.SkipReason
	}
	return s.Status
}

func checkWord(passed bool) string {
	if passed {
		return "passed"
	}
	return "failed"
}

// PrintReplay writes a replay's comparison for a person reading a terminal.
func PrintReplay(w io.Writer, r ReplayReport) {
	fmt.Fprintf(w, "REPLAY of %s (run %s)\n  playbook %s sha256 %s, replayed as %s\n", r.OriginalWorkflowID, r.OriginalRunID, r.Playbook, cmp.Or(r.PlaybookSHA256, "-"), r.Replay.WorkflowID)
	if r.Sandbox == SandboxFromSnapshot {
		fmt.Fprintf(w, "  sandbox seeded from the run's evidence snapshot: %s\n\n", r.SandboxNote)
	} else {
		fmt.Fprintf(w, "  sandbox: %s\n\n", cmp.Or(r.SandboxNote, "-"))
	}
	reSteps := map[string]workflows.StepResult{}
	for _, s := range r.Replay.Steps {
		reSteps[s.ID] = s
	}
	differs := map[string]bool{}
	for _, d := range r.Differences {
		differs[d.Step] = d.What != "check"
	}
	fmt.Fprintf(w, "  %-24s %-12s %-12s %s\n", "STEP", "ORIGINAL", "REPLAY", "")
	for _, o := range r.Original.Steps {
		re := reSteps[o.ID]
		mark := ""
		if differs[o.ID] {
			mark = "≠"
		}
		fmt.Fprintf(w, "  %-24s %-12s %-12s %s\n", o.ID, o.Status, cmp.Or(re.Status, "-"), mark)
	}
	fmt.Fprintf(w, "\n  Outcome: %s → %s\n", r.Original.Outcome, r.Replay.Outcome)
	if len(r.Differences) == 0 {
		fmt.Fprintln(w, "  Result: SAME — the pinned Plan came out as it did in the original run")
		return
	}
	fmt.Fprintf(w, "  Differences (%d):\n", len(r.Differences))
	for _, d := range r.Differences {
		where := cmp.Or(d.Step, "-")
		fmt.Fprintf(w, "    - %s %s: %s → %s\n", where, d.What, d.Original, d.Replay)
	}
	if r.Replay.Error != "" {
		fmt.Fprintf(w, "  Replay's error: %s\n", r.Replay.Error)
	}
	fmt.Fprintln(w, "  Result: DIFFERENT")
}
