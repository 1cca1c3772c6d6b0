package chatops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// PagerDutyStartTimeout bounds starting a run for a webhook; PagerDuty redelivers an event
// that is not answered 2xx, and a redelivery joins the run.
const PagerDutyStartTimeout = 4 * time.Second

// PagerDutyMaxEventAge is how old a webhook event may be: PagerDuty delivers within seconds
// and redelivers for a short while; an older event, validly signed or not, is a replay and
// starts nothing.
const PagerDutyMaxEventAge = time.Hour

// pagerDutyEventKey is the claim key of a PagerDuty webhook event (runs.Client.Claim).
func pagerDutyEventKey(id string) string { return "pagerduty/event/" + id }

// EventIncidentTriggered is the one PagerDuty v3 event type that starts runs.
const EventIncidentTriggered = "incident.triggered"

// pdEnvelope is a PagerDuty v3 webhook body.
type pdEnvelope struct {
	Event struct {
		ID           string          `json:"id"`
		EventType    string          `json:"event_type"`
		ResourceType string          `json:"resource_type"`
		OccurredAt   time.Time       `json:"occurred_at"`
		Data         json.RawMessage `json:"data"`
	} `json:"event"`
}

// Incident is what firebreak reads from a PagerDuty incident to match trigger rules.
type Incident struct {
	ID       string
	Title    string
	Service  string // service id
	Urgency  string
	Priority string // priority summary, e.g. P1
	// Description is the incident body's details when they are free text (a person typed
	// them); like Title, anyone who can open an incident writes it.
	Description string
	// Details are the incident body's details when they are structured (an integration's
	// custom details).
	Details map[string]any
}

// freeTextFields are the incident fields a person opening an incident writes freely; inputs
// bound from them, or from its details (see InputSource), need a responder's confirmation
// (see matchIncident).
var freeTextFields = []string{"title", "description"}

type pdIncidentData struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Urgency string `json:"urgency"`
	Service struct {
		ID string `json:"id"`
	} `json:"service"`
	Priority *struct {
		Summary string `json:"summary"`
	} `json:"priority"`
	Body *struct {
		Details json.RawMessage `json:"details"`
	} `json:"body"`
}

// parsePagerDuty parses a v3 webhook body: the event type and, for incident events, the
// incident.
func parsePagerDuty(body []byte) (eventType, eventID string, at time.Time, inc Incident, err error) {
	var env pdEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return "", "", time.Time{}, Incident{}, fmt.Errorf("pagerduty webhook: expected a v3 JSON body with an event: %w", err)
	}
	if env.Event.EventType == "" {
		return "", "", time.Time{}, Incident{}, errors.New("pagerduty webhook: expected event.event_type, found none")
	}
	if env.Event.ResourceType == "incident" && len(env.Event.Data) > 0 {
		var d pdIncidentData
		if err := json.Unmarshal(env.Event.Data, &d); err != nil {
			return "", "", time.Time{}, Incident{}, fmt.Errorf("pagerduty webhook: event.data is not an incident: %w", err)
		}
		inc = Incident{ID: d.ID, Title: d.Title, Service: d.Service.ID, Urgency: d.Urgency}
		if d.Priority != nil {
			inc.Priority = d.Priority.Summary
		}
		if d.Body != nil && len(d.Body.Details) > 0 {
			// An integration's event carries an object; an incident a person opened in the
			// web UI or the REST API carries the text they typed.
			if err := json.Unmarshal(d.Body.Details, &inc.Details); err != nil {
				inc.Details = nil
				_ = json.Unmarshal(d.Body.Details, &inc.Description)
			}
		}
	}
	return env.Event.EventType, env.Event.ID, env.Event.OccurredAt, inc, nil
}

// incidentMatch is what an incident starts: the playbook, its raw inputs, and the inputs whose
// values come from the incident's free text (title, description).
type incidentMatch struct {
	Playbook string
	Inputs   map[string]string
	FreeText []string
}

