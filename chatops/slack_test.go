package chatops_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// confirmValue finds the Confirm button of a /revoke-dev acknowledgement and returns its value.
func confirmValue(t *testing.T, m slack.Msg) string {
	t.Helper()
	if m.ResponseType != slack.ResponseTypeEphemeral {
		t.Fatalf("confirmation is %q; want ephemeral", m.ResponseType)
	}
	for _, b := range m.Blocks.BlockSet {
		ab, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, e := range ab.Elements.ElementSet {
			if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID == chatops.ActionConfirm {
				return btn.Value
			}
		}
	}
	t.Fatalf("no %s button in the acknowledgement %q", chatops.ActionConfirm, m.Text)
	return ""
}

// TestRevokeDevEndToEnd goes from a signed /revoke-dev through the Confirm button to a started
// workflow with the right id and input; then a duplicate, and Slack's retry, join it.
func TestRevokeDevEndToEnd(t *testing.T) {
	h := newHarness(t)
	// Bob names Alice by mention; chatops resolves her through users.info (email) and the
	// directory, since her directory entry has no slack_id.
	rec := h.command(t, "U0BOB", "/revoke-dev", "<@U0ALICE|alice> key pasted in a public gist")
	ack := decodeMsg(t, rec)
	if !strings.Contains(ack.Text, "<@U0ALICE> (alice)") || !strings.Contains(ack.Text, "key pasted in a public gist") {
		t.Errorf("confirmation text %q: want the subject and the reason", ack.Text)
	}
	h.srv.Wait()
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("the run started before confirmation: %+v", starts)
	}
	value := confirmValue(t, ack)

	// Carol presses Bob's button: refused, nothing started.
	if rec := h.press(t, "U0CAROL", chatops.ActionConfirm, value); rec.Code != http.StatusOK {
		t.Fatalf("interaction status %d", rec.Code)
	}
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "Only <@U0BOB>") {
		t.Errorf("someone else's confirmation: %q, want a refusal naming the requester", m.Text)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("another user's confirmation started the run: %+v", starts)
	}

	// Bob confirms.
	if rec := h.press(t, "U0BOB", chatops.ActionConfirm, value); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("interaction: status %d body %q; want an empty 200", rec.Code, rec.Body.String())
	}
	h.srv.Wait()
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 {
		t.Fatalf("%d starts; want 1", len(starts))
	}
	st := starts[0]
	wantID := workflows.RunWorkflowID("compromised-dev-key", "alice")
	if st.Options.ID != wantID || st.Options.TaskQueue != workflows.TaskQueue ||
		st.Options.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		t.Errorf("start options %+v; want id %s on %s with USE_EXISTING", st.Options, wantID, workflows.TaskQueue)
	}
	in := st.Input
	if in.Plan.Name != "compromised-dev-key" || in.Inputs["subject"] != "alice" || in.Inputs["reason"] != "key pasted in a public gist" || in.Drill {
		t.Errorf("input: plan %s inputs %v drill %v", in.Plan.Name, in.Inputs, in.Drill)
	}
	if in.Trigger.Kind != "slack" || in.Trigger.By != "bob" || !in.Trigger.At.Equal(h.now) || in.Report.SlackChannel != "C0SECOPS" {
		t.Errorf("trigger %+v report %+v; want slack by bob at %v reporting to C0SECOPS", in.Trigger, in.Report, h.now)
	}
	m := h.resp.next(t)
	if !m.ReplaceOriginal || !strings.Contains(m.Text, "Started compromised-dev-key") || !strings.Contains(m.Text, "run-1") {
		t.Errorf("after confirming: %+v; want the confirmation replaced by the started run", m)
	}

	// A second /revoke-dev for Alice, confirmed: "already running" with the run id.
	value2 := confirmValue(t, decodeMsg(t, h.command(t, "U0BOB", "/revoke-dev", "alice again")))
	h.press(t, "U0BOB", chatops.ActionConfirm, value2)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "already running") || !strings.Contains(m.Text, "run-1") || !strings.Contains(m.Text, wantID) {
		t.Errorf("duplicate: %q; want already running with the run id and workflow id", m.Text)
	}
	// Slack retries the confirmation: still one run.
	h.press(t, "U0BOB", chatops.ActionConfirm, value, "X-Slack-Retry-Num", "1", "X-Slack-Retry-Reason", "http_timeout")
	h.srv.Wait()
	h.resp.next(t)
	starts, _ = h.fake.snapshot()
	fresh := 0
	for _, s := range starts {
		if !s.Joined {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d runs started for one incident; want 1 (starts %+v)", fresh, starts)
	}
}

