package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestReviewDraft drafts the post-incident review of the recorded compromised-dev-key run,
// then of the same run with a failed step, a failed check, a slow step, a late manual step
// and an escalation, and checks each lands in the right section.
func TestReviewDraft(t *testing.T) {
	events, err := readHistoryFile(filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := audit.Build("drill/compromised-dev-key/alice/x", "run-1", events, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := reviewOf(ex)
	if err != nil {
		t.Fatal(err)
	}
	doc := reviewMarkdown(rv, time.Minute)
	section := func(doc, title string) string {
		_, after, ok := strings.Cut(doc, "## "+title+"\n")
		if !ok {
			t.Fatalf("review lacks a %q section:\n%s", title, doc)
		}
		s, _, _ := strings.Cut(after, "\n## ")
		return s
	}
	if tl := section(doc, "Timeline"); !strings.Contains(tl, "revoke_vault_tokens (`vault.revoke_tokens`) done in") || !strings.Contains(tl, "**contained**") {
		t.Errorf("timeline:\n%s", tl)
	}
	if well := section(doc, "What went well"); !strings.Contains(well, "Contained ") || !strings.Contains(well, "Every verification and expectation passed") {
		t.Errorf("what went well:\n%s", well)
	}
	if f := section(doc, "Follow-ups"); !strings.Contains(f, "None derived") {
		t.Errorf("a clean run has follow-ups:\n%s", f)
	}

	res := rv.Result
	res.Steps = append([]workflows.StepResult(nil), res.Steps...)
	res.Steps[3].Status, res.Steps[3].Error = workflows.StatusFailed, "vault: permission denied"
	res.Steps[4].DurationMS = (90 * time.Second).Milliseconds()
	res.Verifications = append([]workflows.Check(nil), res.Verifications...)
	res.Verifications[0].Passed, res.Verifications[0].Detail = false, "token still valid"
	res.Decisions = []workflows.Decision{{Step: "verify_identity", Kind: workflows.PendingKindManual, Approver: "carol", Decision: workflows.DecisionApprove, At: res.StartedAt.Add(3 * time.Minute), ResponseMS: (3 * time.Minute).Milliseconds()}}
	res.Escalations = []workflows.Escalation{{Step: "rotate_shared_secrets", Reason: "vault 503", At: res.StartedAt.Add(time.Second), Outcome: "continue"}}
	rv.Result = res
	doc = reviewMarkdown(rv, time.Minute)
	follow := section(doc, "Follow-ups")
	for _, want := range []string{
		"- [ ] Find out why " + res.Steps[3].ID + " (`" + res.Steps[3].Action + "`) failed and fix it: vault: permission denied",
		"- [ ] Speed up " + res.Steps[4].ID,
		"- [ ] Check failed — " + res.Verifications[0].Step,
		"- [ ] Remove the cause of the escalation of rotate_shared_secrets",
	} {
		if !strings.Contains(follow, want) {
			t.Errorf("follow-ups lack %q:\n%s", want, follow)
		}
	}
	slow := section(doc, "What was slow")
	for _, want := range []string{res.Steps[4].ID + " (`" + res.Steps[4].Action + "`) took 1m30s", "manual verify_identity was answered by carol after 3m0s", "rotate_shared_secrets was escalated"} {
		if !strings.Contains(slow, want) {
			t.Errorf("what was slow lacks %q:\n%s", want, slow)
		}
	}
	if tl := section(doc, "Timeline"); !strings.Contains(tl, "**"+res.Steps[3].ID+" (`"+res.Steps[3].Action+"`) failed**") {
		t.Errorf("timeline lacks the failure:\n%s", tl)
	}
}

func TestComputeMetrics(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	mk := func(playbook string, drill bool, detect, ttc time.Duration, outcome string) runSummary {
		return runSummary{Playbook: playbook, Result: &workflows.RunResult{
			Playbook: playbook, Drill: drill, Outcome: outcome, Trigger: workflows.Trigger{At: t0},
			StartedAt: t0.Add(detect), TimeToContainMS: ttc.Milliseconds(),
		}}
	}
	runs := []runSummary{
		mk("p", false, 2*time.Minute, 10*time.Minute, workflows.OutcomeContained),
		mk("p", false, 4*time.Minute, 20*time.Minute, workflows.OutcomeContained),
		mk("p", false, 6*time.Minute, 0, workflows.OutcomeFailed),
		mk("p", true, 0, time.Second, workflows.OutcomeContained),
		{Playbook: "p", Status: "running"}, // no result yet: not counted
	}
	ms := computeMetrics(runs)
	if len(ms) != 2 {
		t.Fatalf("metrics %+v, want incidents and drills of p apart", ms)
	}
	inc, dr := ms[0], ms[1]
	if inc.Drills || inc.Runs != 3 || inc.Contained != 2 || inc.Failed != 1 || inc.MTTDMS != (4*time.Minute).Milliseconds() || inc.MTTRMS != (15*time.Minute).Milliseconds() || inc.MaxTTCMS != (20*time.Minute).Milliseconds() {
		t.Errorf("incident metrics %+v: want 3 runs, 2 contained, MTTD 4m, MTTR 15m, worst 20m", inc)
	}
	if !dr.Drills || dr.Runs != 1 || dr.MTTRMS != 1000 {
		t.Errorf("drill metrics %+v", dr)
	}
}