// matchIncident is the one place that decides which playbook an incident starts and with
// which raw inputs: the configured rules first (an operator's override), then the playbooks'
// own triggers.pagerduty in name order. The first match wins.
//
// It also says which inputs were taken from free text. Anyone who can open an incident on a
// service writes its title and description, so a run whose inputs come from them would let
// that person choose whom to contain. The same holds for its custom details: an Events API v2
// event carries whatever custom_details its sender wrote, and anyone with the service's
// routing key may send one. The webhook asks a responder to confirm such a run in Slack
// instead of starting it. The reason input is exempt: it only describes the run. For a
// configured rule, an input is free text when its from is title or description, or
// details.KEY not marked trusted; for a playbook trigger, when its CEL expression gives a
// different value (or fails) once the title, description and details are replaced —
// whatever the expression does with them. The playbook language has no way to trust
// details: an operator who does adds a rule with trusted: true.
func (s *Server) matchIncident(inc Incident) (incidentMatch, bool) {
	if i, in, ok := matchRule(s.o.Config.PagerDuty.Rules, inc); ok {
		r := s.o.Config.PagerDuty.Rules[i]
		m := incidentMatch{Playbook: r.Playbook, Inputs: in}
		for _, name := range slices.Sorted(maps.Keys(r.Inputs)) {
			if name != "reason" && r.Inputs[name].freeText() {
				m.FreeText = append(m.FreeText, name)
			}
		}
		return m, true
	}
	if s.lib == nil {
		return incidentMatch{}, false
	}
	for _, name := range s.lib.Names() {
		p, err := s.lib.Get(name)
		if err != nil {
			continue
		}
		for i, t := range p.Triggers.PagerDuty {
			ok, vals, err := t.MatchIncident(incidentScope(inc))
			if err != nil {
				s.log.Warn("chatops: a playbook's PagerDuty trigger could not be evaluated for an incident; skipped", "playbook", name, "trigger", i, "incident", inc.ID, "error", err)
				continue
			}
			if !ok {
				continue
			}
			m := incidentMatch{Playbook: name, Inputs: map[string]string{}}
			for k, v := range vals {
				m.Inputs[k] = fmt.Sprint(v)
			}
			m.FreeText = freeTextInputs(playbooks.PagerDutyMatch{Inputs: t.Inputs}, inc, m.Inputs)
			return m, true
		}
	}
	return incidentMatch{}, false
}

// incidentScope is the incident as CEL sees it in a playbook's triggers.pagerduty.
func incidentScope(inc Incident) map[string]any {
	details := inc.Details
	if details == nil {
		details = map[string]any{}
	}
	return map[string]any{"id": inc.ID, "title": inc.Title, "description": inc.Description, "service": inc.Service,
		"urgency": inc.Urgency, "priority": inc.Priority, "details": details}
}

// freeTextInputs evaluates the input expressions of m (conditions aside) on the incident with
// its free text (title, description and every detail) replaced, twice, and returns the
// inputs (other than reason) whose value then differs from want or cannot be computed: those
// depend on what whoever raised the incident wrote.
func freeTextInputs(m playbooks.PagerDutyMatch, inc Incident, want map[string]string) []string {
	tainted := map[string]bool{}
	for _, text := range []string{"", "\x00firebreak-free-text\x00" + inc.Title} {
		alt := inc
		alt.Title, alt.Description = text, text
		alt.Details = nil
		if text != "" {
			alt.Details = map[string]any{}
			for k := range inc.Details {
				alt.Details[k] = text + k
			}
		}
		for _, a := range m.Inputs {
			one := playbooks.PagerDutyMatch{Inputs: []playbooks.Arg{a}}
			_, vals, err := one.MatchIncident(incidentScope(alt))
			if err != nil || fmt.Sprint(vals[a.Name]) != want[a.Name] {
				tainted[a.Name] = true
			}
		}
	}
	delete(tainted, "reason")
	return slices.Sorted(maps.Keys(tainted))
}

// MatchIncident matches an incident against configured rules and returns the first matching
// rule's playbook and raw inputs.
func MatchIncident(rules []TriggerRule, inc Incident) (playbook string, inputs map[string]string, ok bool) {
	i, inputs, ok := matchRule(rules, inc)
	if !ok {
		return "", nil, false
	}
	return rules[i].Playbook, inputs, true
}

