package workflows

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestClaimedRequesterNeedsOneMoreApprover is the self-approval the review found: someone who
// can reach Temporal starts a run claiming requester "bob", then approves it as themselves
// (carol, with the role). Unsigned, the trigger is recorded as claimed and the gate needs a
// second approver; dave's approval grants it.
func TestClaimedRequesterNeedsOneMoreApprover(t *testing.T) {
	g := newGateEnv(t)
	g.unsigned = true
	var got []string
	oncall := []string{"security-oncall"}
	g.update(time.Minute, ApprovalRequest{Step: "two_person_rotate", Approver: "carol", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
	g.update(2*time.Minute, ApprovalRequest{Step: "two_person_rotate", Approver: "dave", ApproverRoles: oncall, Decision: DecisionApprove}, &got)
	res, err := g.run(t, gateInput(t, "", ""))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	if len(got) != 2 || !strings.Contains(got[0], "needs 1 more") || !strings.Contains(got[1], "granted (2 of 2)") {
		t.Fatalf("decisions:\n%s\nwant carol's to leave the gate needing one more, dave's to grant it", strings.Join(got, "\n"))
	}
	if res.Trigger.ByAuth != ByAuthClaimed || !strings.HasPrefix(res.TriggerCheck, "claimed: the trigger is not signed") {
		t.Errorf("trigger %+v, check %q; want the requester recorded as claimed", res.Trigger, res.TriggerCheck)
	}
}

// TestSignedRequesterKeepsThePlaybooksCount: the same run started by the front end (its
// trigger signed) is granted by carol alone, and says so.
func TestSignedRequesterKeepsThePlaybooksCount(t *testing.T) {
	g := newGateEnv(t)
	var got []string
	g.update(time.Minute, ApprovalRequest{Step: "two_person_rotate", Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: DecisionApprove}, &got)
	res, err := g.run(t, gateInput(t, "", ""))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	if len(got) != 1 || !strings.Contains(got[0], "granted (1 of 1)") {
		t.Fatalf("decisions:\n%s", strings.Join(got, "\n"))
	}
	if res.Trigger.ByAuth == ByAuthClaimed || !strings.HasPrefix(res.TriggerCheck, "signed by the front end") {
		t.Errorf("trigger %+v, check %q; want it signed", res.Trigger, res.TriggerCheck)
	}
}

// TestTriggerSignatureBindsItsRun: a signed trigger altered (another requester, other
// inputs), moved to another workflow id or replayed later does not verify.
func TestTriggerSignatureBindsItsRun(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	in := RunInput{Plan: gateInput(t, "", "").Plan, Inputs: map[string]any{"subject": "alice", "n": int64(3), "l": []string{"a"}}, Trigger: Trigger{Kind: "slack", By: "bob", ByAuth: "slack", At: at}}
	signed := testSigner.SignTrigger(in, "firebreak/gate/alice", at)
	keys := []ed25519.PublicKey{testSigner.Public()}
	// As the workflow decodes it: numbers float64, lists []any.
	decoded := signed
	decoded.Inputs = map[string]any{"subject": "alice", "n": float64(3), "l": []any{"a"}}
	if err := VerifyTrigger(decoded, "firebreak/gate/alice", at.Add(time.Second), keys); err != nil {
		t.Fatalf("a fresh signed trigger should verify after decoding: %v", err)
	}
	other := decoded
	other.Trigger.By = "mallory"
	moreInputs := decoded
	moreInputs.Inputs = map[string]any{"subject": "carol", "n": float64(3), "l": []any{"a"}}
	for name, tc := range map[string]struct {
		in   RunInput
		id   string
		now  time.Time
		want string
	}{
		"another requester": {other, "firebreak/gate/alice", at, "does not verify"},
		"other inputs":      {moreInputs, "firebreak/gate/alice", at, "does not verify"},
		"another run id":    {decoded, "firebreak/gate/carol", at, "does not verify"},
		"replayed later":    {decoded, "firebreak/gate/alice", at.Add(TriggerMaxAge + time.Second), "replayed"},
		"unsigned":          {in, "firebreak/gate/alice", at, "not signed"},
	} {
		err := VerifyTrigger(tc.in, tc.id, tc.now, keys)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want a refusal saying %q", name, err, tc.want)
		}
	}
	if err := VerifyTrigger(NewSigner(SandboxDecisionKey()).SignTrigger(in, "firebreak/gate/alice", at), "firebreak/gate/alice", at, keys); err == nil || !strings.Contains(err.Error(), "does not trust") {
		t.Errorf("a trigger signed with an untrusted key: %v", err)
	}
}

// TestDecisionBindsItsPendingOccurrence: carol's approval signed for another kind of pending
// decision (an escalation of the gate) or another occurrence (number 2) is refused; the one
// signed for the gate pending now counts.
func TestDecisionBindsItsPendingOccurrence(t *testing.T) {
	g := newGateEnv(t)
	var got []string
	carol := ApprovalRequest{Step: "two_person_rotate", Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: DecisionApprove}
	const wf, run = "firebreak/gate/alice", "default-test-run-id"
	rawUpdate(g.env, time.Minute, "escalation", func() ApprovalRequest {
		return testSigner.Sign(carol, PendingApproval{Step: "two_person_rotate", Kind: PendingKindEscalation, Seq: 1}, wf, run, g.env.Now())
	}, &got)
	rawUpdate(g.env, 2*time.Minute, "second", func() ApprovalRequest {
		return testSigner.Sign(carol, PendingApproval{Step: "two_person_rotate", Kind: PendingKindApproval, Seq: 2}, wf, run, g.env.Now())
	}, &got)
	rawUpdate(g.env, 3*time.Minute, "gate", func() ApprovalRequest {
		return testSigner.Sign(carol, PendingApproval{Step: "two_person_rotate", Kind: PendingKindApproval, Seq: 1}, wf, run, g.env.Now())
	}, &got)
	if _, err := g.run(t, gateInput(t, "", "")); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	want := []string{"rejected escalation: decision is signed for the escalation", "rejected second: decision is signed for the approval of two_person_rotate numbered 2", "ok gate: two_person_rotate granted"}
	if len(got) != len(want) {
		t.Fatalf("decisions:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("decision %d: %q; want it to start %q", i, got[i], want[i])
		}
	}
}

// TestRawStartInputsAreChecked: a run started straight through Temporal, without the
// command line's binding, with a path where the playbook declares an IP pattern, or without
// a required input, is refused before any step runs.
func TestRawStartInputsAreChecked(t *testing.T) {
	for name, tc := range map[string]struct {
		inputs map[string]any
		want   string
	}{
		"path in a patterned input": {map[string]any{"subject": "alice", "source_ip": "../../x"}, "does not match"},
		"missing required input":    {map[string]any{"source_ip": "10.0.0.1"}, "subject is required"},
	} {
		t.Run(name, func(t *testing.T) {
			g := newGateEnv(t)
			in := gateInput(t, "", "")
			in.Plan.Inputs = append(in.Plan.Inputs, playbooks.Input{Name: "source_ip", Type: "string", Pattern: `^[0-9.]+$`})
			in.Inputs = tc.inputs
			_, err := g.run(t, in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v; want a refusal saying %q", err, tc.want)
			}
			if len(g.calls) != 0 {
				t.Errorf("activities called: %v; want none", g.calls)
			}
		})
	}
}

// TestApproverKeyDecidesOnlyAsItsHolder: carol holds her own approver key (not the front
// end's). Signed with it, a decision naming dave, or claiming a role the worker's
// configuration does not give carol, is refused; her own decision counts.
func TestApproverKeyDecidesOnlyAsItsHolder(t *testing.T) {
	carolKey := NewSigner(ed25519.NewKeyFromSeed([]byte("carol's own approver key 0123456")))
	g := newGateEnv(t, WithDecisionKeys(testSigner.Public()), WithApprovers(Approver{Name: "carol", Key: carolKey.Public(), Roles: []string{"security-oncall"}}))
	var got []string
	const wf, run = "firebreak/gate/alice", "default-test-run-id"
	gate := PendingApproval{Step: "two_person_rotate", Kind: PendingKindApproval, Seq: 1}
	sign := func(who string, roles ...string) func() ApprovalRequest {
		return func() ApprovalRequest {
			return carolKey.Sign(ApprovalRequest{Step: gate.Step, Approver: who, ApproverRoles: roles, Decision: DecisionApprove}, gate, wf, run, g.env.Now())
		}
	}
	rawUpdate(g.env, time.Minute, "as-dave", sign("dave", "security-oncall"), &got)
	rawUpdate(g.env, 2*time.Minute, "extra-role", sign("carol", "security-oncall", "security-lead"), &got)
	rawUpdate(g.env, 3*time.Minute, "carol", sign("carol", "security-oncall"), &got)
	if _, err := g.run(t, gateInput(t, "", "")); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	want := []string{"rejected as-dave: decision is signed with carol's own approver key but names dave", "rejected extra-role: decision signed with carol's approver key claims the role security-lead", "ok carol: two_person_rotate granted"}
	if len(got) != len(want) {
		t.Fatalf("decisions:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("decision %d: %q; want it to start %q", i, got[i], want[i])
		}
	}
}
