package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestRevokeDevThroughDev is the responder's path end to end on a real server: a signed
// `/revoke-dev` to `firebreak dev`, the confirmation button, and the run on the production
// queue (bound to the sandbox in dev) until it has contained the subject and reported.
func TestRevokeDevThroughDev(t *testing.T) {
	state := t.TempDir()
	t.Setenv("FIREBREAK_STATE_DIR", state)
	t.Setenv("FIREBREAK_CODEC_KEY", "")
	t.Setenv("SLACK_SIGNING_SECRET", "")
	ctx, cancel := context.WithCancel(context.Background())
	out := newWatchWriter()
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, out, io.Discard, devFlags{stateDir: state, listen: "127.0.0.1:0", temporalIP: "127.0.0.1", temporalPort: 0, logLevel: "error"})
	}()
	defer func() {
		cancel()
		<-done
	}()
	addr := out.waitFor(t, regexp.MustCompile(`Temporal\s+(\S+)`), done)
	httpAddr := out.waitFor(t, regexp.MustCompile(`HTTP\s+http://(\S+)/healthz`), done)
	secret, err := os.ReadFile(filepath.Join(state, "dev-slack-signing-secret"))
	if err != nil {
		t.Fatal(err)
	}

	// response_url receiver: what Slack would show the requester.
	replies := make(chan slack.Msg, 8)
	respSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slack.Msg
		_ = json.NewDecoder(r.Body).Decode(&m)
		replies <- m
	}))
	defer respSrv.Close()

	post := func(path string, form url.Values, secret string) *http.Response {
		body := []byte(form.Encode())
		req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(chatops.SlackSignature(secret, ts, body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	cmd := url.Values{"command": {"/revoke-dev"}, "text": {"<@U0ALICE|alice> key pasted in a public gist"}, "user_id": {"U0BOB"}, "user_name": {"bob"},
		"channel_id": {"C0SECOPS"}, "team_id": {testenv.SlackTeamID}, "response_url": {respSrv.URL}, "trigger_id": {"trig-e2e"}}

	// A forged request is refused before anything happens.
	if resp := post("/slack/commands", cmd, "not-the-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged request: status %d, want 401", resp.StatusCode)
	}
	resp := post("/slack/commands", cmd, strings.TrimSpace(string(secret)))
	var ack slack.Msg
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ack: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	var confirm string
	for _, b := range ack.Blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok {
			for _, e := range ab.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID == chatops.ActionConfirm {
					confirm = btn.Value
				}
			}
		}
	}
	if confirm == "" {
		t.Fatalf("no confirmation button in %q", ack.Text)
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0BOB"}, "channel": map[string]any{"id": "C0SECOPS"},
		"response_url": respSrv.URL, "trigger_id": "trig-e2e-2",
		"actions": []any{map[string]any{"action_id": chatops.ActionConfirm, "block_id": "b", "type": "button", "value": confirm}},
	})
	if resp := post("/slack/interactions", url.Values{"payload": {string(payload)}}, strings.TrimSpace(string(secret))); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: status %d", resp.StatusCode)
	}
	select {
	case m := <-replies:
		if !strings.Contains(m.Text, "Started") {
			t.Fatalf("after confirming: %q", m.Text)
		}
	case <-time.After(time.Minute):
		t.Fatal("no reply after confirming")
	}

	t.Setenv("TEMPORAL_ADDRESS", addr)
	conn, err := dialTemporal(context.Background(), envSettings(), newDiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The two-person gate holds the rotation of alice's shared secrets for a second person, and
	// the secret she could read that is marked manual waits for its owner (owners_rotate):
	// once both are pending, carol (security-oncall in dev, and that secret's owner) presses
	// each Approve button.
	runID := workflows.RunWorkflowID("compromised-dev-key", "alice")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(time.Minute); ; {
		var pend []workflows.PendingApproval
		if v, err := conn.Client.QueryWorkflow(context.Background(), runID, "", workflows.QueryPending); err == nil && v.Get(&pend) == nil && len(pend) == 2 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the two-person gate before rotate_shared_secrets never became pending")
		}
	}
	for i, step := range []string{"two_person_rotate_shared_secrets", "owners_rotate"} {
		button, _ := json.Marshal(workflows.DecisionButton{WorkflowID: runID, Step: step})
		approve, _ := json.Marshal(map[string]any{
			"type": "block_actions", "user": map[string]any{"id": "U0CAROL"}, "channel": map[string]any{"id": "C0SECOPS"},
			"response_url": respSrv.URL, "trigger_id": fmt.Sprintf("trig-e2e-%d", 3+i),
			"actions": []any{map[string]any{"action_id": workflows.ActionApprove, "block_id": "b", "type": "button", "value": string(button)}},
		})
		if resp := post("/slack/interactions", url.Values{"payload": {string(approve)}}, strings.TrimSpace(string(secret))); resp.StatusCode != http.StatusOK {
			t.Fatalf("approve %s: status %d", step, resp.StatusCode)
		}
	}
	var res workflows.RunResult
	err = conn.Client.GetWorkflow(context.Background(), workflows.RunWorkflowID("compromised-dev-key", "alice"), "").Get(context.Background(), &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	if err != nil || res.Outcome != workflows.OutcomeContained {
		t.Fatalf("run: %v outcome %s %s", err, res.Outcome, res.Error)
	}
	if res.Trigger.Kind != "slack" || res.Drill || len(res.ReportErrors) != 0 {
		t.Fatalf("trigger %+v drill %v report errors %v", res.Trigger, res.Drill, res.ReportErrors)
	}
}