// matchRule returns the index of the first rule the incident matches, and its raw inputs.
func matchRule(rules []TriggerRule, inc Incident) (int, map[string]string, bool) {
	for i, r := range rules {
		if (r.Service != "" && r.Service != inc.Service) ||
			(r.Urgency != "" && r.Urgency != inc.Urgency) ||
			(r.Priority != "" && r.Priority != inc.Priority) {
			continue
		}
		if r.TitlePattern != "" {
			re, err := regexp.Compile(r.TitlePattern)
			if err != nil || !re.MatchString(inc.Title) {
				continue
			}
		}
		inputs := map[string]string{}
		complete := true
		for _, name := range slices.Sorted(maps.Keys(r.Inputs)) {
			v, ok := r.Inputs[name].resolve(inc)
			if !ok {
				complete = false
				break
			}
			inputs[name] = v
		}
		if !complete {
			continue
		}
		return i, inputs, true
	}
	return 0, nil, false
}

func (src InputSource) resolve(inc Incident) (string, bool) {
	if src.From == "" {
		return src.Value, true
	}
	var v string
	switch src.From {
	case "id":
		v = inc.ID
	case "title":
		v = inc.Title
	case "service":
		v = inc.Service
	case "urgency":
		v = inc.Urgency
	case "priority":
		v = inc.Priority
	case "description":
		v = inc.Description
	default:
		key, ok := strings.CutPrefix(src.From, "details.")
		if !ok {
			return "", false
		}
		switch d := inc.Details[key].(type) {
		case string:
			v = d
		case float64, bool:
			v = fmt.Sprint(d)
		default: // absent, or not a scalar
			return "", false
		}
	}
	if src.Pattern == "" {
		return v, v != ""
	}
	re, err := regexp.Compile(src.Pattern)
	if err != nil {
		return "", false
	}
	m := re.FindStringSubmatch(v)
	switch {
	case m == nil:
		return "", false
	case len(m) > 1:
		return m[1], m[1] != ""
	}
	return m[0], m[0] != ""
}

