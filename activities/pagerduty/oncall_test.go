package pagerduty_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/testenv"
)

// TestIsOnCall asks the PagerDuty sandbox, through the unmodified go-pagerduty client, whether
// people are on call for an incident: incident → escalation policy → on-calls with emails.
func TestIsOnCall(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, incident, email string
		want                  bool
	}{
		{"on call", "PINC001", "carol@example.test", true},
		{"on call, email cased differently", "PINC001", " Carol@Example.TEST ", true},
		{"not on call", "PINC001", "bob@example.test", false},
		{"unknown person", "PINC001", "mallory@example.test", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got pagerduty.IsOnCallResult
			if err := f.run(f.a.IsOnCall, pagerduty.IsOnCallInput{IncidentID: tt.incident, Email: tt.email}, &got); err != nil {
				t.Fatal(err)
			}
			if got.OnCall != tt.want || got.EscalationPolicyID != testenv.PagerDutyEscalationPolicyID || got.OnCallCount != 1 || got.ServiceID != "PSVCDEV" {
				t.Errorf("IsOnCall(%s, %q) = %+v; want on_call=%v against policy %s with 1 person on call", tt.incident, tt.email, got, tt.want, testenv.PagerDutyEscalationPolicyID)
			}
			if tt.want && got.Level != 1 {
				t.Errorf("level = %d, want 1", got.Level)
			}
		})
	}
	var ops []string
	for _, c := range f.rec.Calls("pagerduty") {
		ops = append(ops, c.Op)
	}
	if len(ops) != 2*len(tests) || ops[0] != "GET /incidents/{id}" || ops[1] != "GET /oncalls" {
		t.Errorf("calls %v; want GET /incidents/{id} then GET /oncalls for each check", ops)
	}
}

// TestIsOnCallFollowsReassignment: once the incident is re-assigned to another escalation
// policy, the on-call check follows it (nobody is on call for the managers' policy here).
func TestIsOnCallFollowsReassignment(t *testing.T) {
	f := newFixture(t)
	var esc pagerduty.EscalateResult
	if err := f.run(f.a.Escalate, pagerduty.EscalateInput{IncidentID: "PINC001", EscalationPolicyID: testenv.PagerDutyManagersPolicyID, IdempotencyKey: "t/esc"}, &esc); err != nil {
		t.Fatal(err)
	}
	var got pagerduty.IsOnCallResult
	if err := f.run(f.a.IsOnCall, pagerduty.IsOnCallInput{IncidentID: "PINC001", Email: "carol@example.test"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.OnCall || got.EscalationPolicyID != testenv.PagerDutyManagersPolicyID {
		t.Errorf("after re-assignment IsOnCall = %+v; want not on call, policy %s", got, testenv.PagerDutyManagersPolicyID)
	}
}

func TestIsOnCallErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		in       pagerduty.IsOnCallInput
		wantType string
	}{
		{"no email", pagerduty.IsOnCallInput{IncidentID: "PINC001"}, pagerduty.ErrTypeInvalidRequest},
		{"no incident", pagerduty.IsOnCallInput{Email: "carol@example.test"}, pagerduty.ErrTypeInvalidRequest},
		{"unknown incident", pagerduty.IsOnCallInput{IncidentID: "PNOPE00", Email: "carol@example.test"}, pagerduty.ErrTypeUnknownIncident},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got pagerduty.IsOnCallResult
			err := f.run(f.a.IsOnCall, tt.in, &got)
			ae := appError(t, err)
			if ae.Type() != tt.wantType || !ae.NonRetryable() {
				t.Errorf("error %v (type %s, non-retryable %v); want non-retryable %s", err, ae.Type(), ae.NonRetryable(), tt.wantType)
			}
		})
	}
}
