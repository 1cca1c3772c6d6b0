package chatops_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/workflows"
)

// pdEvent is a v3 webhook body for an incident. When the title names someone ("… key for
// alice"), the incident also carries them as a structured detail, as a monitoring
// integration's event would (details.subject), which the test config's rule binds from.
func pdEvent(eventID, eventType, incidentID, service, urgency, title string) []byte {
	data := map[string]any{
		"id": incidentID, "type": "incident", "title": title, "status": "triggered", "urgency": urgency,
		"service":  map[string]any{"id": service, "type": "service_reference"},
		"priority": map[string]any{"summary": "P1"},
	}
	if m := regexp.MustCompile(`key for ([a-z]+)`).FindStringSubmatch(title); m != nil {
		data["body"] = map[string]any{"type": "incident_body", "details": map[string]any{"subject": m[1]}}
	}
	b, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": eventID, "event_type": eventType, "resource_type": "incident", "occurred_at": "2026-11-23T15:04:00Z",
		"agent": map[string]any{"id": "PALICE1", "type": "user_reference"},
		"data":  data,
	}})
	return b
}

func (h *harness) webhook(t *testing.T, body []byte) (int, map[string]string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/pagerduty/webhook", bytes.NewReader(body))
	r.Header.Set("X-PagerDuty-Signature", pdSign(pdSecret, body))
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, r)
	var out map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestPagerDutyTriggers(t *testing.T) {
	h := newHarness(t)
	ev := pdEvent("01EVENT", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "Suspected leaked AWS key for alice")
	code, out := h.webhook(t, ev)
	if code != http.StatusAccepted || out["status"] != "started" || out["workflow_id"] != workflows.IncidentWorkflowID("PINC001") {
		t.Fatalf("triggered: %d %v", code, out)
	}
	starts, _ := h.fake.snapshot()
	in := starts[0].Input
	if in.Report.PagerDutyIncident != "PINC001" || in.Inputs["subject"] != "alice" || in.Inputs["reason"] != "Suspected leaked AWS key for alice" ||
		in.Trigger.Kind != "pagerduty" || in.Trigger.At.IsZero() || starts[0].Options.TaskQueue != workflows.TaskQueue ||
		in.Report.TemporalUIURL != "http://127.0.0.1:8233/namespaces/default" {
		t.Errorf("input %+v", in)
	}
	// The same event redelivered is known by its event id; another event for the same
	// incident joins by the incident's workflow id.
	code, out = h.webhook(t, ev)
	if code != http.StatusAccepted || out["status"] != "duplicate event" || out["run_id"] != "run-1" {
		t.Errorf("redelivery: %d %v; want duplicate event run-1", code, out)
	}
	code, out = h.webhook(t, pdEvent("01OTHER", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "Suspected leaked AWS key for alice"))
	if code != http.StatusAccepted || out["status"] != "already running" || out["run_id"] != "run-1" {
		t.Errorf("second event for the incident: %d %v; want already running run-1", code, out)
	}
	// Pings, other events, non-matching incidents and unusable titles start nothing.
	for _, body := range [][]byte{
		[]byte(`{"event":{"id":"01PING","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-11-23T15:04:00Z","data":{"message":"Hello from your friend Pagey!","type":"ping"}}}`),
		pdEvent("01ACK", "incident.acknowledged", "PINC002", "PSVCDEV", "high", "key for bob"),
		pdEvent("01LOW", chatops.EventIncidentTriggered, "PINC003", "PSVCDEV", "low", "key for bob"),
		pdEvent("01SVC", chatops.EventIncidentTriggered, "PINC004", "POTHER", "high", "key for bob"),
		pdEvent("01NOSUBJ", chatops.EventIncidentTriggered, "PINC005", "PSVCDEV", "high", "disk full"),
	} {
		if code, out := h.webhook(t, body); code != http.StatusOK {
			t.Errorf("no-op event: %d %v; want 200", code, out)
		}
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 1 || h.fake.runs[workflows.IncidentWorkflowID("PINC001")] == nil || len(h.fake.runs) != 1 {
		t.Errorf("starts %d runs %d; want 1 start (redeliveries are answered from Describe) and 1 run", len(starts), len(h.fake.runs))
	}
	// A body that is signed but not JSON is a bad request.
	if code, _ := h.webhook(t, []byte("not json")); code != http.StatusBadRequest {
		t.Errorf("garbage: %d; want 400", code)
	}
}

func TestPagerDutyDuplicates(t *testing.T) {
	h := newHarness(t)
	id := workflows.IncidentWorkflowID("PINC001")
	ev := pdEvent("01EVENT", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "key for alice")
	if code, out := h.webhook(t, ev); code != http.StatusAccepted || out["status"] != "started" || out["run_id"] != "run-1" {
		t.Fatalf("first delivery: %d %v; want started run-1", code, out)
	}
	if starts, _ := h.fake.snapshot(); starts[0].Options.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		t.Errorf("reuse policy %v; want REJECT_DUPLICATE so an incident never runs twice", starts[0].Options.WorkflowIDReusePolicy)
	}

	// Temporal unreachable: a redelivery of the same event is still answered, from memory.
	h.fake.mu.Lock()
	h.fake.hang = true
	h.fake.mu.Unlock()
	calls := h.fake.callCount()
	code, out := h.webhook(t, ev)
	if code != http.StatusAccepted || out["status"] != "duplicate event" || out["event_id"] != "01EVENT" || out["workflow_id"] != id || out["run_id"] != "run-1" {
		t.Fatalf("redelivery with Temporal down: %d %v; want 202 duplicate event of run-1", code, out)
	}
	if n := h.fake.callCount(); n != calls {
		t.Errorf("a redelivery made %d Temporal calls; want none", n-calls)
	}
	h.fake.mu.Lock()
	h.fake.hang = false
	h.fake.mu.Unlock()

	// The run finished. A new event for the same incident is answered with that run, and
	// nothing new starts — whether Describe sees the closed run or the start finds it.
	h.fake.finish(id)
	code, out = h.webhook(t, pdEvent("01AGAIN", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "key for alice"))
	if code != http.StatusAccepted || out["status"] != "already handled" || out["run_id"] != "run-1" {
		t.Errorf("event after the run finished: %d %v; want already handled run-1", code, out)
	}
	h.fake.mu.Lock()
	h.fake.describeBlind = true
	h.fake.mu.Unlock()
	code, out = h.webhook(t, pdEvent("01RACE", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "key for alice"))
	if code != http.StatusAccepted || out["status"] != "already handled" || out["run_id"] != "run-1" {
		t.Errorf("event racing the run's end: %d %v; want already handled run-1", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 1 {
		t.Errorf("%d runs started for one incident; want 1", len(starts))
	}
	// Both later events are remembered too.
	if code, out := h.webhook(t, pdEvent("01RACE", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "key for alice")); out["status"] != "duplicate event" {
		t.Errorf("redelivery of a joined event: %d %v; want duplicate event", code, out)
	}
}

func TestPagerDutyStartFailureAsksForRedelivery(t *testing.T) {
	h := newHarness(t)
	h.fake.startErr = io.ErrUnexpectedEOF
	code, out := h.webhook(t, pdEvent("01EVENT", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "key for alice"))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("start failure: %d %v; want 503 so PagerDuty redelivers", code, out)
	}
}

func TestMatchIncident(t *testing.T) {
	rules := []chatops.TriggerRule{
		{Service: "PSVC", Priority: "P1", TitlePattern: `(?i)leak`, Playbook: "p1", Inputs: map[string]chatops.InputSource{"subject": {From: "title", Pattern: `for (\w+)`}, "reason": {Value: "paged"}}},
		{Service: "PSVC", Playbook: "fallback", Inputs: map[string]chatops.InputSource{"incident": {From: "id"}}},
	}
	cases := []struct {
		inc    chatops.Incident
		pb     string
		inputs map[string]string
	}{
		{chatops.Incident{ID: "I1", Service: "PSVC", Priority: "P1", Title: "LEAK for dave"}, "p1", map[string]string{"subject": "dave", "reason": "paged"}},
		{chatops.Incident{ID: "I2", Service: "PSVC", Priority: "P2", Title: "leak for dave"}, "fallback", map[string]string{"incident": "I2"}},
		{chatops.Incident{ID: "I3", Service: "PSVC", Priority: "P1", Title: "leak"}, "fallback", map[string]string{"incident": "I3"}},
		{chatops.Incident{ID: "I4", Service: "OTHER"}, "", nil},
	}
	for _, tc := range cases {
		pb, in, ok := chatops.MatchIncident(rules, tc.inc)
		if pb != tc.pb || ok != (tc.pb != "") {
			t.Errorf("%s: playbook %q ok %v; want %q", tc.inc.ID, pb, ok, tc.pb)
			continue
		}
		got, _ := json.Marshal(in)
		want, _ := json.Marshal(tc.inputs)
		if ok && string(got) != string(want) {
			t.Errorf("%s: inputs %s; want %s", tc.inc.ID, got, want)
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	h := newHarness(t)
	h.command(t, "U0BOB", "/firebreak", "help")
	h.webhook(t, []byte(`{"event":{"id":"x","event_type":"pagey.ping"}}`))
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader("x"))
	h.srv.ServeHTTP(httptest.NewRecorder(), r)

	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE firebreak_http_requests_total counter",
		`firebreak_http_requests_total{endpoint="slack_commands",outcome="ok"} 1`,
		`firebreak_http_requests_total{endpoint="slack_commands",outcome="unauthorized"} 1`,
		`firebreak_http_requests_total{endpoint="pagerduty_webhook",outcome="ignored"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	for path, code := range map[string]int{"/healthz": 200, "/readyz": 503} {
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != code {
			t.Errorf("%s: %d, want %d", path, rec.Code, code)
		}
	}
}

func TestManifest(t *testing.T) {
	routes, err := chatops.SlashRoutes(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chatops.Manifest("https://firebreak.example.com/", routes)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct{ Command, URL string } `json:"slash_commands"`
		} `json:"features"`
		OAuth struct {
			Scopes struct{ Bot []string } `json:"scopes"`
		} `json:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled bool   `json:"is_enabled"`
				URL     string `json:"request_url"`
			} `json:"interactivity"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, c := range m.Features.SlashCommands {
		cmds = append(cmds, c.Command)
		if c.URL != "https://firebreak.example.com/slack/commands" {
			t.Errorf("command %s posts to %q", c.Command, c.URL)
		}
	}
	// Every playbook's own slash command is listed beside /revoke-dev and /firebreak.
	if got := strings.Join(cmds, " "); got != "/deprovision /firebreak /lost-mfa /revoke-dev" {
		t.Errorf("commands %q; want /deprovision /firebreak /lost-mfa /revoke-dev", got)
	}
	if !m.Settings.Interactivity.Enabled || m.Settings.Interactivity.URL != "https://firebreak.example.com/slack/interactions" {
		t.Errorf("interactivity %+v", m.Settings.Interactivity)
	}
	if !strings.Contains(strings.Join(m.OAuth.Scopes.Bot, " "), "users:read.email") {
		t.Errorf("scopes %v", m.OAuth.Scopes.Bot)
	}
	if _, err := chatops.Manifest("firebreak.example.com", routes); err == nil {
		t.Error("a base URL without a scheme was accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	c := chatops.Config{
		PagerDuty: chatops.PagerDutyConfig{Rules: []chatops.TriggerRule{{TitlePattern: "(", Inputs: map[string]chatops.InputSource{"s": {From: "body"}}}}},
		Directory: []chatops.Person{{Email: "x@example.test"}, {Subject: "y"}},
	}
	err := c.Validate()
	for _, want := range []string{"expected a playbook name", "title_pattern", `found "body"`, "expected a subject", "expected an email or a slack_id"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to say %q", err, want)
		}
	}
	if err := testConfig().Validate(); err != nil {
		t.Errorf("the test config: %v", err)
	}
}

// TestPagerDutyPlanTriggers: with no configured rule matching, a playbook's own
// triggers.pagerduty (CEL over the incident) starts it.
func TestPagerDutyPlanTriggers(t *testing.T) {
	// No configured rules: the playbooks' own triggers decide.
	h := newHarness(t, func(o *chatops.Options) { o.Config.PagerDuty.Rules = nil })
	b, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": "01ABUSE", "event_type": chatops.EventIncidentTriggered, "resource_type": "incident", "occurred_at": "2026-11-23T15:04:00Z",
		"data": map[string]any{"id": "PINC777", "title": "API abuse from a developer key", "urgency": "high",
			"service": map[string]any{"id": "PSVCDEV"}, "body": map[string]any{"details": map[string]any{"subject": "bob"}}},
	}})
	// api-abuse takes its subject from the incident's custom details, which whoever holds the
	// routing key writes: it waits for a responder's confirmation (none configured here).
	code, out := h.webhook(t, b)
	if code != http.StatusOK || out["status"] != "needs confirmation" || !strings.Contains(out["error"], "subject") {
		t.Fatalf("plan trigger: %d %v; want needs confirmation for subject", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Errorf("a run started from custom details without confirmation: %+v", starts)
	}
	// With a confirmation channel, it waits there for api-abuse, for bob, on PINC777.
	h2 := newHarness(t, func(o *chatops.Options) {
		o.Config.PagerDuty.Rules = nil
		o.Config.PagerDuty.ConfirmChannel = "C0SECOPS"
	})
	if code, out := h2.webhook(t, b); code != http.StatusAccepted || out["workflow_id"] != workflows.IncidentWorkflowID("PINC777") {
		t.Fatalf("plan trigger with a confirmation channel: %d %v", code, out)
	}
	if msgs := h2.slack.Messages("C0SECOPS"); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "*api-abuse*") || !strings.Contains(msgs[0].Text, "subject: `bob`") {
		t.Errorf("confirmation %+v; want api-abuse for bob", msgs)
	}
	// The same title without details: the trigger's input expression fails, nothing starts.
	code, out = h.webhook(t, pdEvent("01ABUSE2", chatops.EventIncidentTriggered, "PINC778", "PSVCDEV", "high", "API abuse again"))
	if code != http.StatusOK || out["status"] != "no matching playbook" {
		t.Errorf("trigger without details: %d %v", code, out)
	}
}

// TestPlanStartRoles: a playbook naming roles.start is refused to a responder who lacks them.
func TestPlanStartRoles(t *testing.T) {
	h := newHarness(t)
	m := decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "run api-abuse subject=alice"))
	if !strings.Contains(m.Text, "needs one of the roles security-oncall, sre-oncall") {
		t.Errorf("refusal %q; want the playbook's start roles", m.Text)
	}
	h2 := newHarness(t, func(o *chatops.Options) {
		o.Config.Roles["security-oncall"] = chatops.RoleMembers{Users: []string{"U0BOB"}}
	})
	if m := decodeMsg(t, h2.command(t, "U0BOB", "/firebreak", "run api-abuse subject=alice")); !strings.Contains(m.Text, "Starting api-abuse") {
		t.Errorf("a security-oncall member: %q", m.Text)
	}
}

// TestPagerDutyReplays: an event older than PagerDutyMaxEventAge starts nothing, however
// well signed; an event handled by one replica is a duplicate to another (and to this one
// after a restart), remembered in Temporal rather than in memory.
func TestPagerDutyReplays(t *testing.T) {
	h := newHarness(t)
	ev := pdEvent("01OLD", chatops.EventIncidentTriggered, "PINC009", "PSVCDEV", "high", "Suspected leaked AWS key for alice")
	h.now = time.Date(2026, 11, 23, 15, 4, 0, 0, time.UTC).Add(chatops.PagerDutyMaxEventAge + time.Minute)
	if code, out := h.webhook(t, ev); code != http.StatusOK || out["status"] != "stale event" {
		t.Errorf("an event older than the bound: %d %v; want it refused as stale", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("a stale event started %d runs", len(starts))
	}
	h.now = time.Date(2026, 11, 23, 15, 5, 0, 0, time.UTC)
	if code, out := h.webhook(t, pdEvent("01NEW", chatops.EventIncidentTriggered, "PINC010", "PSVCDEV", "high", "Suspected leaked AWS key for alice")); code != http.StatusAccepted || out["status"] != "started" {
		t.Fatalf("a fresh event: %d %v", code, out)
	}
	// Another replica (its own memory, the same Temporal) receives the redelivery.
	other := newHarness(t)
	other.fake, other.now = h.fake, h.now
	other.srv = chatops.NewHandler(chatops.Options{Starter: h.fake, Config: testConfig(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return h.now }})
	code, out := other.webhook(t, pdEvent("01NEW", chatops.EventIncidentTriggered, "PINC010", "PSVCDEV", "high", "Suspected leaked AWS key for alice"))
	if code != http.StatusAccepted || out["status"] != "duplicate event" {
		t.Errorf("the redelivery on another replica: %d %v; want duplicate event", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 1 {
		t.Errorf("%d starts; want the first event's only", len(starts))
	}
}

// TestPagerDutyRefusesEventsWithNoTime: an event without occurred_at was given the time it
// arrived, so the age bound never applied to it and a captured event could be replayed.
func TestPagerDutyRefusesEventsWithNoTime(t *testing.T) {
	h := newHarness(t)
	ev := bytes.Replace(pdEvent("01NOTIME", chatops.EventIncidentTriggered, "PINC404", "PSVCDEV", "high", "key for alice"), []byte(`"occurred_at":"2026-11-23T15:04:00Z",`), nil, 1)
	if bytes.Contains(ev, []byte("occurred_at")) {
		t.Fatalf("the event still has a time: %s", ev)
	}
	if code, out := h.webhook(t, ev); code != http.StatusBadRequest {
		t.Errorf("an event with no occurred_at: %d %v; want 400", code, out)
	}
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Errorf("a run was started: %+v", starts)
	}
}