// TestConcurrentDuplicatesJoin races two confirmations: USE_EXISTING makes one run.
func TestConcurrentDuplicatesJoin(t *testing.T) {
	h := newHarness(t)
	value := confirmValue(t, decodeMsg(t, h.command(t, "U0BOB", "/revoke-dev", "alice leak")))
	done := make(chan struct{})
	for range 2 {
		go func() { h.press(t, "U0BOB", chatops.ActionConfirm, value); done <- struct{}{} }()
	}
	<-done
	<-done
	h.srv.Wait()
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	if len(h.fake.runs) != 1 {
		t.Fatalf("%d runs; want 1", len(h.fake.runs))
	}
}

func TestRevokeDevRefusals(t *testing.T) {
	cases := []struct {
		name, user, text, want string
	}{
		{"no arguments", "U0BOB", "", "Usage"},
		{"unknown requester", "U0NOBODY", "@alice leak", "You cannot start a response"},
		{"requester without a role", "U0ALICE", "@bob leak", "needs one of the roles responder"},
		{"unknown subject", "U0BOB", "@mallory leak", "not in firebreak's directory"},
		{"unknown subject by mention", "U0BOB", "<@U0MALLORY> leak", "users.info"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			m := decodeMsg(t, h.command(t, tc.user, "/revoke-dev", tc.text))
			h.srv.Wait()
			if m.ResponseType != slack.ResponseTypeEphemeral || !strings.Contains(m.Text, tc.want) {
				t.Errorf("answer %q (%s); want an ephemeral message containing %q", m.Text, m.ResponseType, tc.want)
			}
			if len(m.Blocks.BlockSet) != 0 {
				t.Errorf("a refusal offered buttons")
			}
			if n := h.fake.callCount(); n != 0 {
				t.Errorf("%d Temporal calls; want none", n)
			}
		})
	}
}

func TestCancelStartsNothing(t *testing.T) {
	h := newHarness(t)
	confirmValue(t, decodeMsg(t, h.command(t, "U0BOB", "/revoke-dev", "alice leak")))
	h.press(t, "U0BOB", chatops.ActionCancel, "cancel")
	h.srv.Wait()
	if m := h.resp.next(t); !m.ReplaceOriginal || !strings.Contains(m.Text, "Cancelled") {
		t.Errorf("cancel: %+v", m)
	}
	if n := h.fake.callCount(); n != 0 {
		t.Errorf("%d Temporal calls after cancel; want none", n)
	}
}

func TestStartFailureToldThroughResponseURL(t *testing.T) {
	h := newHarness(t)
	h.fake.startErr = errors.New("connection refused")
	value := confirmValue(t, decodeMsg(t, h.command(t, "U0BOB", "/revoke-dev", "alice leak")))
	h.press(t, "U0BOB", chatops.ActionConfirm, value)
	h.srv.Wait()
	m := h.resp.next(t)
	if !strings.Contains(m.Text, "Could not start compromised-dev-key") || !strings.Contains(m.Text, "connection refused") {
		t.Errorf("start failure: %q; want the reason", m.Text)
	}
}