func (s *Server) pagerDutyWebhook(w http.ResponseWriter, r *http.Request) {
	const ep = "pagerduty_webhook"
	body, err := readBody(r)
	if err == nil {
		err = VerifyPagerDuty(r.Header, body, s.o.Config.PagerDuty.WebhookSecret)
	}
	if err != nil {
		s.reject(w, ep, err)
		return
	}
	eventType, eventID, at, inc, err := parsePagerDuty(body)
	if err != nil {
		s.reject(w, ep, err)
		return
	}
	if eventType != EventIncidentTriggered || inc.ID == "" {
		s.metrics.request(ep, "ignored")
		s.log.Debug("chatops: PagerDuty event ignored", "event_type", eventType, "event_id", eventID)
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "event_type": eventType})
		return
	}
	if at.IsZero() {
		// Without a time the age bound cannot hold: a captured event replayed later would pass.
		s.reject(w, ep, fmt.Errorf("PagerDuty event %s for incident %s has no occurred_at; expected the time PagerDuty gives every webhook event", eventID, inc.ID))
		return
	}
	if s.o.Now().Sub(at) > PagerDutyMaxEventAge {
		s.metrics.request(ep, "stale")
		s.log.Warn("chatops: PagerDuty event refused: older than the bound", "event_id", eventID, "incident", inc.ID, "occurred_at", at, "bound", PagerDutyMaxEventAge)
		writeJSON(w, http.StatusOK, map[string]string{"status": "stale event", "event_id": eventID, "occurred_at": at.UTC().Format(time.RFC3339)})
		return
	}
	if prev, dup := s.events.get(eventID, s.o.Now()); dup {
		// A redelivery of an event already handled: answered from memory, so it costs no
		// Temporal call and can never start a second run.
		s.metrics.request(ep, "duplicate")
		s.metrics.start("pagerduty", "duplicate_event")
		s.log.Info("chatops: PagerDuty event redelivered; answered with its run", "event_id", eventID, "incident", inc.ID, "workflow_id", prev.WorkflowID)
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "duplicate event", "event_id": eventID, "workflow_id": prev.WorkflowID, "run_id": prev.RunID})
		return
	}
	// Another replica, or this one before a restart, may have handled the event: that is
	// remembered in Temporal (claimed below once handled).
	if eventID != "" && s.starter != nil {
		if seen, err := s.runs.Claimed(r.Context(), pagerDutyEventKey(eventID)); err == nil && seen {
			s.metrics.request(ep, "duplicate")
			s.metrics.start("pagerduty", "duplicate_event")
			s.log.Info("chatops: PagerDuty event already handled (remembered in Temporal)", "event_id", eventID, "incident", inc.ID)
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "duplicate event", "event_id": eventID, "workflow_id": workflows.IncidentWorkflowID(inc.ID)})
			return
		}
	}
	match, ok := s.matchIncident(inc)
	playbook, raw := match.Playbook, match.Inputs
	if !ok {
		s.metrics.request(ep, "no_match")
		writeJSON(w, http.StatusOK, map[string]string{"status": "no matching playbook", "incident": inc.ID})
		return
	}
	// An incident is triggered once: a run for it that has finished is the answer too (Once).
	sp := startSpec{Playbook: playbook, Raw: raw, Source: "pagerduty", Once: true, Request: runs.Request{Incident: inc.ID,
		Trigger: workflows.Trigger{Kind: "pagerduty", By: s.pagerDutyRequester(body, inc), ByAuth: "pagerduty", Reason: inc.Title, At: at},
		Report:  workflows.Report{PagerDutyIncident: inc.ID}}}
	in, err := s.prepare(&sp)
	if err != nil {
		// Redelivering would not help: the rule and the incident do not make valid inputs.
		s.metrics.request(ep, "invalid_inputs")
		s.log.Error("chatops: PagerDuty incident matched a playbook but its inputs are invalid", "incident", inc.ID, "playbook", playbook, "error", err)
		writeJSON(w, http.StatusOK, map[string]string{"status": "invalid inputs", "incident": inc.ID, "error": err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), PagerDutyStartTimeout)
	defer cancel()
	if len(match.FreeText) > 0 {
		s.askToConfirmIncident(ctx, w, eventID, inc, sp, match)
		return
	}
	res, err := s.start(ctx, sp, in)
	if err != nil {
		// 503 makes PagerDuty redeliver; the redelivery joins whatever did start.
		s.metrics.request(ep, "start_failed")
		s.log.Error("chatops: starting a run for a PagerDuty incident failed", "incident", inc.ID, "playbook", playbook, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "start failed", "incident": inc.ID})
		return
	}
	s.events.put(eventID, res, s.o.Now())
	s.rememberEvent(ctx, eventID)
	status := "started"
	switch {
	case res.Joined && res.Closed:
		status = "already handled"
	case res.Joined:
		status = "already running"
	}
	s.metrics.request(ep, "ok")
	writeJSON(w, http.StatusAccepted, map[string]string{"status": status, "workflow_id": res.WorkflowID, "run_id": res.RunID})
}

