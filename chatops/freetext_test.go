package chatops_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/workflows"
)

// titleRule binds the subject from the incident's title: whoever opens an incident on
// PSVCDEV would choose whom to contain.
func titleRule(o *chatops.Options) {
	o.Config.PagerDuty.Rules = []chatops.TriggerRule{{Service: "PSVCDEV", Playbook: "compromised-dev-key",
		Inputs: map[string]chatops.InputSource{"subject": {From: "title", Pattern: `contain ([a-z]+)`}, "reason": {From: "title"}}}}
}

// confirmButtons returns the values of the Confirm and Cancel buttons of a posted message.
func confirmButtons(t *testing.T, blocks json.RawMessage) (confirm, cancel string) {
	t.Helper()
	var bs []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatalf("blocks: %v: %s", err, blocks)
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			switch e.ActionID {
			case chatops.ActionConfirm:
				confirm = e.Value
			case chatops.ActionCancel:
				cancel = e.Value
			}
		}
	}
	if confirm == "" || cancel == "" {
		t.Fatalf("no Confirm and Cancel buttons in %s", blocks)
	}
	return confirm, cancel
}

// Without a channel to ask in, an incident whose subject comes from its title starts nothing.
func TestFreeTextSubjectWithoutConfirmChannelStartsNothing(t *testing.T) {
	h := newHarness(t, titleRule)
	code, out := h.webhook(t, pdEvent("01EV", chatops.EventIncidentTriggered, "PINC100", "PSVCDEV", "high", "please contain bob now"))
	if code != http.StatusOK || out["status"] != "needs confirmation" || !strings.Contains(out["error"], "subject") {
		t.Fatalf("webhook: %d %v; want 200 needs confirmation naming subject", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("a run started from free text: %+v", starts)
	}
}

// With a confirmation channel, the incident's run waits there for a responder: not the one
// who raised the incident, not its subject, and only someone who may start the playbook.
func TestFreeTextSubjectWaitsForAResponder(t *testing.T) {
	h := newHarness(t, titleRule, func(o *chatops.Options) {
		o.Config.PagerDuty.ConfirmChannel = "C0SECOPS"
		o.Config.Directory[2].PagerDutyID = "PALICE1" // carol raised the incident (the event's agent)
		o.Config.Roles["responder"] = chatops.RoleMembers{Users: []string{"U0BOB", "U0CAROL", "U0ALICE"}}
	})
	ev := pdEvent("01EV", chatops.EventIncidentTriggered, "PINC100", "PSVCDEV", "high", "please contain bob now")
	code, out := h.webhook(t, ev)
	if code != http.StatusAccepted || out["status"] != "awaiting confirmation" || out["workflow_id"] != workflows.IncidentWorkflowID("PINC100") {
		t.Fatalf("webhook: %d %v; want 202 awaiting confirmation", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("started before anyone confirmed: %+v", starts)
	}
	msgs := h.slack.Messages("C0SECOPS")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "PINC100") || !strings.Contains(msgs[0].Text, "subject: `bob` _(from the incident's text)_") || !strings.Contains(msgs[0].Text, "raised by carol") {
		t.Fatalf("confirmation message %+v", msgs)
	}
	confirm, cancel := confirmButtons(t, msgs[0].Blocks)
	// PagerDuty redelivers: no second message.
	if code, out := h.webhook(t, ev); code != http.StatusAccepted || out["status"] != "duplicate event" || len(h.slack.Messages("C0SECOPS")) != 1 {
		t.Errorf("redelivery: %d %v, %d messages; want duplicate event and still one message", code, out, len(h.slack.Messages("C0SECOPS")))
	}

	refusals := []struct{ user, action, value, want string }{
		{"U0CAROL", chatops.ActionConfirm, confirm, "You raised incident PINC100"},
		{"U0BOB", chatops.ActionConfirm, confirm, "You are the subject"},
		{"U0NOBODY", chatops.ActionConfirm, confirm, "You cannot start a response"},
		{"U0NOBODY", chatops.ActionCancel, cancel, "You cannot decide"},
		// Declining is deciding too: not by the person who raised it, nor by its subject.
		{"U0CAROL", chatops.ActionCancel, cancel, "You raised incident PINC100, so someone else must decline"},
		{"U0BOB", chatops.ActionCancel, cancel, "You are the subject of incident PINC100's run, so someone else must decline"},
	}
	for _, r := range refusals {
		h.press(t, r.user, r.action, r.value)
		h.srv.Wait()
		if m := h.resp.next(t); !strings.Contains(m.Text, r.want) || m.ReplaceOriginal {
			t.Errorf("%s pressing %s: %+v; want an ephemeral %q", r.user, r.action, m, r.want)
		}
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("a refused confirmation started the run: %+v", starts)
	}

	// Alice, a responder who neither raised it nor is its subject, confirms: the incident's run.
	h.press(t, "U0ALICE", chatops.ActionConfirm, confirm)
	h.srv.Wait()
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 {
		t.Fatalf("%d starts after confirming; want 1", len(starts))
	}
	st := starts[0]
	in := st.Input
	if st.Options.ID != workflows.IncidentWorkflowID("PINC100") || in.Inputs["subject"] != "bob" || in.Trigger.Kind != "pagerduty" || in.Trigger.By != "carol" ||
		in.Report.PagerDutyIncident != "PINC100" || in.Report.SlackChannel != "C0SECOPS" || in.Trigger.At.IsZero() {
		t.Errorf("started %s: inputs %v trigger %+v report %+v", st.Options.ID, in.Inputs, in.Trigger, in.Report)
	}
	// The run records who confirmed it: the workflow refuses them as an approver.
	if in.Trigger.ConfirmedBy != "alice" {
		t.Errorf("trigger.confirmed_by = %q; expected alice, who confirmed", in.Trigger.ConfirmedBy)
	}
	if m := h.resp.next(t); !m.ReplaceOriginal || !strings.Contains(m.Text, "Started compromised-dev-key") {
		t.Errorf("after confirming: %+v", m)
	}
	// A second responder confirms too: the incident has its run, nothing new starts.
	h.fake.finish(workflows.IncidentWorkflowID("PINC100"))
	h.press(t, "U0ALICE", chatops.ActionConfirm, confirm)
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "already running") {
		t.Errorf("second confirmation: %q", m.Text)
	}
	fresh := 0
	starts, _ = h.fake.snapshot()
	for _, s := range starts {
		if !s.Joined {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d runs for one incident; want 1", fresh)
	}
}

// A responder may decline an incident's run; nothing starts.
func TestFreeTextRunDeclined(t *testing.T) {
	h := newHarness(t, titleRule, func(o *chatops.Options) { o.Config.PagerDuty.ConfirmChannel = "C0SECOPS" })
	h.webhook(t, pdEvent("01EV", chatops.EventIncidentTriggered, "PINC101", "PSVCDEV", "high", "contain alice <!channel> <http://evil.example|docs>"))
	msg := h.slack.Messages("C0SECOPS")[0]
	// The incident's text cannot mention everyone or forge a link in the confirmation.
	if strings.Contains(msg.Text, "<!channel>") || strings.Contains(msg.Text, "<http") || !strings.Contains(msg.Text, "&lt;!channel&gt;") {
		t.Errorf("confirmation shows the incident's text unescaped: %q", msg.Text)
	}
	_, cancel := confirmButtons(t, msg.Blocks)
	h.press(t, "U0CAROL", chatops.ActionCancel, cancel)
	h.srv.Wait()
	if m := h.resp.next(t); !m.ReplaceOriginal || !strings.Contains(m.Text, "chose not to start compromised-dev-key for PagerDuty incident PINC101") {
		t.Errorf("decline: %+v", m)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Errorf("declined but started: %+v", starts)
	}
}

// A playbook's own trigger that takes the subject from the title waits for a responder too,
// whatever its CEL expression does with the text; so does one that takes it from the
// incident's custom details, which whoever holds the routing key writes. A trigger reading
// only what PagerDuty sets starts at once.
func TestFreeTextInPlaybookTriggers(t *testing.T) {
	const titleTrigger = `name: title-trigger
title: Title trigger
severity: low
inputs:
  subject: {type: user, required: true, pattern: '^[a-z]+$'}
  reason: {type: string, default: none}
triggers:
  pagerduty:
    - service: PSVCFREE
      inputs:
        subject: ${{ incident.title.lowerAscii().split(" ")[1] }}
        reason: ${{ incident.title }}
    - service: PSVCSTRUCT
      condition: ${{ incident.title.contains("contain") }}
      inputs:
        subject: ${{ incident.details.subject }}
        reason: ${{ incident.title }}
    - service: PSVCFIXED
      inputs:
        subject: '${{ incident.service == "PSVCFIXED" ? "alice" : "nobody" }}'
        reason: ${{ incident.details.note }}
steps:
  - id: inv
    action: awsiam.inventory
    with:
      user: ${{ inputs.subject }}
  - id: check
    action: awsiam.verify_contained
    needs: [inv]
    with:
      user: ${{ inputs.subject }}
      access_key_ids: ${{ steps.inv.outputs.access_key_ids }}
`
	lib := mustLibrary(t, map[string]string{"title.yaml": titleTrigger})
	h := newHarness(t, func(o *chatops.Options) { o.Library = lib; o.Config.PagerDuty.Rules = nil })
	code, out := h.webhook(t, pdEvent("01A", chatops.EventIncidentTriggered, "PINC200", "PSVCFREE", "high", "Contain BOB please"))
	if code != http.StatusOK || out["status"] != "needs confirmation" || !strings.Contains(out["error"], "subject") || strings.Contains(out["error"], "reason") {
		t.Errorf("subject from the title: %d %v; want needs confirmation for subject only", code, out)
	}
	code, out = h.webhook(t, pdEvent("01B", chatops.EventIncidentTriggered, "PINC201", "PSVCSTRUCT", "high", "contain the key for alice"))
	if code != http.StatusOK || out["status"] != "needs confirmation" || !strings.Contains(out["error"], "subject") {
		t.Errorf("subject from custom details: %d %v; want needs confirmation for subject", code, out)
	}
	b, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": "01C", "event_type": chatops.EventIncidentTriggered, "resource_type": "incident", "occurred_at": "2026-11-23T15:04:00Z",
		"data": map[string]any{"id": "PINC202", "title": "anything", "urgency": "high", "service": map[string]any{"id": "PSVCFIXED"},
			"body": map[string]any{"details": map[string]any{"note": "from the monitor"}}},
	}})
	code, out = h.webhook(t, b)
	if code != http.StatusAccepted || out["status"] != "started" {
		t.Errorf("subject from the service PagerDuty sets: %d %v; want started", code, out)
	}
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 || starts[0].Input.Plan.Name != "title-trigger" || starts[0].Input.Inputs["subject"] != "alice" || starts[0].Input.Inputs["reason"] != "from the monitor" {
		t.Errorf("starts %+v; want one title-trigger run for alice, from PSVCFIXED", starts)
	}
}

