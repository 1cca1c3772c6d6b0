package chatops_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// fakeSocketSlack is Slack's side of Socket Mode on loopback: apps.connections.open hands out
// a WebSocket URL; the test pushes envelopes through it and reads the acknowledgements.
type fakeSocketSlack struct {
	srv  *httptest.Server
	conn chan *websocket.Conn
}

func newFakeSocketSlack(t *testing.T) *fakeSocketSlack {
	f := &fakeSocketSlack{conn: make(chan *websocket.Conn, 1)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer xapp-1-test" {
			t.Errorf("apps.connections.open: expected the app-level token, found %q", r.Header.Get("Authorization"))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"})
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		_ = c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
		f.conn <- c
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func TestSocketModeSlashCommandAndButton(t *testing.T) {
	h := newHarness(t)
	sock := newFakeSocketSlack(t)
	api := slack.New("xoxb-test", slack.OptionAppLevelToken("xapp-1-test"), slack.OptionAPIURL(sock.srv.URL+"/api/"))
	sm := socketmode.New(api)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.srv.ServeSocketMode(ctx, sm) }()

	var conn *websocket.Conn
	select {
	case conn = <-sock.conn:
	case <-ctx.Done():
		t.Fatal("expected the server to open a Socket Mode connection, found none")
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	readAck := func(envelope string) map[string]any {
		t.Helper()
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				t.Fatalf("expected an acknowledgement of %s, found error %v", envelope, err)
			}
			if m["envelope_id"] == envelope {
				return m
			}
		}
	}

	// /revoke-dev over the socket: acknowledged with the confirmation, buttons and all.
	cmd := map[string]any{"command": "/revoke-dev", "text": "<@U0BOB|bob> pasted in a gist", "user_id": "U0CAROL", "channel_id": "C0SECOPS",
		"team_id": testenv.SlackTeamID, "response_url": h.resp.srv.URL + "/commands/1", "trigger_id": "trig-1"}
	if err := conn.WriteJSON(map[string]any{"envelope_id": "env-1", "type": "slash_commands", "payload": cmd, "accepts_response_payload": true}); err != nil {
		t.Fatal(err)
	}
	ack := readAck("env-1")
	payload, _ := json.Marshal(ack["payload"])
	var m slack.Msg
	if err := json.Unmarshal(payload, &m); err != nil || !strings.Contains(m.Text, "Revoke every credential of <@U0BOB> (bob)") || len(m.Blocks.BlockSet) != 2 {
		t.Fatalf("acknowledgement: expected the revoke confirmation with two blocks, found %s (%v)", payload, err)
	}
	confirm := m.Blocks.BlockSet[1].(*slack.ActionBlock).Elements.ElementSet[0].(*slack.ButtonBlockElement)

	// Pressing Confirm over the socket starts the run.
	ic := map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0CAROL"}, "channel": map[string]any{"id": "C0SECOPS"},
		"response_url": h.resp.srv.URL + "/actions/1", "trigger_id": "trig-2",
		"actions": []any{map[string]any{"action_id": chatops.ActionConfirm, "block_id": "b", "type": "button", "value": confirm.Value}}}
	if err := conn.WriteJSON(map[string]any{"envelope_id": "env-2", "type": "interactive", "payload": ic}); err != nil {
		t.Fatal(err)
	}
	readAck("env-2")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeSocketMode after cancel: expected nil, found %v", err)
	}
	h.srv.Wait()
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 || starts[0].Input.Inputs["subject"] != "bob" || starts[0].Options.ID != workflows.RunWorkflowID("compromised-dev-key", "bob") {
		t.Fatalf("expected one compromised-dev-key run for bob, found %+v", starts)
	}
	if got := h.resp.next(t); !strings.Contains(got.Text, "Started compromised-dev-key") {
		t.Errorf("response_url: expected the started message, found %q", got.Text)
	}
}

// ackRecorder records acknowledgements of ServeSocketEvents.
type ackRecorder chan []any

func (a ackRecorder) Ack(req socketmode.Request, payload ...any) error {
	a <- append([]any{req.EnvelopeID}, payload...)
	return nil
}

func TestSocketEventsAcknowledgeEverything(t *testing.T) {
	h := newHarness(t)
	events := make(chan socketmode.Event, 4)
	acks := make(ackRecorder, 4)
	events <- socketmode.Event{Type: socketmode.EventTypeConnected}
	events <- socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{Command: "/nope", UserID: "U0CAROL"}, Request: &socketmode.Request{EnvelopeID: "e1"}}
	events <- socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{}, Request: &socketmode.Request{EnvelopeID: "e2", RetryAttempt: 1}}
	events <- socketmode.Event{Type: socketmode.EventTypeEventsAPI, Request: &socketmode.Request{EnvelopeID: "e3"}}
	close(events)
	if err := h.srv.ServeSocketEvents(context.Background(), events, acks, nil); err != nil {
		t.Fatal(err)
	}
	h.srv.Wait()
	close(acks)
	got := map[string][]any{}
	for a := range acks {
		got[a[0].(string)] = a[1:]
	}
	if len(got) != 3 {
		t.Fatalf("expected 3 acknowledgements (not the connection event), found %v", got)
	}
	if p := got["e1"]; len(p) != 1 || !strings.Contains(p[0].(slack.Msg).Text, "does not know the command /nope") {
		t.Errorf("unknown command: expected an explanation, found %v", p)
	}
	if len(got["e2"]) != 0 || len(got["e3"]) != 0 {
		t.Errorf("malformed command and Events API: expected empty acknowledgements, found %v %v", got["e2"], got["e3"])
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Errorf("expected nothing started, found %d", len(starts))
	}
}
