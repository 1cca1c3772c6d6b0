package chatops

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseCommand: any form body parses or is refused with an error, never a panic, and
// whatever parses round-trips its text.
func FuzzParseCommand(f *testing.F) {
	f.Add([]byte("command=%2Frevoke-dev&text=%3C%40U0ALICE%7Calice%3E+leak&user_id=U0BOB&response_url=http%3A%2F%2F127.0.0.1%2Fr"))
	f.Add([]byte("command=/firebreak&text=run+x+a%3D%22b+c%22&user_id=U1"))
	f.Add([]byte("%zz&&=;"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := parseCommand(body)
		if err != nil {
			return
		}
		if cmd.Command == "" || cmd.UserID == "" {
			t.Fatalf("parsed without command or user: %+v", cmd)
		}
		form, perr := url.ParseQuery(string(body))
		if perr == nil && form.Get("text") != cmd.Text {
			t.Fatalf("text %q, form says %q", cmd.Text, form.Get("text"))
		}
		args := splitArgs(cmd.Text)
		for _, a := range args {
			if a == "" && !strings.ContainsAny(cmd.Text, `"“”`) {
				t.Fatalf("empty argument from %q", cmd.Text)
			}
		}
		_, _ = keyValues(args)
	})
}

// FuzzParseInteraction: any payload parses or errors; approval buttons and pending starts
// decode or are refused.
func FuzzParseInteraction(f *testing.F) {
	p, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0BOB"},
		"actions": []any{map[string]any{"action_id": ActionConfirm, "value": `{"p":"compromised-dev-key","i":{"subject":"alice"},"u":"U0BOB"}`}}})
	f.Add([]byte("payload=" + url.QueryEscape(string(p))))
	f.Add([]byte("payload=%7B%22type%22%3A1%7D"))
	f.Add([]byte("payload="))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := parseInteraction(body)
		if err != nil {
			return
		}
		for _, a := range ic.ActionCallback.BlockActions {
			if a == nil {
				continue
			}
			var ps pendingStart
			_ = json.Unmarshal([]byte(a.Value), &ps)
			var b ApprovalButton
			_ = json.Unmarshal([]byte(a.Value), &b)
		}
	})
}

// FuzzParsePagerDuty: any JSON body parses or errors; a parsed incident is matched without
// panicking.
func FuzzParsePagerDuty(f *testing.F) {
	f.Add([]byte(`{"event":{"id":"E","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2026-11-23T15:04:00Z","data":{"id":"P","title":"key for alice","urgency":"high","service":{"id":"S"},"priority":{"summary":"P1"}}}}`))
	f.Add([]byte(`{"event":{"event_type":"pagey.ping","data":{"type":"ping"}}}`))
	f.Add([]byte(`{"event":{"event_type":"incident.triggered","resource_type":"incident","data":[]}}`))
	f.Add([]byte(`null`))
	rules := []TriggerRule{{Service: "S", Playbook: "p", Inputs: map[string]InputSource{"subject": {From: "title", Pattern: `for (\w*)`}}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		et, _, _, inc, err := parsePagerDuty(body)
		if err != nil {
			return
		}
		if et == "" {
			t.Fatal("parsed an event without a type")
		}
		if pb, in, ok := MatchIncident(rules, inc); ok && (pb != "p" || in["subject"] == "") {
			t.Fatalf("match %q %v", pb, in)
		}
	})
}

func TestSplitArgs(t *testing.T) {
	cases := map[string][]string{
		`run pb subject=alice reason="key in gist"`: {"run", "pb", "subject=alice", "reason=key in gist"},
		"  a\tb\n c ":                {"a", "b", "c"},
		`reason=“smart quotes here”`: {"reason=smart quotes here"},
		`x=""`:                       {"x="},
		"":                           nil,
	}
	for in, want := range cases {
		got := splitArgs(in)
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitArgs(%q) = %q, want %q", in, got, want)
		}
	}
}
