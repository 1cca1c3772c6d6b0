package pagerduty

import (
	"context"
	"fmt"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"
)

// IsOnCallInput asks whether the person with Email is on call now for an incident.
type IsOnCallInput struct {
	IncidentID string `json:"incident_id"`
	Email      string `json:"email"`
}

// IsOnCallResult says whether they are, and against which escalation policy that was decided.
type IsOnCallResult struct {
	OnCall             bool   `json:"on_call"`
	IncidentID         string `json:"incident_id"`
	ServiceID          string `json:"service_id,omitempty"`
	EscalationPolicyID string `json:"escalation_policy_id"`
	// Level is the lowest escalation level at which they are on call (0 when they are not).
	Level int `json:"level,omitempty"`
	// OnCallCount is how many people are on call for the policy now (never who they are).
	OnCallCount int `json:"on_call_count"`
}

// IsOnCall reads the incident, takes the escalation policy it is assigned to (the incident's
// service's policy unless someone re-assigned it), lists who is on call for that policy now
// with their users' emails, and reports whether Email is among them (case-insensitive).
// The approval workflow calls it before counting a decision under an on-call rule.
func (a *Activities) IsOnCall(ctx context.Context, in IsOnCallInput) (IsOnCallResult, error) {
	email := strings.TrimSpace(in.Email)
	if in.IncidentID == "" || email == "" {
		return IsOnCallResult{}, invalidInput(fmt.Sprintf("pagerduty on-call check needs an incident ID and an email, got incident %q email %q", in.IncidentID, in.Email))
	}
	inc, err := a.Client.GetIncidentWithContext(ctx, in.IncidentID)
	if err != nil {
		return IsOnCallResult{}, classify("read incident "+in.IncidentID, err)
	}
	res := IsOnCallResult{IncidentID: in.IncidentID, ServiceID: inc.Service.ID, EscalationPolicyID: inc.EscalationPolicy.ID}
	if res.EscalationPolicyID == "" {
		return IsOnCallResult{}, nonRetryable(ErrTypeInvalidRequest, fmt.Sprintf("pagerduty incident %s has no escalation policy, so nobody can be on call for it", in.IncidentID))
	}
	opts := pd.ListOnCallOptions{EscalationPolicyIDs: []string{res.EscalationPolicyID}, Includes: []string{"users"}, Limit: 100}
	seen := map[string]bool{}
	for {
		resp, err := a.Client.ListOnCallsWithContext(ctx, opts)
		if err != nil {
			return IsOnCallResult{}, classify("list who is on call for escalation policy "+res.EscalationPolicyID, err)
		}
		for _, c := range resp.OnCalls {
			if !seen[c.User.ID] {
				seen[c.User.ID] = true
				res.OnCallCount++
			}
			if c.User.Email != "" && strings.EqualFold(c.User.Email, email) && (!res.OnCall || int(c.EscalationLevel) < res.Level) {
				res.OnCall, res.Level = true, int(c.EscalationLevel)
			}
		}
		if !resp.More || len(resp.OnCalls) == 0 {
			break
		}
		opts.Offset += uint(len(resp.OnCalls))
	}
	return res, nil
}
