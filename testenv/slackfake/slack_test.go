package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
	"github.com/firebreak-dev/firebreak/testenv/slackfake"
)

func slackSandbox(t *testing.T) (*slackfake.Slack, *slackapi.Client, *fakebase.Recorder) {
	t.Helper()
	rec := &fakebase.Recorder{}
	s := slackfake.New(seed.DefaultOrg(), rec)
	t.Cleanup(s.Close)
	return s, slackapi.New(s.BotToken(), slackapi.OptionAPIURL(s.URL()+"/api/")), rec
}

func slackErrCode(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestSlackAuth(t *testing.T) {
	s, client, rec := slackSandbox(t)
	ctx := context.Background()
	if !fakebase.ContainsCanary(s.BotToken()) {
		t.Errorf("BotToken() = %q, want it to contain the canary", s.BotToken())
	}
	resp, err := client.AuthTestContext(ctx)
	if err != nil {
		t.Fatalf("auth.test: %v", err)
	}
	if resp.UserID != slackfake.BotUserID || resp.TeamID != slackfake.TeamID || resp.BotID != slackfake.BotID {
		t.Errorf("auth.test = %+v, want bot %s in team %s", resp, slackfake.BotUserID, slackfake.TeamID)
	}
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"wrong token", "xoxb-wrong", "invalid_auth"},
		{"no token", "", "not_authed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := slackapi.New(tt.token, slackapi.OptionAPIURL(s.URL()+"/api/"))
			_, err := bad.AuthTestContext(ctx)
			if got := slackErrCode(err); got != tt.want {
				t.Errorf("auth.test error = %v, want Slack error %q", err, tt.want)
			}
			if _, _, err := bad.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false)); slackErrCode(err) != tt.want {
				t.Errorf("chat.postMessage error = %v, want Slack error %q", err, tt.want)
			}
		})
	}
	if n := rec.Count("slack", "auth.test"); n != 3 {
		t.Errorf("recorded %d auth.test calls, want 3", n)
	}
	if len(s.Messages("C0DRILLS")) != 0 {
		t.Errorf("a post with a bad token was stored")
	}
}

func TestSlackPostThreadUpdateHistory(t *testing.T) {
	s, client, rec := slackSandbox(t)
	ctx := context.Background()
	md := slackapi.SlackMetadata{EventType: "firebreak_message", EventPayload: map[string]any{"key": "k1"}}
	blocks := slackapi.NewSectionBlock(slackapi.NewTextBlockObject("mrkdwn", "*revoking*", false, false), nil, nil)

	ch, ts1, err := client.PostMessageContext(ctx, "#firebreak-drills",
		slackapi.MsgOptionText("revoking alice", false), slackapi.MsgOptionBlocks(blocks), slackapi.MsgOptionMetadata(md))
	if err != nil {
		t.Fatalf("post by name: %v", err)
	}
	if ch != "C0DRILLS" {
		t.Errorf("post by name answered channel %q, want the ID C0DRILLS", ch)
	}
	_, ts2, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("step 1 done", false), slackapi.MsgOptionTS(ts1))
	if err != nil {
		t.Fatalf("thread reply: %v", err)
	}
	_, ts3, err := client.PostMessageContext(ctx, "firebreak-drills", slackapi.MsgOptionText("another", false))
	if err != nil {
		t.Fatalf("second top-level post: %v", err)
	}
	if !(ts1 < ts2 && ts2 < ts3) || len(ts1) != len("1732370000.000100") {
		t.Errorf("timestamps %q %q %q, want strictly increasing like 1732370000.000100", ts1, ts2, ts3)
	}

	if _, _, _, err := client.UpdateMessageContext(ctx, "C0DRILLS", ts1, slackapi.MsgOptionText("alice revoked", false)); err != nil {
		t.Fatalf("update: %v", err)
	}

	msgs := s.Messages("C0DRILLS")
	if len(msgs) != 3 {
		t.Fatalf("Messages = %d, want 3", len(msgs))
	}
	if m := msgs[0]; m.Text != "alice revoked" || m.Edits != 1 || m.Metadata == nil || m.Metadata.EventPayload["key"] != "k1" || !bytes.Contains(m.Blocks, []byte("*revoking*")) {
		t.Errorf("first message = %+v, want updated text, one edit, metadata key k1 and the blocks", m)
	}
	if msgs[1].ThreadTS != ts1 {
		t.Errorf("reply thread_ts = %q, want %q", msgs[1].ThreadTS, ts1)
	}

	hist, err := client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: "C0DRILLS", IncludeAllMetadata: true})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(hist.Messages) != 2 || hist.Messages[0].Timestamp != ts3 || hist.Messages[1].Timestamp != ts1 {
		t.Fatalf("history = %+v, want the two top-level messages newest first", hist.Messages)
	}
	if got := hist.Messages[1]; got.Metadata.EventType != "firebreak_message" || got.ReplyCount != 1 || len(got.Blocks.BlockSet) != 1 {
		t.Errorf("history message = %+v, want metadata, reply_count 1 and one block", got)
	}
	plain, err := client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: "C0DRILLS", Limit: 1})
	if err != nil {
		t.Fatalf("history without metadata: %v", err)
	}
	if len(plain.Messages) != 1 || !plain.HasMore || plain.ResponseMetaData.NextCursor == "" {
		t.Errorf("history limit 1 = %+v, want one message and a cursor", plain)
	}
	next, err := client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: "C0DRILLS", Limit: 1, Cursor: plain.ResponseMetaData.NextCursor})
	if err != nil || len(next.Messages) != 1 || next.Messages[0].Timestamp != ts1 || next.Messages[0].Metadata.EventType != "" {
		t.Errorf("second page = %+v, %v; want the first message without metadata", next, err)
	}

	replies, _, _, err := client.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{ChannelID: "C0DRILLS", Timestamp: ts1, IncludeAllMetadata: true})
	if err != nil {
		t.Fatalf("replies: %v", err)
	}
	if len(replies) != 2 || replies[0].Timestamp != ts1 || replies[1].Timestamp != ts2 || replies[1].ThreadTimestamp != ts1 {
		t.Errorf("replies = %+v, want the parent then the reply", replies)
	}
	if n := rec.Count("slack", "chat.postMessage"); n != 3 {
		t.Errorf("recorded %d chat.postMessage, want 3", n)
	}
}