func TestFirebreakCommands(t *testing.T) {
	h := newHarness(t)

	m := decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "help"))
	if !strings.Contains(m.Text, "/revoke-dev @user") || !strings.Contains(m.Text, "/firebreak approve") {
		t.Errorf("help: %q", m.Text)
	}

	// run: starts after the acknowledgement, on the production queue.
	m = decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", `run compromised-dev-key subject=bob reason="laptop stolen at airport"`))
	if !strings.Contains(m.Text, "Starting compromised-dev-key") {
		t.Errorf("run ack: %q", m.Text)
	}
	h.srv.Wait()
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 || starts[0].Options.ID != workflows.RunWorkflowID("compromised-dev-key", "bob") ||
		starts[0].Input.Inputs["reason"] != "laptop stolen at airport" || starts[0].Input.Trigger.By != "carol" {
		t.Fatalf("run: starts %+v", starts)
	}
	if r := h.resp.next(t); !strings.Contains(r.Text, "Started") {
		t.Errorf("run result: %q", r.Text)
	}

	// run with a bad input: refused before anything starts.
	m = decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "run compromised-dev-key subject=bob colour=red"))
	if !strings.Contains(m.Text, `no input "colour"`) {
		t.Errorf("bad input: %q", m.Text)
	}
	m = decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "run no-such-playbook"))
	if !strings.Contains(m.Text, "unknown playbook") {
		t.Errorf("unknown playbook: %q", m.Text)
	}

	// drill: the drill queue, Drill set.
	decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "drill compromised-dev-key subject=alice"))
	h.srv.Wait()
	h.resp.next(t)
	starts, _ = h.fake.snapshot()
	d := starts[len(starts)-1]
	if d.Options.TaskQueue != workflows.DrillTaskQueue || !d.Input.Drill || !strings.HasPrefix(d.Options.ID, "drill/compromised-dev-key/alice/") {
		t.Errorf("drill start: queue %s drill %v id %s", d.Options.TaskQueue, d.Input.Drill, d.Options.ID)
	}
	// Slack retries the drill request (same trigger_id): it is the request already handled,
	// and starts nothing.
	decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "drill compromised-dev-key subject=alice", "X-Slack-Retry-Num", "1"))
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "already handled") {
		t.Errorf("drill retry: %q; want already handled", r.Text)
	}
	if again, _ := h.fake.snapshot(); len(again) != len(starts) {
		t.Errorf("the retried drill request started %d more runs", len(again)-len(starts))
	}

	// status RUN: the query after the acknowledgement.
	id := workflows.RunWorkflowID("compromised-dev-key", "bob")
	h.fake.status[id] = workflows.RunResult{Playbook: "compromised-dev-key", Subject: "bob", Outcome: workflows.OutcomeRunning,
		Steps: []workflows.StepResult{{ID: "snapshot", Status: workflows.StatusSucceeded, DurationMS: 3}, {ID: "revoke_vault_tokens", Status: workflows.StatusRunning}, {ID: "deactivate_keys", Status: workflows.StatusFailed, Error: "throttled"}}}
	decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "status "+id))
	h.srv.Wait()
	r := h.resp.next(t)
	for _, want := range []string{"*compromised-dev-key* subject=bob — running", "✓ snapshot (3 ms)", "⏳ revoke_vault_tokens", "✗ deactivate_keys: throttled", "http://127.0.0.1:8233/namespaces/default/workflows/"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("status: %q lacks %q", r.Text, want)
		}
	}
	// status: the open runs.
	decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "status"))
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "Open runs") || !strings.Contains(r.Text, id) {
		t.Errorf("status list: %q", r.Text)
	}
	// status of an unknown run.
	decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "status firebreak/nope/x"))
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "no such run") {
		t.Errorf("unknown run: %q", r.Text)
	}

	m = decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "frobnicate"))
	if !strings.Contains(m.Text, `Unknown subcommand "frobnicate"`) {
		t.Errorf("unknown subcommand: %q", m.Text)
	}
	m = decodeMsg(t, h.command(t, "U0BOB", "/other", ""))
	if !strings.Contains(m.Text, "does not know the command /other") {
		t.Errorf("unknown command: %q", m.Text)
	}
}

func TestRolesThroughUserGroups(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) {
		o.Config.Roles = map[string]chatops.RoleMembers{"responder": {Groups: []string{"S0SECURITY"}}}
		o.Slack = groupSlack{SlackAPI: o.Slack, members: map[string][]string{"S0SECURITY": {"U0CAROL"}}}
	})
	if m := decodeMsg(t, h.command(t, "U0CAROL", "/revoke-dev", "bob leak")); len(m.Blocks.BlockSet) == 0 {
		t.Errorf("a group member was refused: %q", m.Text)
	}
	if m := decodeMsg(t, h.command(t, "U0BOB", "/revoke-dev", "alice leak")); !strings.Contains(m.Text, "you hold none") {
		t.Errorf("a non-member: %q; want a refusal", m.Text)
	}
}

