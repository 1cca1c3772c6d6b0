package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestDrillReplayRecordedRun replays the recorded compromised-dev-key run (its pinned Plan and
// inputs, read from the history's first event) as `firebreak drill replay --history` does, on
// a fresh sandbox, and expects the same outcome step by step.
func TestDrillReplayRecordedRun(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	file := filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json")
	events, err := drills.ReadHistoryFile(file)
	if err != nil {
		t.Fatal(err)
	}
	in, orig, _, err := drills.PinnedRun(events)
	if err != nil {
		t.Fatal(err)
	}
	if in.Plan.Name != "compromised-dev-key" || in.Inputs["subject"] != "alice" || len(orig.Steps) == 0 {
		t.Fatalf("pinned run: plan %q inputs %v, %d steps", in.Plan.Name, in.Inputs, len(orig.Steps))
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"drill", "replay", "--history", file, "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr)
	var rep drills.ReplayReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if code != exitOK || len(rep.Differences) != 0 || !rep.Replay.Passed {
		t.Fatalf("exit %d, differences %+v, replay passed=%v error=%s", code, rep.Differences, rep.Replay.Passed, rep.Replay.Error)
	}
	if rep.Replay.PlaybookSHA256 != in.Plan.SourceSHA256 || rep.Replay.WorkflowID == rep.OriginalWorkflowID || len(rep.Replay.Steps) != len(orig.Steps) {
		t.Errorf("replay ran %s (sha %s, %d steps); want a new drill of the pinned plan %s (%d steps)", rep.Replay.WorkflowID, rep.Replay.PlaybookSHA256, len(rep.Replay.Steps), in.Plan.SourceSHA256, len(orig.Steps))
	}
	if rep.Sandbox != drills.SandboxFromSnapshot || !strings.Contains(rep.SandboxNote, "subject alice") {
		t.Errorf("sandbox %q (%s), want seeded from the evidence snapshot of alice", rep.Sandbox, rep.SandboxNote)
	}
	var human bytes.Buffer
	drills.PrintReplay(&human, rep)
	if !strings.Contains(human.String(), "Result: SAME") || !strings.Contains(human.String(), "sandbox seeded from the run's evidence snapshot") {
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
	diffs := drills.DiffRuns(orig, changed)
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
	drills.PrintReplay(&human, rep)
	if !strings.Contains(human.String(), "Result: DIFFERENT") || !strings.Contains(human.String(), "≠") {
		t.Errorf("human replay report of a difference:\n%s", human.String())
	}
}

// TestDrillReplaySnapshotDiffers replays the recorded run with its evidence snapshot changed to
// say alice had one token and one IAM key, not two: the replay's inventory steps must find
// exactly what the snapshot recorded, not the standard organisation.
func TestDrillReplaySnapshotDiffers(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	events, err := drills.ReadHistoryFile(filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev *historypb.HistoryEvent
	for _, e := range events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == evidence.ActivityPrefix+"Snapshot" {
			ev = e
		}
	}
	if ev == nil {
		t.Fatal("the recorded run has no evidence.Snapshot activity")
	}
	var in evidence.SnapshotInput
	payloads := ev.GetActivityTaskScheduledEventAttributes().GetInput().GetPayloads()
	if err := converter.GetDefaultDataConverter().FromPayload(payloads[0], &in); err != nil {
		t.Fatal(err)
	}
	vault, _ := in.Data["vault"].(map[string]any)
	iam, _ := in.Data["iam"].(map[string]any)
	tokens, _ := vault["tokens"].([]any)
	keys, _ := iam["access_keys"].([]any)
	if len(tokens) != 2 || len(keys) != 2 {
		t.Fatalf("recorded snapshot: %d tokens, %d keys; want 2 and 2", len(tokens), len(keys))
	}
	vault["tokens"], vault["accessors"] = tokens[1:], []any{"acc-alice-laptop"}
	iam["access_keys"], iam["access_key_ids"], iam["active_key_ids"] = keys[1:], []any{"AKFBSANDBOXALICE0002"}, []any{"AKFBSANDBOXALICE0002"}
	p, err := converter.GetDefaultDataConverter().ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	payloads[0] = p

	// Unit: the snapshot is found, and a history without one falls back.
	snap, found, err := drills.EvidenceSnapshot(events)
	if err != nil || !found || snap.Subject != "alice" || snap.Kind != "pre-containment" {
		t.Fatalf("evidenceSnapshot: %+v found=%v err=%v", snap, found, err)
	}
	var without []*historypb.HistoryEvent
	for _, e := range events {
		if e != ev {
			without = append(without, e)
		}
	}
	if _, found, err := drills.EvidenceSnapshot(without); found || err != nil {
		t.Errorf("a history without a snapshot: found=%v err=%v", found, err)
	}
	var human bytes.Buffer
	drills.PrintReplay(&human, drills.ReplayReport{Sandbox: drills.SandboxStandard, SandboxNote: "the run has no evidence snapshot: replayed on the standard seeded organisation"})
	if !strings.Contains(human.String(), "sandbox: the run has no evidence snapshot") {
		t.Errorf("fallback report:\n%s", human.String())
	}

	b, err := protojson.Marshal(&historypb.History{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "changed.history.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"drill", "replay", "--history", file, "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr)
	var rep drills.ReplayReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if !rep.Replay.Passed || rep.Sandbox != drills.SandboxFromSnapshot {
		t.Fatalf("exit %d, replay passed=%v sandbox=%s error=%s", code, rep.Replay.Passed, rep.Sandbox, rep.Replay.Error)
	}
	// Every step came out the same; only the checks of the token and key the snapshot no
	// longer has are missing from the replay, so it differs from the original (exit 1).
	var missing []string
	for _, d := range rep.Differences {
		if d.What != "check" || d.Replay != "not checked" {
			t.Errorf("unexpected difference %+v", d)
		}
		missing = append(missing, d.Step+": "+d.Original)
	}
	want := []string{"verify_vault: passed token acc-alice-ci revoked", "verify_iam: passed access_key_inactive:AKFBSANDBOXALICE0001"}
	if code != exitFailed || !reflect.DeepEqual(missing, want) {
		t.Errorf("exit %d, checks missing from the replay %q; want exit %d and %q", code, missing, exitFailed, want)
	}
	outputs := map[string]map[string]any{}
	for _, s := range rep.Replay.Steps {
		outputs[s.ID] = s.Outputs
	}
	if got := outputs["vault_inventory"]["accessors"]; !reflect.DeepEqual(got, []any{"acc-alice-laptop"}) {
		t.Errorf("replay's vault inventory found accessors %v, want the snapshot's [acc-alice-laptop]", got)
	}
	if got := outputs["iam_inventory"]["access_key_ids"]; !reflect.DeepEqual(got, []any{"AKFBSANDBOXALICE0002"}) {
		t.Errorf("replay's iam inventory found keys %v, want the snapshot's [AKFBSANDBOXALICE0002]", got)
	}
	if got := outputs["vault_inventory"]["readable_paths"]; !reflect.DeepEqual(got, vault["readable_paths"]) {
		t.Errorf("replay's vault inventory found readable %v, want the snapshot's %v", got, vault["readable_paths"])
	}
}
