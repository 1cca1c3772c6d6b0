package workflows

import (
	"strconv"
	"time"
)

// RunTimes are the durations by which a run is judged, each counted from the trigger. The
// drill scorecard, the audit export and the post-incident review all take them from here, so
// they never disagree.
type RunTimes struct {
	// Origin is when the clock starts: the trigger (an alert, a request), else the run's start.
	Origin time.Time `json:"origin"`
	// FirstCut is when the run's first cut was made (RunResult.FirstCutAt: every step that cuts
	// a whole system at once done), else when its first containment step succeeded: the first
	// of the subject's access paths cut. Zero when none did.
	FirstCut time.Time `json:"first_cut,omitzero"`
	// FirstCutStep is the id of that step.
	FirstCutStep string `json:"first_cut_step,omitempty"`
	// ToFirstCut, ToContain, ToRemediate and Total are durations from Origin; zero when that
	// point was not reached.
	ToFirstCut  time.Duration `json:"to_first_cut_ns"`
	ToContain   time.Duration `json:"to_contain_ns"`
	ToRemediate time.Duration `json:"to_remediate_ns"`
	Total       time.Duration `json:"total_ns"`
}

// Times computes a run's durations from its result. Time to contain and to remediate are the
// run's own measures (TimeToContainMS, TimeToRemediateMS); time to first cut is FirstCutAt,
// or for a plan without such steps the end of the earliest succeeded containment step.
func (r RunResult) Times() RunTimes {
	t := RunTimes{Origin: r.Trigger.At}
	if t.Origin.IsZero() {
		t.Origin = r.StartedAt
	}
	for _, s := range r.Steps {
		if s.Contains && s.Status == StatusSucceeded && !s.EndedAt.IsZero() && (t.FirstCut.IsZero() || s.EndedAt.Before(t.FirstCut)) {
			t.FirstCut, t.FirstCutStep = s.EndedAt, s.ID
		}
	}
	// A plan with steps that cut a whole system at once (disable the entity, deactivate the
	// keys, deny older sessions) makes its first cut when the last of them is done.
	if !r.FirstCutAt.IsZero() {
		t.FirstCut, t.FirstCutStep = r.FirstCutAt, ""
		for _, s := range r.Steps {
			if s.Cuts && s.Status == StatusSucceeded && s.EndedAt.Equal(r.FirstCutAt) {
				t.FirstCutStep = s.ID
			}
		}
	}
	if !t.FirstCut.IsZero() && !t.Origin.IsZero() {
		t.ToFirstCut = t.FirstCut.Sub(t.Origin)
	}
	if r.Outcome == OutcomeContained || !r.ContainedAt.IsZero() {
		t.ToContain = time.Duration(r.TimeToContainMS) * time.Millisecond
	}
	t.ToRemediate = time.Duration(r.TimeToRemediateMS) * time.Millisecond
	if !r.EndedAt.IsZero() && !t.Origin.IsZero() {
		t.Total = r.EndedAt.Sub(t.Origin)
	}
	return t
}

// Millis prints d as the scorecard, the audit record and the review do: whole milliseconds
// under a minute ("274 ms"), whole seconds above ("3m12s").
func Millis(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return d.Round(time.Second).String()
}