// A configured rule's details.KEY input is free text unless the rule marks it trusted:
// Events API v2 custom_details are written by whoever holds the routing key.
func TestDetailsAreFreeTextUnlessTrusted(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		h := newHarness(t, func(o *chatops.Options) {
			o.Config.PagerDuty.Rules[0].Inputs["subject"] = chatops.InputSource{From: "details.subject", Trusted: trusted}
		})
		code, out := h.webhook(t, pdEvent("01D", chatops.EventIncidentTriggered, "PINC210", "PSVCDEV", "high", "leaked key for bob"))
		starts, _ := h.fake.snapshot()
		switch {
		case !trusted && (code != http.StatusOK || out["status"] != "needs confirmation" || !strings.Contains(out["error"], "subject") || len(starts) != 0):
			t.Errorf("untrusted details.subject: %d %v, %d starts; want needs confirmation for subject and no start", code, out, len(starts))
		case trusted && (code != http.StatusAccepted || out["status"] != "started" || len(starts) != 1 || starts[0].Input.Inputs["subject"] != "bob"):
			t.Errorf("trusted details.subject: %d %v, starts %+v; want bob's run started", code, out, starts)
		}
	}
	// Trusting what a person types is refused when the configuration is checked.
	c := chatops.Config{PagerDuty: chatops.PagerDutyConfig{Rules: []chatops.TriggerRule{{Playbook: "compromised-dev-key",
		Inputs: map[string]chatops.InputSource{"subject": {From: "title", Trusted: true}}}}}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "pagerduty.rules[0].inputs.subject.trusted: expected only on an input from details.KEY") {
		t.Errorf("Validate of trusted on title: %v; want it refused", err)
	}
}

// An incident a person opened by hand carries its body's details as text: it is read as the
// description (free text), not refused.
func TestIncidentWithTextDetails(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) {
		o.Config.PagerDuty.Rules = []chatops.TriggerRule{{Service: "PSVCDEV", Playbook: "compromised-dev-key",
			Inputs: map[string]chatops.InputSource{"subject": {From: "description", Pattern: `user: ([a-z]+)`}}}}
	})
	b, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": "01T", "event_type": chatops.EventIncidentTriggered, "resource_type": "incident", "occurred_at": "2026-11-23T15:04:00Z",
		"data": map[string]any{"id": "PINC300", "title": "leak", "urgency": "high", "service": map[string]any{"id": "PSVCDEV"},
			"body": map[string]any{"type": "incident_body", "details": "saw a key of user: bob in a gist"}},
	}})
	code, out := h.webhook(t, b)
	if code != http.StatusOK || out["status"] != "needs confirmation" {
		t.Errorf("subject from a typed description: %d %v; want needs confirmation", code, out)
	}
}