type groupSlack struct {
	chatops.SlackAPI
	members map[string][]string
}

func (g groupSlack) GetUserGroupMembersContext(_ context.Context, group string, _ ...slack.GetUserGroupMembersOption) ([]string, error) {
	return g.members[group], nil
}

// approvalValidator plays the workflow's validator: the requester (bob) may not approve, and
// the approver needs the approver role.
func approvalValidator(_ string, req map[string]any) (map[string]any, error) {
	roles, _ := req["approver_roles"].([]any)
	has := false
	for _, r := range roles {
		has = has || r == "approver"
	}
	switch {
	case req["approver"] == "bob":
		return nil, temporal.NewApplicationError("bob requested this run and cannot approve it", "SelfApproval")
	case !has:
		return nil, temporal.NewApplicationError("approving needs the role approver", "Forbidden")
	}
	return map[string]any{"step": "delete_keys", "granted": req["decision"] == "approve", "approvals": 1, "needed": 1,
		"message": "carol " + req["decision"].(string) + "d delete_keys"}, nil
}

func TestApprovals(t *testing.T) {
	h := newHarness(t)
	h.fake.validate = approvalValidator
	id := workflows.RunWorkflowID("compromised-dev-key", "alice")
	h.fake.runs[id] = &fakeRun{id: id, runID: "run-9"}
	h.fake.status[id] = workflows.RunResult{WorkflowID: id, RunID: "run-9", Pending: []workflows.PendingApproval{{Step: "delete_keys", Kind: workflows.PendingKindApproval}}}

	// Carol approves by command; the request carries who, roles, decision and reason.
	m := decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "approve "+id+" step=delete_keys confirmed with alice"))
	if !strings.Contains(m.Text, "Sending your approve") {
		t.Errorf("approve ack: %q", m.Text)
	}
	h.srv.Wait()
	if r := h.resp.next(t); r.Text != "carol approved delete_keys" {
		t.Errorf("approve result: %q", r.Text)
	}
	_, ups := h.fake.snapshot()
	sent := maps.Clone(ups[0])
	delete(sent, "signature")
	got, _ := json.Marshal(sent)
	want := `{"approver":"carol","approver_email":"carol@example.test","approver_roles":["approver","responder"],"decision":"approve","reason":"confirmed with alice","step":"delete_keys"}`
	if string(got) != want {
		t.Errorf("update argument %s\nwant %s", got, want)
	}
	// The decision is signed for this run and step, at the front end's time.
	var signed workflows.ApprovalRequest
	b, _ := json.Marshal(ups[0])
	_ = json.Unmarshal(b, &signed)
	if err := workflows.VerifyDecision(signed, workflows.PendingApproval{Step: "delete_keys", Kind: workflows.PendingKindApproval}, true, id, "run-9", h.now, []ed25519.PublicKey{testSigner.Public()}); err != nil {
		t.Errorf("the update's signature: %v", err)
	}

	// Bob, the requester, presses Approve: the workflow's refusal is shown to him.
	btn, _ := json.Marshal(chatops.ApprovalButton{WorkflowID: id, Step: "delete_keys"})
	if rec := h.press(t, "U0BOB", chatops.ActionApprove, string(btn)); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "refused: bob requested this run and cannot approve it") || r.ResponseType != slack.ResponseTypeEphemeral {
		t.Errorf("self-approval: %q; want the workflow's refusal, ephemeral", r.Text)
	}

	// Carol denies by button.
	h.press(t, "U0CAROL", chatops.ActionDeny, string(btn))
	h.srv.Wait()
	if r := h.resp.next(t); r.Text != "carol denyd delete_keys" {
		t.Errorf("deny: %q", r.Text)
	}
	h.resp.none(t)
	_, ups = h.fake.snapshot()
	if ups[len(ups)-1]["decision"] != "deny" {
		t.Errorf("deny sent %v", ups[len(ups)-1])
	}

	// Alice has no directory role: her request reaches the validator without roles and is refused.
	decodeMsg(t, h.command(t, "U0ALICE", "/firebreak", "approve "+id))
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "needs the role approver") {
		t.Errorf("wrong role: %q", r.Text)
	}
	// An unknown user is refused before Temporal is asked.
	before := h.fake.callCount()
	m = decodeMsg(t, h.command(t, "U0NOBODY", "/firebreak", "approve "+id))
	if !strings.Contains(m.Text, "You cannot approve") || h.fake.callCount() != before {
		t.Errorf("unknown approver: %q", m.Text)
	}
	// A button without a run.
	h.press(t, "U0CAROL", chatops.ActionApprove, "garbage")
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "does not name a run") {
		t.Errorf("bad button: %q", r.Text)
	}
}

