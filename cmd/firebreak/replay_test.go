package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/workflows"
)

// TestDrillReplayRecordedRun replays the recorded compromised-dev-key run (its pinned Plan and
// inputs, read from the history's first event) as `firebreak drill replay --history` does, on
// a fresh sandbox, and expects the same outcome step by step.
func TestDrillReplayRecordedRun(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	file := filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json")
	events, err := readHistoryFile(file)
	if err != nil {
		t.Fatal(err)
	}
	in, orig, _, err := pinnedRun(events)
	if err != nil {
		t.Fatal(err)
	}
	if in.Plan.Name != "compromised-dev-key" || in.Inputs["subject"] != "alice" || len(orig.Steps) == 0 {
		t.Fatalf("pinned run: plan %q inputs %v, %d steps", in.Plan.Name, in.Inputs, len(orig.Steps))
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"drill", "replay", "--history", file, "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr)
	var rep ReplayReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if code != exitOK || len(rep.Differences) != 0 || !rep.Replay.Passed {
		t.Fatalf("exit %d, differences %+v, replay passed=%v error=%s", code, rep.Differences, rep.Replay.Passed, rep.Replay.Error)
	}
	if rep.Replay.PlaybookSHA256 != in.Plan.SourceSHA256 || rep.Replay.WorkflowID == rep.OriginalWorkflowID || len(rep.Replay.Steps) != len(orig.Steps) {
		t.Errorf("replay ran %s (sha %s, %d steps); want a new drill of the pinned plan %s (%d steps)", rep.Replay.WorkflowID, rep.Replay.PlaybookSHA256, len(rep.Replay.Steps), in.Plan.SourceSHA256, len(orig.Steps))
	}
	var human bytes.Buffer
	printReplay(&human, rep)
	if !strings.Contains(human.String(), "Result: SAME") {
		t.Errorf("human replay report:\n%s", human.String())
	}

	// Every kind of difference is reported, step by step.
	changed := rep.Replay.RunResult
	changed.Steps = append([]workflows.StepResult(nil), changed.Steps...)
	changed.Steps[3].Status, changed.Steps[3].Error = workflows.StatusFailed, "vault: 503"
	changed.Steps = changed.Steps[:len(changed.Steps)-1]
	changed.Outcome = workflows.OutcomeFailed
	changed.Verifications = append([]workflows.Check(nil), changed.Verifications...)
	changed.Verifications[0].Passed = false
	diffs := diffRuns(orig, changed)
	want := map[string]bool{"status": false, "missing": false, "outcome": false, "check": false}
	for _, d := range diffs {
		want[d.What] = true
		if d.What == "status" && (d.Step != orig.Steps[3].ID || !strings.Contains(d.Replay, "vault: 503")) {
			t.Errorf("status difference %+v, want step %s failed with the error", d, orig.Steps[3].ID)
		}
	}
	for k, found := range want {
		if !found {
			t.Errorf("no %s difference reported: %+v", k, diffs)
		}
	}
	rep.Differences = diffs
	human.Reset()
	printReplay(&human, rep)
	if !strings.Contains(human.String(), "Result: DIFFERENT") || !strings.Contains(human.String(), "≠") {
		t.Errorf("human replay report of a difference:\n%s", human.String())
	}
}
