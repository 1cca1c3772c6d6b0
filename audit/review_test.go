package audit_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestReviewDraft drafts the post-incident review of the recorded compromised-dev-key run,
// then of the same run with a failed step, a failed check, a slow step, a late manual step
// and an escalation, and checks each lands in the right section.
func TestReviewDraft(t *testing.T) {
	events, err := drills.ReadHistoryFile(filepath.Join("..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := audit.Build("drill/compromised-dev-key/alice/x", "run-1", events, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := audit.ReviewOf(ex)
	if err != nil {
		t.Fatal(err)
	}
	doc := audit.ReviewMarkdown(rv, time.Minute, drills.FaultSignatures)
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
	doc = audit.ReviewMarkdown(rv, time.Minute, drills.FaultSignatures)
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

// TestReviewInjectedFaultsAndGates: a drill's injected faults are told from real failures,
// and a slow two-person gate is never advised away.
func TestReviewInjectedFaultsAndGates(t *testing.T) {
	events, err := drills.ReadHistoryFile(filepath.Join("..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := audit.Build("drill/compromised-dev-key/alice/x", "run-1", events, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := audit.ReviewOf(ex)
	if err != nil {
		t.Fatal(err)
	}
	rv.Started.InjectedFaults = []string{"vault-down"}
	res := rv.Result
	res.Steps = append([]workflows.StepResult(nil), res.Steps...)
	var vaultSteps []int
	for i, s := range res.Steps {
		if strings.HasPrefix(s.Action, "vault.") {
			vaultSteps = append(vaultSteps, i)
		}
	}
	if len(vaultSteps) < 2 {
		t.Fatalf("the recorded run has %d vault steps", len(vaultSteps))
	}
	sealed, denied := &res.Steps[vaultSteps[0]], &res.Steps[vaultSteps[1]]
	sealed.Status, sealed.Error = workflows.StatusFailed, "Error making API request. Code: 503. Errors: * Vault is sealed"
	denied.Status, denied.Error = workflows.StatusFailed, "vault: permission denied"
	gate := workflows.StepResult{ID: "two_person_rotate_shared_secrets", Action: "approval.request", Status: workflows.StatusSucceeded, DurationMS: (12 * time.Minute).Milliseconds(), Guards: []string{"rotate_shared_secrets"}}
	res.Steps = append(res.Steps, gate)
	rv.Result = res
	doc := audit.ReviewMarkdown(rv, time.Minute, drills.FaultSignatures)
	_, follow, _ := strings.Cut(doc, "## Follow-ups\n")
	follow, _, _ = strings.Cut(follow, "\n## ")
	_, injected, ok := strings.Cut(doc, "## Faults the drill injected on purpose (vault-down)\n")
	if !ok {
		t.Fatalf("no section for the injected faults:\n%s", doc)
	}
	injected, _, _ = strings.Cut(injected, "\n## ")
	if !strings.Contains(injected, sealed.ID) || strings.Contains(follow, "why "+sealed.ID) {
		t.Errorf("the injected vault-down failure of %s is not told apart:\ninjected:\n%s\nfollow-ups:\n%s", sealed.ID, injected, follow)
	}
	if !strings.Contains(follow, "Find out why "+denied.ID) || strings.Contains(injected, denied.ID) {
		t.Errorf("the real failure of %s (permission denied) is not a follow-up:\n%s", denied.ID, follow)
	}
	lower := strings.ToLower(doc)
	for _, bad := range []string{"automate", "remove the gate", "speed up " + gate.ID, "opt out", "two_person_opt_out"} {
		if strings.Contains(lower, strings.ToLower(bad)) {
			t.Errorf("the review advises %q about the two-person gate:\n%s", bad, doc)
		}
	}
	if !strings.Contains(doc, "keep the gate") || !strings.Contains(doc, "two-person gate working") {
		t.Errorf("the slow gate is not explained as the gate working:\n%s", doc)
	}
}

func TestComputeMetrics(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	mk := func(playbook string, drill bool, detect, ttc time.Duration, outcome string) runs.Summary {
		return runs.Summary{Playbook: playbook, Result: &workflows.RunResult{
			Playbook: playbook, Drill: drill, Outcome: outcome, Trigger: workflows.Trigger{At: t0},
			StartedAt: t0.Add(detect), TimeToContainMS: ttc.Milliseconds(),
		}}
	}
	sums := []runs.Summary{
		mk("p", false, 2*time.Minute, 10*time.Minute, workflows.OutcomeContained),
		mk("p", false, 4*time.Minute, 20*time.Minute, workflows.OutcomeContained),
		mk("p", false, 6*time.Minute, 0, workflows.OutcomeFailed),
		mk("p", true, 0, time.Second, workflows.OutcomeContained),
		{Playbook: "p", Status: "running"}, // no result yet: not counted
	}
	ms := audit.Metrics(sums)
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
