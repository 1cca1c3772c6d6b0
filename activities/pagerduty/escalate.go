package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/firebreak-dev/firebreak/secretscan"
	"go.temporal.io/sdk/activity"
)

// EscalateInput says which incident to escalate and how, or where to open one.
//
// With IncidentID, the incident is re-assigned to EscalationPolicyID and/or moved to
// EscalationLevel (at least one is needed). Without it, an incident is created on ServiceID
// with Title, Urgency and, if given, EscalationPolicyID.
type EscalateInput struct {
	IncidentID         string `json:"incident_id,omitempty"`
	EscalationLevel    int    `json:"escalation_level,omitempty"`
	EscalationPolicyID string `json:"escalation_policy_id,omitempty"`
	ServiceID          string `json:"service_id,omitempty"`
	Title              string `json:"title,omitempty"`
	// Urgency of a created incident: high (default) or low. PagerDuty's bulk update does not
	// change the urgency of an existing incident, so it is refused with IncidentID.
	Urgency string `json:"urgency,omitempty"`
	// IdempotencyKey names this step: a created incident gets an incident_key derived from
	// it, so no second incident is opened for it. Empty: derived from the workflow and
	// activity ids.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// EscalateResult describes the incident after the call.
type EscalateResult struct {
	IncidentID         string `json:"incident_id"`
	Status             string `json:"status"`
	Urgency            string `json:"urgency"`
	EscalationPolicyID string `json:"escalation_policy_id"`
	// Created is true when this call (or an earlier attempt with the same key) opened the incident.
	Created bool `json:"created"`
	// Changed is false when the incident already was as asked and nothing was sent.
	Changed bool `json:"changed"`
}

// IncidentKey is the incident_key Escalate gives an incident it creates for idempotency key
// key: "firebreak-" and a digest of key, within PagerDuty's length limit.
func IncidentKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "firebreak-" + hex.EncodeToString(sum[:16])
}

// Escalate escalates an existing incident (PUT /incidents with escalation_level and/or
// escalation_policy) or, without an incident id, creates one (POST /incidents).
//
// Both are idempotent. Re-assigning to the policy the incident already has sends nothing; a
// level is set, not incremented, so repeating it leaves the incident at that level. A created
// incident carries IncidentKey(idempotency key): before creating, Escalate looks the key up
// and returns the incident it finds (even resolved: the step already opened it once), and
// when PagerDuty refuses a duplicate open incident it looks again.
func (a *Activities) Escalate(ctx context.Context, in EscalateInput) (EscalateResult, error) {
	if err := a.needFrom(); err != nil {
		return EscalateResult{}, err
	}
	if in.EscalationLevel < 0 {
		return EscalateResult{}, invalidInput(fmt.Sprintf("pagerduty escalate: escalation_level must be 1 or more, got %d", in.EscalationLevel))
	}
	if in.IncidentID != "" {
		return a.escalateExisting(ctx, in)
	}
	return a.createIncident(ctx, in)
}

func (a *Activities) escalateExisting(ctx context.Context, in EscalateInput) (EscalateResult, error) {
	if in.EscalationLevel == 0 && in.EscalationPolicyID == "" {
		return EscalateResult{}, invalidInput("pagerduty escalate of incident " + in.IncidentID + " needs an escalation_level or an escalation_policy_id, got neither")
	}
	if in.Urgency != "" || in.ServiceID != "" || in.Title != "" {
		return EscalateResult{}, invalidInput("pagerduty escalate of existing incident " + in.IncidentID + ": service_id, title and urgency apply only when creating an incident; remove them or the incident_id")
	}
	inc, err := a.Client.GetIncidentWithContext(ctx, in.IncidentID)
	if err != nil {
		return EscalateResult{}, classify("read incident "+in.IncidentID, err)
	}
	if inc.Status == "resolved" {
		return EscalateResult{}, invalidInput("pagerduty incident " + in.IncidentID + " is resolved; expected an open incident to escalate (escalate without incident_id to open a new one)")
	}
	opt := pd.ManageIncidentsOptions{ID: in.IncidentID, EscalationLevel: uint(in.EscalationLevel)}
	if in.EscalationPolicyID != "" && inc.EscalationPolicy.ID != in.EscalationPolicyID {
		opt.EscalationPolicy = &pd.APIReference{ID: in.EscalationPolicyID, Type: "escalation_policy_reference"}
	}
	if opt.EscalationPolicy == nil && opt.EscalationLevel == 0 {
		// Already on the policy asked for, and no level asked: nothing to do.
		return EscalateResult{IncidentID: inc.ID, Status: inc.Status, Urgency: inc.Urgency, EscalationPolicyID: inc.EscalationPolicy.ID}, nil
	}
	resp, err := a.Client.ManageIncidentsWithContext(ctx, a.From, []pd.ManageIncidentsOptions{opt})
	if err != nil {
		if alreadyResolved(err) {
			return EscalateResult{}, invalidInput("pagerduty incident " + in.IncidentID + " was resolved before it could be escalated")
		}
		return EscalateResult{}, classify("escalate incident "+in.IncidentID, err)
	}
	for _, i := range resp.Incidents {
		if i.ID == in.IncidentID {
			return EscalateResult{IncidentID: i.ID, Status: i.Status, Urgency: i.Urgency, EscalationPolicyID: i.EscalationPolicy.ID, Changed: true}, nil
		}
	}
	return EscalateResult{}, fmt.Errorf("pagerduty: escalating incident %s answered %d other incidents; expected that incident (will retry)", in.IncidentID, len(resp.Incidents))
}

