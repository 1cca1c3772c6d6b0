package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// history makes a small but complete run history: started, one activity retried once and
// completed, an approval signal, and the run completed with its result.
func history(t *testing.T) []*historypb.HistoryEvent {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	pl := func(v any) *commonpb.Payloads {
		p, err := dc.ToPayloads(v)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t0 := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	at := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	in := workflows.RunInput{
		Plan:    playbooks.Plan{Name: "compromised-dev-key", Version: "1", SourceSHA256: strings.Repeat("ab", 32)},
		Inputs:  map[string]any{"subject": "alice", "api_token": "hunter2"},
		Trigger: workflows.Trigger{Kind: "slack", By: "U0CAROL", Reason: "leak", At: t0},
	}
	res := workflows.RunResult{WorkflowID: "firebreak/compromised-dev-key/alice", Playbook: "compromised-dev-key", Outcome: workflows.OutcomeContained, TimeToContainMS: 180}
	return []*historypb.HistoryEvent{
		{EventId: 1, EventTime: at(0), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{TaskQueue: &taskqueuepb.TaskQueue{Name: "firebreak"}, Input: pl(in)}}},
		{EventId: 5, EventTime: at(10), EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{ActivityId: "5", ActivityType: &commonpb.ActivityType{Name: "vault.RevokeTokens"}, Input: pl(map[string]any{"accessors": []string{"acc-alice-laptop"}, "idempotency_key": "firebreak/compromised-dev-key/alice/revoke_vault_tokens"})}}},
		{EventId: 6, EventTime: at(20), EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, Attributes: &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{ScheduledEventId: 5, Attempt: 2, Identity: "worker-1"}}},
		{EventId: 7, EventTime: at(30), EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{ScheduledEventId: 5, StartedEventId: 6, Result: pl(map[string]any{"revoked": []string{"acc-alice-laptop"}})}}},
		{EventId: 9, EventTime: at(40), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: "approve", Identity: "U0DAVE", Input: pl(map[string]any{"approved": true})}}},
		{EventId: 12, EventTime: at(200), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, Attributes: &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{Result: pl(res)}}},
	}
}

func sealed(t *testing.T) ([]byte, ed25519.PublicKey) {
	t.Helper()
	ex, err := audit.Build("firebreak/compromised-dev-key/alice", "run-1", history(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	ex.Seal(key, time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC))
	b, err := ex.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b, pub
}

func TestBuildTimeline(t *testing.T) {
	b, pub := sealed(t)
	ex, err := audit.Verify(b, audit.KeyFingerprint(pub))
	if err != nil {
		t.Fatalf("a freshly sealed export does not verify: %v\n%s", err, b)
	}
	var kinds []string
	for _, e := range ex.Entries {
		kinds = append(kinds, e.Kind)
	}
	want := []string{audit.KindRunStarted, audit.KindActivityCompleted, audit.KindSignal, audit.KindRunEnded}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", kinds, want)
	}
	var rs audit.RunStarted
	if err := json.Unmarshal(ex.Entries[0].Data, &rs); err != nil {
		t.Fatal(err)
	}
	if rs.Playbook != "compromised-dev-key" || rs.Version != "1" || rs.SourceSHA256 != strings.Repeat("ab", 32) || rs.Trigger.By != "U0CAROL" || rs.RunID != "run-1" {
		t.Errorf("run.started data %+v", rs)
	}
	// The plan's digest is recomputed from the plan the run was given, not copied from its
	// claim: a hand-made plan naming the bundled playbook's source sha256 shows a plan sha256
	// the library's plan does not have.
	if want := playbooks.PlanSHA256(playbooks.Plan{Name: "compromised-dev-key", Version: "1", SourceSHA256: strings.Repeat("ab", 32)}); rs.PlanSHA256 != want {
		t.Errorf("plan_sha256 %q; want %q, recomputed from the run's plan", rs.PlanSHA256, want)
	}
	if rs.Inputs["subject"] != "alice" || rs.Inputs["api_token"] != audit.Redacted {
		t.Errorf("inputs %v: want subject kept and api_token redacted", rs.Inputs)
	}
	if bytes.Contains(b, []byte("hunter2")) {
		t.Error("the export contains a secret input value")
	}
	var act audit.ActivityRecord
	if err := json.Unmarshal(ex.Entries[1].Data, &act); err != nil {
		t.Fatal(err)
	}
	if act.Step != "revoke_vault_tokens" || act.Attempts != 2 || act.DurationMS != 20 || !strings.Contains(string(act.Result), "acc-alice-laptop") {
		t.Errorf("activity record %+v", act)
	}
	if s := ex.Entries[3].Summary; !strings.Contains(s, "contained 180 ms after the trigger") {
		t.Errorf("run.ended summary %q", s)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := audit.Verify(b, audit.KeyFingerprint(other)); !errors.Is(err, audit.ErrUntrustedKey) {
		t.Errorf("verify against another trusted key: %v, want ErrUntrustedKey", err)
	}
	md := audit.Markdown(ex)
	for _, w := range []string{"compromised-dev-key", "revoke_vault_tokens", "U0CAROL", rs.SourceSHA256, ex.Checkpoint.KeyID} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q", w)
		}
	}
	html, err := audit.HTML(ex)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("@media print")) || bytes.Contains(html, []byte("<script")) || bytes.Contains(html, []byte("src=")) {
		t.Error("HTML export is not a self-contained printable page")
	}
}

// TestEveryByteChangeDetected changes each byte of a small export, in several ways, and
// checks that Verify refuses every changed file and names the part (header, entry, checkpoint)
// whose line holds the changed byte.
func TestEveryByteChangeDetected(t *testing.T) {
	b, _ := sealed(t)
	n := bytes.Count(b, []byte{'\n'}) - 3 // entries: header, "],", checkpoint lines aside
	part := func(pos int) int {
		line := bytes.Count(b[:pos], []byte{'\n'}) + 1
		switch {
		case line == 1:
			return 0
		case line-1 <= n:
			return line - 1
		}
		return -1
	}
	tried := 0
	for pos := range b {
		seen := map[byte]bool{b[pos]: true}
		for _, c := range []byte{b[pos] ^ 0x01, b[pos] ^ 0x20, '\n', ' ', '0', '"', '}', ','} {
			if seen[c] {
				continue
			}
			seen[c] = true
			tried++
			mod := bytes.Clone(b)
			mod[pos] = c
			_, err := audit.Verify(mod, "")
			var ve *audit.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("byte %d %q→%q: Verify returned %v, want a VerifyError", pos, b[pos], c, err)
			}
			if got, want := ve.Entry, part(pos); got != want {
				t.Errorf("byte %d (line part %d) %q→%q: located at %s, want part %d: %v", pos, want, b[pos], c, ve.Where(), want, err)
			}
		}
	}
	t.Logf("%d single-byte changes over %d bytes, all detected", tried, len(b))
}