// TestDecisionsNeedTheDecisionKey: a front end without the decision key sends nothing and
// says why; a drill's decision is signed with the sandbox key, which only drill workers trust.
func TestDecisionsNeedTheDecisionKey(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) { o.Signer = nil })
	h.fake.validate = approvalValidator
	id := workflows.RunWorkflowID("compromised-dev-key", "alice")
	h.fake.runs[id] = &fakeRun{id: id, runID: "run-9"}
	decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "approve "+id+" step=delete_keys"))
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "no decision key here") {
		t.Errorf("without a decision key: %q; want a clear refusal", r.Text)
	}
	if _, ups := h.fake.snapshot(); len(ups) != 0 {
		t.Errorf("an update was sent without a signature: %v", ups)
	}

	h = newHarness(t)
	h.fake.validate = approvalValidator
	drill := workflows.DrillWorkflowID("compromised-dev-key", "alice", "n1")
	h.fake.runs[drill] = &fakeRun{id: drill, runID: "run-d"}
	// The decision is signed for the pending decision the run reports.
	h.fake.status[drill] = workflows.RunResult{WorkflowID: drill, RunID: "run-d", Pending: []workflows.PendingApproval{{Step: "delete_keys", Kind: workflows.PendingKindApproval}}}
	decodeMsg(t, h.command(t, "U0CAROL", "/firebreak", "approve "+drill+" step=delete_keys"))
	h.srv.Wait()
	h.resp.next(t)
	_, ups := h.fake.snapshot()
	var signed workflows.ApprovalRequest
	b, _ := json.Marshal(ups[0])
	_ = json.Unmarshal(b, &signed)
	sandbox := workflows.NewSigner(workflows.SandboxDecisionKey())
	if err := workflows.VerifyDecision(signed, workflows.PendingApproval{Step: "delete_keys", Kind: workflows.PendingKindApproval}, true, drill, "run-d", h.now, []ed25519.PublicKey{sandbox.Public()}); err != nil {
		t.Errorf("a drill's decision should be signed with the sandbox key: %v", err)
	}
}

// TestReplayedSlackRequestStartsNothing is the security review's replay: a validly signed
// slash command sent again within its five minutes, after the run it started has closed,
// started a new run each time. The request's trigger_id is claimed in Temporal, so the
// replay — on this replica or another — starts nothing.
func TestReplayedSlackRequestStartsNothing(t *testing.T) {
	lib := mustLibrary(t, map[string]string{"inventory.yaml": inventoryPlaybook})
	h := newHarness(t, func(o *chatops.Options) { o.Library = lib })
	form := url.Values{
		"command": {"/inventory"}, "text": {"alice routine check"}, "user_id": {"U0BOB"}, "user_name": {"bob"},
		"channel_id": {"C0SECOPS"}, "team_id": {testenv.SlackTeamID}, "response_url": {h.resp.srv.URL + "/commands/1"},
		"trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
	}
	body := []byte(form.Encode())
	h.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "Started inventory-dev") {
		t.Fatalf("first request: %q; want the run started", m.Text)
	}
	starts, _ := h.fake.snapshot()
	h.fake.finish(starts[0].Options.ID)
	// The same bytes, the same signature, a minute later: within the replay window.
	h.now = h.now.Add(time.Minute)
	h.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "already handled") {
		t.Errorf("replayed request: %q; want it refused as already handled", m.Text)
	}
	// Another replica of the front end, sharing only Temporal, refuses it too.
	other := newHarness(t)
	other.fake = h.fake
	other.srv = chatops.NewHandler(chatops.Options{Starter: h.fake, Config: testConfig(), Library: lib, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return h.now }, Signer: testSigner})
	other.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	other.srv.Wait()
	if after, _ := h.fake.snapshot(); len(after) != 1 {
		t.Errorf("the replayed request started %d runs; want the first one only", len(after))
	}
}