// pagerDutyRequester names who started a PagerDuty-triggered run in the directory's terms: the
// event's agent (the person who raised or triggered the incident) when the directory knows
// their PagerDuty user id, so that person cannot approve the run; otherwise the service.
func (s *Server) pagerDutyRequester(body []byte, inc Incident) string {
	var env struct {
		Event struct {
			Agent *struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"agent"`
		} `json:"event"`
	}
	if json.Unmarshal(body, &env) == nil && env.Event.Agent != nil && env.Event.Agent.ID != "" {
		for _, p := range s.o.Config.Directory {
			if p.PagerDutyID != "" && p.PagerDutyID == env.Event.Agent.ID {
				return p.Subject
			}
		}
	}
	return "pagerduty:" + inc.Service
}

// askToConfirmIncident answers an incident whose run would take inputs from free text: instead
// of starting it, it posts the run to the configured confirmation channel with Confirm and
// Cancel buttons, which a person holding one of the playbook's start roles — not the one who
// raised the incident, and not its subject — must press. Without a channel, or a Slack client
// that can post, nothing starts (fail closed) and the reason is logged.
func (s *Server) askToConfirmIncident(ctx context.Context, w http.ResponseWriter, eventID string, inc Incident, sp startSpec, match incidentMatch) {
	const ep = "pagerduty_webhook"
	channel := s.o.Config.PagerDuty.ConfirmChannel
	poster := s.poster()
	if channel == "" || poster == nil {
		s.metrics.request(ep, "needs_confirmation")
		s.log.Warn("chatops: a PagerDuty incident matched a playbook whose inputs come from the incident's free text; nothing started, since confirming needs pagerduty.confirm_channel and a Slack bot token",
			"incident", inc.ID, "playbook", sp.Playbook, "free_text_inputs", strings.Join(match.FreeText, ","))
		writeJSON(w, http.StatusOK, map[string]string{"status": "needs confirmation", "incident": inc.ID,
			"error": "inputs " + strings.Join(match.FreeText, ", ") + " come from the incident's text or details; configure pagerduty.confirm_channel so a responder can confirm (or mark a details input of a pagerduty.rules entry trusted: true)"})
		return
	}
	ps := pendingStart{Playbook: sp.Playbook, Inputs: map[string]string{}, Channel: channel,
		Incident: inc.ID, By: sp.Request.Trigger.By, Reason: truncate(sp.Request.Trigger.Reason, maxReason), At: sp.Request.Trigger.At.UnixMilli()}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(sp.Raw)) {
		ps.Inputs[k] = truncate(sp.Raw[k], maxReason)
		mark := ""
		if slices.Contains(match.FreeText, k) {
			mark = " _(from the incident's text)_"
		}
		lines = append(lines, fmt.Sprintf("• %s: `%s`%s", k, escapeSlack(strings.ReplaceAll(ps.Inputs[k], "`", "'")), mark))
	}
	value, _ := json.Marshal(ps)
	text := fmt.Sprintf(":warning: PagerDuty incident %s (service %s, raised by %s) matches playbook *%s*, but %s come from the incident's text or details, which whoever raises an incident writes. Nothing has started. Someone who may start %s — not the person who raised the incident — must check and confirm:\n%s\nTitle: %s",
		inc.ID, inc.Service, sp.Request.Trigger.By, sp.Playbook, strings.Join(match.FreeText, ", "), sp.Playbook, strings.Join(lines, "\n"), escapeSlack(truncate(inc.Title, maxReason)))
	confirm := slack.NewButtonBlockElement(ActionConfirm, string(value), slack.NewTextBlockObject(slack.PlainTextType, "Confirm and start", false, false))
	confirm.Style = slack.StyleDanger
	cancel := slack.NewButtonBlockElement(ActionCancel, string(value), slack.NewTextBlockObject(slack.PlainTextType, "Do not start", false, false))
	_, _, err := poster.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil),
		slack.NewActionBlock("firebreak_confirm_incident", confirm, cancel),
	))
	if err != nil {
		// 503 makes PagerDuty redeliver, and the redelivery asks again.
		s.metrics.request(ep, "confirm_post_failed")
		s.log.Error("chatops: posting an incident's confirmation to Slack failed", "incident", inc.ID, "channel", channel, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "confirmation not posted", "incident": inc.ID})
		return
	}
	s.events.put(eventID, started{WorkflowID: sp.WorkflowID}, s.o.Now())
	s.rememberEvent(ctx, eventID)
	s.metrics.request(ep, "awaiting_confirmation")
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "awaiting confirmation", "workflow_id": sp.WorkflowID, "channel": channel})
}

// rememberEvent records in Temporal that the PagerDuty event eventID was handled, so that a
// redelivery to any replica is answered as a duplicate. Failing to record it costs nothing
// worse than before: the incident's run is still started once (its id and Once).
func (s *Server) rememberEvent(ctx context.Context, eventID string) {
	if eventID == "" {
		return
	}
	if _, err := s.runs.Claim(ctx, pagerDutyEventKey(eventID), 24*time.Hour); err != nil {
		s.log.Warn("chatops: could not remember a handled PagerDuty event in Temporal", "event_id", eventID, "error", err)
	}
}

// escapeSlack escapes the three characters Slack's mrkdwn treats as control characters, so
// text someone typed into an incident cannot mention @channel or forge a link.
func escapeSlack(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
