package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// recorded is the export of the recorded compromised-dev-key drill under workflows/testdata.
func recorded(t *testing.T) (*audit.Export, audit.Record) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h historypb.History
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	people := map[string]string{"root": "Rita Root <rita@example.com>"}
	ex, err := audit.BuildWith("drill/compromised-dev-key/alice/x", "run-1", h.GetEvents(), nil, audit.Options{People: func(id string) string { return people[id] }})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	ex.Seal(key, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	r, err := audit.Summarize(ex)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result == nil {
		t.Fatal("the recorded run has no result")
	}
	return ex, r
}

// TestRecordSaysWhoWhatWhenOutcome: every entry says who acted, what (step, action, objects),
// when and the outcome; containment entries name their step and the objects they touched.
func TestRecordSaysWhoWhatWhenOutcome(t *testing.T) {
	ex, r := recorded(t)
	for _, e := range ex.Entries {
		if e.Who == "" || e.Outcome == "" || e.At.IsZero() {
			t.Errorf("entry %d (%s) lacks who, outcome or time: %+v", e.Seq, e.Kind, e)
		}
		if e.Kind == audit.KindActivityCompleted && !e.Report && (e.Step == "" || e.Action == "") {
			t.Errorf("entry %d %q is tied to no step", e.Seq, e.Summary)
		}
		if strings.Contains(e.Summary, "completed in") {
			t.Errorf("entry %d reads like a bare activity log: %q", e.Seq, e.Summary)
		}
	}
	objects := map[string]string{"disable_entity": "Vault entity ", "revoke_vault_tokens": "Vault token accessor ", "deactivate_keys": "IAM key AK"}
	for step, want := range objects {
		found := false
		for _, e := range ex.Entries {
			if e.Step == step && !e.Report {
				found = true
				if !strings.Contains(strings.Join(e.Objects, ";"), want) || !strings.Contains(e.Summary, "step "+step) {
					t.Errorf("step %s: objects %v, summary %q; expected %q and the step named", step, e.Objects, e.Summary, want)
				}
			}
		}
		if !found {
			t.Errorf("no entry for step %s", step)
		}
	}
	if !strings.Contains(ex.Entries[0].Who, "Rita Root <rita@example.com> (root)") {
		t.Errorf("the requester is not named from the directory: %q", ex.Entries[0].Who)
	}
	if r.Result.Outcome != workflows.OutcomeContained {
		t.Errorf("outcome %q", r.Result.Outcome)
	}
}

// TestApprovalEntries: an approval reads as the approver, their roles and the signed
// decision, not as a Temporal client identity with the person inside JSON.
func TestApprovalEntries(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	pl := func(v any) *commonpb.Payloads {
		p, err := dc.ToPayloads(v)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	in := workflows.RunInput{
		Plan:    playbooks.Plan{Name: "compromised-dev-key", Version: "1", SourceSHA256: strings.Repeat("cd", 32), Steps: []playbooks.Step{{ID: "two_person_rotate", Action: "approval.request"}}},
		Inputs:  map[string]any{"subject": "alice"},
		Trigger: workflows.Trigger{Kind: "slack", By: "U0CAROL", At: t0},
	}
	req := map[string]any{"step": "two_person_rotate", "approver": "U0BOB", "approver_roles": []string{"security-oncall"}, "approver_email": "bob@example.com", "decision": "approve",
		"signature": map[string]any{"key_id": "k-front", "signed_at": t0.Add(time.Minute), "signature": "c2ln", "workflow_id": "w", "run_id": "r"}}
	res := workflows.RunResult{Playbook: "compromised-dev-key", Subject: "alice", Outcome: workflows.OutcomeContained, Trigger: in.Trigger, StartedAt: t0,
		Decisions: []workflows.Decision{{Step: "two_person_rotate", Kind: "approval", Approver: "U0BOB", Roles: []string{"security-oncall"}, Decision: "approve", At: t0.Add(time.Minute), ResponseMS: 60000}}}
	events := []*historypb.HistoryEvent{
		{EventId: 1, EventTime: at(0), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{TaskQueue: &taskqueuepb.TaskQueue{Name: "firebreak"}, Input: pl(in)}}},
		{EventId: 8, EventTime: at(60000), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{
			AcceptedRequest: &updatepb.Request{Meta: &updatepb.Meta{UpdateId: "u-1", Identity: "21285@vm@"}, Input: &updatepb.Input{Name: workflows.UpdateApprove, Args: pl(req)}}}}},
		{EventId: 9, EventTime: at(60001), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateCompletedEventAttributes{WorkflowExecutionUpdateCompletedEventAttributes: &historypb.WorkflowExecutionUpdateCompletedEventAttributes{
			Meta: &updatepb.Meta{UpdateId: "u-1"}, Outcome: &updatepb.Outcome{Value: &updatepb.Outcome_Success{Success: pl(map[string]any{"granted": true})}}}}},
		{EventId: 12, EventTime: at(61000), EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, Attributes: &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{Result: pl(res)}}},
	}
	people := map[string]string{"U0BOB": "Bob Stone <bob@example.com>", "U0CAROL": "Carol Jones <carol@example.com>"}
	ex, err := audit.BuildWith("firebreak/compromised-dev-key/alice", "r", events, nil, audit.Options{People: func(id string) string { return people[id] }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex.Entries[1:3] {
		if !strings.HasPrefix(e.Who, "Bob Stone <bob@example.com> (U0BOB)") || e.Step != "two_person_rotate" || !strings.Contains(e.Summary, "as security-oncall") || !strings.Contains(e.Summary, "signed by decision key k-front") || strings.Contains(e.Summary, "21285@vm@") {
			t.Errorf("approval entry %d: who %q step %q summary %q", e.Seq, e.Who, e.Step, e.Summary)
		}
	}
	if ex.Entries[2].Outcome != "approve" {
		t.Errorf("outcome %q, expected approve", ex.Entries[2].Outcome)
	}
	r, err := audit.Summarize(ex)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Approvals) != 1 || r.Approvals[0].Signed != "signed, decision key k-front" || r.Requester != "Slack request by Carol Jones <carol@example.com> (U0CAROL)" {
		t.Errorf("approvals %+v, requester %q", r.Approvals, r.Requester)
	}
	md := audit.Markdown(ex)
	if !strings.Contains(md, "| Approvers | Bob Stone <bob@example.com> (U0BOB) — approve on two_person_rotate as security-oncall, after 1m0s; signed, decision key k-front |") {
		t.Errorf("the summary does not show the approver:\n%s", md[:min(len(md), 2000)])
	}
}