// TestFailedStartReleasesTheRequest: the run could not start after the request's trigger_id
// was claimed (Temporal refused the start); Slack's retry of the same request — the same
// bytes and signature — is handled, not refused as a replay, and starts the run.
func TestFailedStartReleasesTheRequest(t *testing.T) {
	lib := mustLibrary(t, map[string]string{"inventory.yaml": inventoryPlaybook})
	h := newHarness(t, func(o *chatops.Options) { o.Library = lib })
	form := url.Values{
		"command": {"/inventory"}, "text": {"alice routine check"}, "user_id": {"U0BOB"}, "user_name": {"bob"},
		"channel_id": {"C0SECOPS"}, "team_id": {testenv.SlackTeamID}, "response_url": {h.resp.srv.URL + "/commands/1"},
		"trigger_id": {"13345224609.738474920.8088930838d88f008e1"},
	}
	body := []byte(form.Encode())
	h.fake.runStartErr = errors.New("connection refused")
	h.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "connection refused") {
		t.Fatalf("first request: %q; want the start failure", m.Text)
	}
	h.fake.runStartErr = nil
	h.now = h.now.Add(30 * time.Second)
	h.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "Started inventory-dev") {
		t.Fatalf("retried request: %q; want the run started", m.Text)
	}
	// Handled now: a replay of it is refused as before.
	h.post(t, "/slack/commands", "application/x-www-form-urlencoded", body)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "already handled") {
		t.Errorf("replay after the retry: %q; want it refused", m.Text)
	}
}

// TestStaleDecisionButtonDecidesNothing: a button posted for the gate's approval (decision 1)
// is pressed after the gate escalated (decision 2 pending, an escalation of the same step):
// nothing is sent to the run, and the person is told what is pending now. A button for the
// decision pending now is sent, signed for it.
func TestStaleDecisionButtonDecidesNothing(t *testing.T) {
	h := newHarness(t)
	h.fake.validate = approvalValidator
	id := workflows.RunWorkflowID("compromised-dev-key", "alice")
	h.fake.runs[id] = &fakeRun{id: id, runID: "run-9"}
	h.fake.status[id] = workflows.RunResult{WorkflowID: id, RunID: "run-9", Pending: []workflows.PendingApproval{{Step: "delete_keys", Kind: workflows.PendingKindEscalation, Seq: 2}}}
	stale, _ := json.Marshal(chatops.ApprovalButton{WorkflowID: id, Step: "delete_keys", Kind: workflows.PendingKindApproval, Seq: 1})
	h.press(t, "U0CAROL", chatops.ActionApprove, string(stale))
	h.srv.Wait()
	if r := h.resp.next(t); !strings.Contains(r.Text, "no longer pending") {
		t.Errorf("stale button: %q; want a refusal saying it is no longer pending", r.Text)
	}
	if _, ups := h.fake.snapshot(); len(ups) != 0 {
		t.Fatalf("a stale button sent %d updates; want none", len(ups))
	}
	current, _ := json.Marshal(chatops.ApprovalButton{WorkflowID: id, Step: "delete_keys", Kind: workflows.PendingKindEscalation, Seq: 2})
	h.press(t, "U0CAROL", chatops.ActionApprove, string(current))
	h.srv.Wait()
	h.resp.next(t)
	_, ups := h.fake.snapshot()
	if len(ups) != 1 {
		t.Fatalf("the current button sent %d updates; want 1", len(ups))
	}
	var signed workflows.ApprovalRequest
	b, _ := json.Marshal(ups[0])
	_ = json.Unmarshal(b, &signed)
	if signed.Signature == nil || signed.Signature.Kind != workflows.PendingKindEscalation || signed.Signature.Seq != 2 {
		t.Errorf("signature %+v; want it bound to the escalation numbered 2", signed.Signature)
	}
}
