package workflows

import (
	"crypto/ed25519"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
)

// testSigner stands in for the front end's decision key in workflow tests.
var testSigner = NewSigner(ed25519.NewKeyFromSeed(func() []byte { s := sha256.Sum256([]byte("workflows test decision key")); return s[:] }()))

// registerTrusted registers the interpreter as a worker configured to trust testSigner.
func registerTrusted(env *testsuite.TestWorkflowEnvironment) {
	Register(env, WithDecisionKeys(testSigner.Public()))
}

// signAsFrontEnd does what the front end does before sending a decision: it asks the run for
// its ids and, when req names no step, for the one pending decision, and signs req for it now.
func signAsFrontEnd(env *testsuite.TestWorkflowEnvironment, req ApprovalRequest) ApprovalRequest {
	v, err := env.QueryWorkflow(QueryStatus)
	if err != nil {
		return req
	}
	var st RunResult
	if v.Get(&st) != nil {
		return req
	}
	var target PendingApproval
	for _, p := range st.Pending {
		if p.Step == req.Step || req.Step == "" && len(st.Pending) == 1 {
			target = p
		}
	}
	if target.Step == "" {
		target.Step = req.Step
	}
	signed := testSigner.Sign(req, target, st.WorkflowID, st.RunID, env.Now())
	signed.Step = req.Step // the request may still leave the step to the run
	return signed
}

func TestDecisionSignatureRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	req := ApprovalRequest{Approver: "carol", ApproverRoles: []string{"security-oncall", "a"}, Decision: DecisionApprove, Reason: "ok", ApproverEmail: "carol@example.test"}
	gate := PendingApproval{Step: "gate", Kind: PendingKindApproval, Seq: 2}
	signed := testSigner.Sign(req, gate, "firebreak/x/alice", "run-1", at)
	keys := []ed25519.PublicKey{testSigner.Public()}
	if err := VerifyDecision(signed, gate, true, "firebreak/x/alice", "run-1", at.Add(time.Minute), keys); err != nil {
		t.Fatalf("a fresh signed decision should verify: %v", err)
	}
	tamper := []struct {
		name string
		edit func(r *ApprovalRequest) (step, wf, run string, now time.Time)
		want string
	}{
		{"another approver", func(r *ApprovalRequest) (string, string, string, time.Time) {
			r.Approver = "mallory"
			return "gate", "firebreak/x/alice", "run-1", at
		}, "does not verify"},
		{"an added role", func(r *ApprovalRequest) (string, string, string, time.Time) {
			r.ApproverRoles = append(slices.Clone(r.ApproverRoles), "security-lead")
			return "gate", "firebreak/x/alice", "run-1", at
		}, "does not verify"},
		{"deny turned into approve", func(r *ApprovalRequest) (string, string, string, time.Time) {
			r.Decision = DecisionDeny
			return "gate", "firebreak/x/alice", "run-1", at
		}, "does not verify"},
		{"another step", func(r *ApprovalRequest) (string, string, string, time.Time) {
			r.Step = ""
			return "other_gate", "firebreak/x/alice", "run-1", at
		}, "does not verify"},
		{"another run of the same workflow id", func(r *ApprovalRequest) (string, string, string, time.Time) {
			return "gate", "firebreak/x/alice", "run-2", at
		}, "not for this run"},
		{"stale", func(r *ApprovalRequest) (string, string, string, time.Time) {
			return "gate", "firebreak/x/alice", "run-1", at.Add(DecisionMaxAge + time.Second)
		}, "sign it afresh"},
		{"from the future", func(r *ApprovalRequest) (string, string, string, time.Time) {
			return "gate", "firebreak/x/alice", "run-1", at.Add(-DecisionMaxSkew - time.Second)
		}, "sign it afresh"},
		{"unsigned", func(r *ApprovalRequest) (string, string, string, time.Time) {
			r.Signature = nil
			return "gate", "firebreak/x/alice", "run-1", at
		}, "not signed"},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			r := signed
			step, wf, run, now := tc.edit(&r)
			err := VerifyDecision(r, PendingApproval{Step: step, Kind: gate.Kind, Seq: gate.Seq}, true, wf, run, now, keys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("expected a refusal saying %q, found %v", tc.want, err)
			}
		})
	}
	other := NewSigner(SandboxDecisionKey())
	if err := VerifyDecision(other.Sign(req, gate, "firebreak/x/alice", "run-1", at), gate, true, "firebreak/x/alice", "run-1", at, keys); err == nil || !strings.Contains(err.Error(), "does not trust") {
		t.Fatalf("a decision signed with an untrusted key must be refused, found %v", err)
	}
}