// TestRecordDurationsAreTheScorecards: the summary's times and the timeline's step durations
// are the scorecard's (RunResult.Times and StepResult.DurationMS).
func TestRecordDurationsAreTheScorecards(t *testing.T) {
	ex, r := recorded(t)
	tt := r.Result.Times()
	md := audit.Markdown(ex)
	page, err := audit.HTML(ex)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Time to contain | " + workflows.Millis(tt.ToContain) + " (trigger",
		"| Time to first cut | " + workflows.Millis(tt.ToFirstCut) + " (trigger → " + tt.FirstCutStep + ")",
		"| Subject | alice |",
		"sha256 " + r.Start.SourceSHA256,
		"## Summary", "## Timeline", "## Hash-chained entries", "## Checkpoint",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q", want)
		}
	}
	for _, s := range r.Result.Steps {
		if s.Status != workflows.StatusSucceeded {
			continue
		}
		row := regexp.MustCompile(`(?m)^\| [^\n]*\| step ` + regexp.QuoteMeta(s.ID) + ` [^\n]*$`).FindString(md)
		if !strings.Contains(row, "| "+workflows.Millis(time.Duration(s.DurationMS)*time.Millisecond)+" |") {
			t.Errorf("timeline row of step %s %q does not give the scorecard's %d ms", s.ID, row, s.DurationMS)
		}
	}
	for _, want := range []string{"Time to contain</th><td>" + workflows.Millis(tt.ToContain), "<h2>Timeline</h2>", "<h2>Hash-chained entries</h2>"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	if n := bytes.Count(page, []byte("<details open")); n > 0 {
		t.Errorf("the HTML opens %d raw data blocks; expected them closed", n)
	}
}

// TestRenderedInChromium renders the HTML record in headless Chromium (scripts/screenshot-html.sh):
// the page must be self-contained and render. FIREBREAK_RENDER_DIR keeps the PNG and PDF for
// people to look at.
func TestRenderedInChromium(t *testing.T) {
	browser := ""
	for _, b := range []string{os.Getenv("CHROMIUM_BIN"), os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); b != "" && err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("FIREBREAK_REAL_SERVERS") == "required" {
			t.Fatal("no Chromium to render the record with (FIREBREAK_REAL_SERVERS=required): apt-get install chromium, or set CHROMIUM_BIN")
		}
		t.Skip("no Chromium to render the record with: apt-get install chromium, or set CHROMIUM_BIN")
	}
	ex, _ := recorded(t)
	page, err := audit.HTML(ex)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("FIREBREAK_RENDER_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	file := filepath.Join(dir, "audit-record.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join("..", "scripts", "screenshot-html.sh"), file)
	cmd.Env = append(os.Environ(), "CHROMIUM="+browser)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rendering: %v\n%s", err, out)
	}
	for _, f := range []string{"audit-record.png", "audit-record.pdf"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 10_000 {
			t.Errorf("%s: %v (size %d); expected a rendered page", f, err, st.Size())
		}
	}
}
