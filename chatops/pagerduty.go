package chatops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/firebreak-dev/firebreak/workflows"
)

// PagerDutyStartTimeout bounds starting a run for a webhook; PagerDuty redelivers an event
// that is not answered 2xx, and a redelivery joins the run.
const PagerDutyStartTimeout = 4 * time.Second

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
	// Details are the incident body's details when the event carries them.
	Details map[string]any
}

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
		Details map[string]any `json:"details"`
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
		if d.Body != nil {
			inc.Details = d.Body.Details
		}
	}
	return env.Event.EventType, env.Event.ID, env.Event.OccurredAt, inc, nil
}

// matchIncident is the one place that decides which playbook an incident starts and with
// which raw inputs: the configured rules first (an operator's override), then the playbooks'
// own triggers.pagerduty in name order. The first match wins.
func (s *Server) matchIncident(inc Incident) (playbook string, inputs map[string]string, ok bool) {
	if pb, in, ok := MatchIncident(s.o.Config.PagerDuty.Rules, inc); ok {
		return pb, in, true
	}
	if s.lib == nil {
		return "", nil, false
	}
	details := inc.Details
	if details == nil {
		details = map[string]any{}
	}
	m := map[string]any{"id": inc.ID, "title": inc.Title, "service": inc.Service, "urgency": inc.Urgency, "priority": inc.Priority, "details": details}
	for _, name := range s.lib.Names() {
		p, err := s.lib.Get(name)
		if err != nil {
			continue
		}
		for i, t := range p.Triggers.PagerDuty {
			ok, vals, err := t.MatchIncident(m)
			if err != nil {
				s.log.Warn("chatops: a playbook's PagerDuty trigger could not be evaluated for an incident; skipped", "playbook", name, "trigger", i, "incident", inc.ID, "error", err)
				continue
			}
			if !ok {
				continue
			}
			raw := map[string]string{}
			for k, v := range vals {
				raw[k] = fmt.Sprint(v)
			}
			return name, raw, true
		}
	}
	return "", nil, false
}

// MatchIncident matches an incident against configured rules and returns the first matching
// rule's playbook and raw inputs.
func MatchIncident(rules []TriggerRule, inc Incident) (playbook string, inputs map[string]string, ok bool) {
	for _, r := range rules {
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
		inputs = map[string]string{}
		complete := true
		for _, name := range sortedKeys(r.Inputs) {
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
		return r.Playbook, inputs, true
	}
	return "", nil, false
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
	default:
		return "", false
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
	if prev, dup := s.events.get(eventID, s.o.Now()); dup {
		// A redelivery of an event already handled: answered from memory, so it costs no
		// Temporal call and can never start a second run.
		s.metrics.request(ep, "duplicate")
		s.metrics.start("pagerduty", "duplicate_event")
		s.log.Info("chatops: PagerDuty event redelivered; answered with its run", "event_id", eventID, "incident", inc.ID, "workflow_id", prev.WorkflowID)
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "duplicate event", "event_id": eventID, "workflow_id": prev.WorkflowID, "run_id": prev.RunID})
		return
	}
	playbook, raw, ok := s.matchIncident(inc)
	if !ok {
		s.metrics.request(ep, "no_match")
		writeJSON(w, http.StatusOK, map[string]string{"status": "no matching playbook", "incident": inc.ID})
		return
	}
	if at.IsZero() {
		at = s.o.Now()
	}
	// An incident is triggered once: a run for it that has finished is the answer too (Once).
	sp := startSpec{Playbook: playbook, Raw: raw, WorkflowID: workflows.IncidentWorkflowID(inc.ID), Source: "pagerduty", Once: true,
		Trigger: workflows.Trigger{Kind: "pagerduty", By: s.pagerDutyRequester(body, inc), Reason: inc.Title, At: at},
		Report:  workflows.Report{PagerDutyIncident: inc.ID}}
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
	res, err := s.start(ctx, sp, in)
	if err != nil {
		// 503 makes PagerDuty redeliver; the redelivery joins whatever did start.
		s.metrics.request(ep, "start_failed")
		s.log.Error("chatops: starting a run for a PagerDuty incident failed", "incident", inc.ID, "playbook", playbook, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "start failed", "incident": inc.ID})
		return
	}
	s.events.put(eventID, res, s.o.Now())
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
