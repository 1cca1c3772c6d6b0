package workflows

import (
	"testing"
	"time"
)

func TestRunTimes(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := RunResult{
		Trigger: Trigger{At: at}, StartedAt: at.Add(40 * time.Millisecond), Outcome: OutcomeContained,
		TimeToContainMS: 300, TimeToRemediateMS: 9000, EndedAt: at.Add(10 * time.Second),
		Steps: []StepResult{
			{ID: "snapshot", Status: StatusSucceeded, EndedAt: at.Add(100 * time.Millisecond)},
			{ID: "revoke_tokens", Contains: true, Status: StatusSucceeded, EndedAt: at.Add(250 * time.Millisecond)},
			{ID: "disable_entity", Contains: true, Status: StatusSucceeded, EndedAt: at.Add(180 * time.Millisecond)},
			{ID: "deactivate_keys", Contains: true, Status: StatusFailed, EndedAt: at.Add(120 * time.Millisecond)},
		},
	}
	got := r.Times()
	if got.FirstCutStep != "disable_entity" || got.ToFirstCut != 180*time.Millisecond || got.ToContain != 300*time.Millisecond ||
		got.ToRemediate != 9*time.Second || got.Total != 10*time.Second {
		t.Errorf("times %+v", got)
	}
	r.Trigger.At = time.Time{} // no trigger time: the run's start is the origin
	if got := r.Times(); got.ToFirstCut != 140*time.Millisecond {
		t.Errorf("without a trigger time: first cut %v, expected 140ms from the run's start", got.ToFirstCut)
	}
	r.Outcome, r.ContainedAt, r.TimeToContainMS = OutcomeFailed, time.Time{}, 0
	if got := r.Times(); got.ToContain != 0 {
		t.Errorf("a run that did not contain has time to contain %v", got.ToContain)
	}
	for d, want := range map[time.Duration]string{274 * time.Millisecond: "274 ms", 59999 * time.Millisecond: "59999 ms", 192500 * time.Millisecond: "3m13s"} {
		if got := Millis(d); got != want {
			t.Errorf("Millis(%v) = %q, expected %q", d, got, want)
		}
	}
}