func TestProductionRunsNeverTrustTheSandboxKey(t *testing.T) {
	sandbox := SandboxDecisionKey().Public().(ed25519.PublicKey)
	var tr trust
	WithDecisionKeys(sandbox, testSigner.Public())(&tr)
	if got := tr.keysFor(false); len(got) != 1 || !got[0].Equal(testSigner.Public()) {
		t.Fatalf("production run: expected only the front end's key, found %d keys", len(got))
	}
	if got := tr.keysFor(true); len(got) != 2 {
		t.Fatalf("drill: expected both keys, found %d", len(got))
	}
}

// rawUpdate sends req to the run as it is, unsigned or signed however the test made it, as a
// plain Temporal client could.
func rawUpdate(env *testsuite.TestWorkflowEnvironment, delay time.Duration, id string, req func() ApprovalRequest, got *[]string) {
	env.RegisterDelayedCallback(func() {
		r := req()
		env.UpdateWorkflow(UpdateApprove, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { *got = append(*got, "rejected "+id+": "+err.Error()) },
			OnComplete: func(v any, err error) {
				if err != nil {
					*got = append(*got, "failed "+id+": "+err.Error())
					return
				}
				*got = append(*got, "ok "+id+": "+v.(ApprovalResult).Message)
			},
		}, r)
	}, delay)
}

// TestForgedDecisionsAreRefused is the security review's bypass: a plain Temporal client
// sends the update naming mallory with the security-oncall role, unsigned; then signed with a
// key the worker does not trust (the sandbox's, on a production run); then carol's genuine
// signed approval is altered to name mallory; then replayed after it went stale. None counts;
// carol's own, signed afresh, does, and is recorded with its signature.
func TestForgedDecisionsAreRefused(t *testing.T) {
	g := newGateEnv(t)
	var got []string
	oncall := []string{"security-oncall"}
	mallory := ApprovalRequest{Step: "two_person_rotate", Approver: "mallory", ApproverRoles: oncall, Decision: DecisionApprove}
	carol := ApprovalRequest{Step: "two_person_rotate", Approver: "carol", ApproverRoles: oncall, Decision: DecisionApprove}
	const wf, run = "firebreak/gate/alice", "default-test-run-id"
	gate := PendingApproval{Step: "two_person_rotate", Kind: PendingKindApproval, Seq: 1}
	rawUpdate(g.env, time.Minute, "unsigned", func() ApprovalRequest { return mallory }, &got)
	rawUpdate(g.env, 2*time.Minute, "sandbox-signed", func() ApprovalRequest {
		return NewSigner(SandboxDecisionKey()).Sign(mallory, gate, wf, run, g.env.Now())
	}, &got)
	rawUpdate(g.env, 3*time.Minute, "altered", func() ApprovalRequest {
		r := testSigner.Sign(carol, gate, wf, run, g.env.Now())
		r.Approver = "mallory"
		return r
	}, &got)
	var early ApprovalRequest
	g.env.RegisterDelayedCallback(func() { early = testSigner.Sign(carol, gate, wf, run, g.env.Now()) }, 4*time.Minute)
	rawUpdate(g.env, 4*time.Minute+DecisionMaxAge+time.Second, "stale", func() ApprovalRequest { return early }, &got)
	rawUpdate(g.env, 20*time.Minute, "carol", func() ApprovalRequest {
		return testSigner.Sign(carol, gate, wf, run, g.env.Now())
	}, &got)
	res, err := g.run(t, gateInput(t, "", ""))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
	want := []string{
		"rejected unsigned: decision is not signed",
		"rejected sandbox-signed: decision is signed with key",
		"rejected altered: decision signature does not verify",
		"rejected stale: decision was signed at",
		"ok carol: two_person_rotate granted",
	}
	if len(got) != len(want) {
		t.Fatalf("decisions:\n%s\nwant %d outcomes", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("decision %d: %q; want it to start %q", i, got[i], want[i])
		}
	}
	if len(res.Decisions) != 1 || res.Decisions[0].Approver != "carol" || res.Decisions[0].Signature == nil {
		t.Fatalf("recorded decisions %+v; want carol's, with its signature", res.Decisions)
	}
	d := res.Decisions[0]
	rebuilt := ApprovalRequest{Approver: d.Approver, ApproverRoles: d.Roles, Decision: d.Decision, Reason: d.Reason, ApproverEmail: d.Email, Signature: d.Signature}
	if err := VerifyDecision(rebuilt, PendingApproval{Step: d.Step, Kind: d.Kind, Seq: d.Signature.Seq}, true, wf, run, d.At, []ed25519.PublicKey{testSigner.Public()}); err != nil {
		t.Errorf("the recorded decision should verify offline: %v", err)
	}
}