func TestSlackErrors(t *testing.T) {
	_, client, _ := slackSandbox(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"post to unknown channel", func() error {
			_, _, err := client.PostMessageContext(ctx, "C0NOPE", slackapi.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"history by name", func() error {
			_, err := client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: "firebreak-drills"})
			return err
		}, "channel_not_found"},
		{"reply to unknown thread", func() error {
			_, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false), slackapi.MsgOptionTS("1.000000"))
			return err
		}, "thread_not_found"},
		{"update unknown message", func() error {
			_, _, _, err := client.UpdateMessageContext(ctx, "C0DRILLS", "1.000000", slackapi.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"empty post", func() error {
			_, _, err := client.PostMessageContext(ctx, "C0DRILLS")
			return err
		}, "no_text"},
		{"unknown email", func() error {
			_, err := client.GetUserByEmailContext(ctx, "mallory@example.test")
			return err
		}, "users_not_found"},
		{"unknown user", func() error {
			_, err := client.GetUserInfoContext(ctx, "U0NOPE")
			return err
		}, "user_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slackErrCode(tt.call()); got != tt.want {
				t.Errorf("error code %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSlackUsers(t *testing.T) {
	_, client, _ := slackSandbox(t)
	ctx := context.Background()
	u, err := client.GetUserByEmailContext(ctx, "alice@example.test")
	if err != nil {
		t.Fatalf("lookupByEmail: %v", err)
	}
	if u.ID != "U0ALICE" || u.Name != "alice" || u.Profile.Email != "alice@example.test" {
		t.Errorf("lookupByEmail = %+v, want alice", u)
	}
	info, err := client.GetUserInfoContext(ctx, "U0BOB")
	if err != nil || info.Name != "bob" {
		t.Errorf("users.info = %+v, %v; want bob", info, err)
	}
}

func TestSlackRateLimitAndFaults(t *testing.T) {
	s, client, rec := slackSandbox(t)
	ctx := context.Background()
	s.RateLimit(1, 1500*time.Millisecond)
	_, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false))
	var rl *slackapi.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("rate-limited post error = %v, want RateLimitedError after 2s (1.5s rounded up)", err)
	}
	if _, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false)); err != nil {
		t.Fatalf("post after the rate limit: %v", err)
	}
	calls := rec.Calls("slack")
	if calls[0].Status != http.StatusTooManyRequests || calls[1].Status != http.StatusOK {
		t.Errorf("recorded statuses %d, %d; want 429 then 200", calls[0].Status, calls[1].Status)
	}

	s.FailMethod("chat.postMessage", http.StatusServiceUnavailable)
	_, _, err = client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false))
	var sc slackapi.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Errorf("faulted post error = %v, want HTTP 503", err)
	}
	if _, err := client.AuthTestContext(ctx); err != nil {
		t.Errorf("auth.test while only chat.postMessage is faulted: %v", err)
	}
	s.FailMethod("chat.postMessage", 0)
	s.SetError("chat.postMessage", "not_in_channel")
	if _, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false)); slackErrCode(err) != "not_in_channel" {
		t.Errorf("post with SetError = %v, want not_in_channel", err)
	}
	s.SetError("chat.postMessage", "")
	if _, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("x", false)); err != nil {
		t.Errorf("post after clearing faults: %v", err)
	}

	// A fault function sees the request (and may read its form) before the sandbox does.
	s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.FormValue("text") != "boom" {
			return false
		}
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	if _, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("boom", false)); !errors.As(err, &sc) || sc.Code != http.StatusBadGateway {
		t.Errorf("post caught by the fault = %v, want HTTP 502", err)
	}
	if _, _, err := client.PostMessageContext(ctx, "C0DRILLS", slackapi.MsgOptionText("fine", false)); err != nil {
		t.Errorf("post the fault lets through: %v", err)
	}
	s.SetFault(nil)
	if got := s.Messages("C0DRILLS"); got[len(got)-1].Text != "fine" {
		t.Errorf("last stored message = %+v, want the one the fault let through", got[len(got)-1])
	}
}

// TestSlackJSONBody checks the JSON request form that Slack also accepts (bearer token in the
// header, non-string values such as metadata as JSON).
func TestSlackJSONBody(t *testing.T) {
	s, _, _ := slackSandbox(t)
	body, _ := json.Marshal(map[string]any{
		"channel": "C0SECOPS", "text": "hello",
		"metadata": map[string]any{"event_type": "firebreak_message", "event_payload": map[string]any{"key": "j1"}},
	})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/api/chat.postMessage", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+s.BotToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("JSON post = %+v, %v; want ok", out, err)
	}
	msgs := s.Messages("sec-incidents")
	if len(msgs) != 1 || msgs[0].Metadata == nil || msgs[0].Metadata.EventPayload["key"] != "j1" {
		t.Errorf("stored %+v, want one message with metadata key j1", msgs)
	}
}