func (a *Activities) createIncident(ctx context.Context, in EscalateInput) (EscalateResult, error) {
	if in.ServiceID == "" {
		return EscalateResult{}, invalidInput("pagerduty escalate needs an incident_id to escalate, or a service_id to open an incident on; got neither")
	}
	if strings.TrimSpace(in.Title) == "" {
		return EscalateResult{}, invalidInput("pagerduty escalate needs a title for the incident it opens on service " + in.ServiceID + ", got none")
	}
	switch in.Urgency {
	case "", "high", "low":
	default:
		return EscalateResult{}, invalidInput(fmt.Sprintf("pagerduty urgency must be high or low, got %q", in.Urgency))
	}
	if in.EscalationLevel != 0 {
		return EscalateResult{}, invalidInput("pagerduty escalate: escalation_level applies to an existing incident; a new incident starts at level 1")
	}
	key := in.IdempotencyKey
	if key == "" {
		info := activity.GetInfo(ctx)
		key = info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	}
	ikey := IncidentKey(key)
	if found, ok, err := a.incidentByKey(ctx, in.ServiceID, ikey); err != nil || ok {
		return found, err
	}
	opts := &pd.CreateIncidentOptions{
		Title:       secretscan.Redact(in.Title),
		Service:     &pd.APIReference{ID: in.ServiceID, Type: "service_reference"},
		Urgency:     in.Urgency,
		IncidentKey: ikey,
	}
	if in.EscalationPolicyID != "" {
		opts.EscalationPolicy = &pd.APIReference{ID: in.EscalationPolicyID, Type: "escalation_policy_reference"}
	}
	inc, err := a.Client.CreateIncidentWithContext(ctx, a.From, opts)
	if err != nil {
		if duplicateKey(err) { // created by a concurrent or earlier attempt we could not see
			if found, ok, lerr := a.incidentByKey(ctx, in.ServiceID, ikey); lerr != nil || ok {
				return found, lerr
			}
		}
		return EscalateResult{}, classify("open an incident on service "+in.ServiceID, err)
	}
	return EscalateResult{IncidentID: inc.ID, Status: inc.Status, Urgency: inc.Urgency, EscalationPolicyID: inc.EscalationPolicy.ID, Created: true, Changed: true}, nil
}

// incidentByKey finds the incident on service with incident_key key.
func (a *Activities) incidentByKey(ctx context.Context, service, key string) (EscalateResult, bool, error) {
	resp, err := a.Client.ListIncidentsWithContext(ctx, pd.ListIncidentsOptions{IncidentKey: key, ServiceIDs: []string{service}, DateRange: "all"})
	if err != nil {
		return EscalateResult{}, false, classify("look up incidents of service "+service+" by incident key", err)
	}
	for _, i := range resp.Incidents {
		if i.IncidentKey == key {
			return EscalateResult{IncidentID: i.ID, Status: i.Status, Urgency: i.Urgency, EscalationPolicyID: i.EscalationPolicy.ID, Created: true}, true, nil
		}
	}
	return EscalateResult{}, false, nil
}

// duplicateKey reports whether err is PagerDuty refusing a second open incident with one key.
func duplicateKey(err error) bool {
	var ae pd.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !ae.APIError.Valid {
		return false
	}
	for _, e := range ae.APIError.ErrorObject.Errors {
		if strings.Contains(strings.ToLower(e), "matching dedup key") {
			return true
		}
	}
	return false
}
