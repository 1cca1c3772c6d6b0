package pagerduty_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/testenv"
)

func (f *fixture) escalate(in pagerduty.EscalateInput) (pagerduty.EscalateResult, error) {
	var out pagerduty.EscalateResult
	return out, f.run(f.a.Escalate, in, &out)
}

func TestEscalateExistingIncident(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		name       string
		in         pagerduty.EscalateInput
		want       pagerduty.EscalateResult
		wantPolicy string
		wantLevel  int
		errType    string
	}{
		{name: "raise level", in: pagerduty.EscalateInput{IncidentID: "PINC001", EscalationLevel: 2},
			want: pagerduty.EscalateResult{IncidentID: "PINC001", Status: "triggered", Urgency: "high", EscalationPolicyID: testenv.PagerDutyEscalationPolicyID, Changed: true}, wantPolicy: testenv.PagerDutyEscalationPolicyID, wantLevel: 2},
		{name: "reassign to policy", in: pagerduty.EscalateInput{IncidentID: "PINC001", EscalationPolicyID: testenv.PagerDutyManagersPolicyID},
			want: pagerduty.EscalateResult{IncidentID: "PINC001", Status: "triggered", Urgency: "high", EscalationPolicyID: testenv.PagerDutyManagersPolicyID, Changed: true}, wantPolicy: testenv.PagerDutyManagersPolicyID, wantLevel: 1},
		{name: "reassign again sends nothing", in: pagerduty.EscalateInput{IncidentID: "PINC001", EscalationPolicyID: testenv.PagerDutyManagersPolicyID},
			want: pagerduty.EscalateResult{IncidentID: "PINC001", Status: "triggered", Urgency: "high", EscalationPolicyID: testenv.PagerDutyManagersPolicyID}, wantPolicy: testenv.PagerDutyManagersPolicyID, wantLevel: 1},
		{name: "neither level nor policy", in: pagerduty.EscalateInput{IncidentID: "PINC001"}, errType: pagerduty.ErrTypeInvalidRequest},
		{name: "unknown policy", in: pagerduty.EscalateInput{IncidentID: "PINC001", EscalationPolicyID: "PNOPE"}, errType: pagerduty.ErrTypeInvalidRequest},
		{name: "unknown incident", in: pagerduty.EscalateInput{IncidentID: "PNOPE", EscalationLevel: 2}, errType: pagerduty.ErrTypeUnknownIncident},
	}
	for _, st := range steps {
		got, err := f.escalate(st.in)
		if st.errType != "" {
			if ae := appError(t, err); ae.Type() != st.errType || !ae.NonRetryable() {
				t.Errorf("%s: error %v; want non-retryable %s", st.name, err, st.errType)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Errorf("%s: got %+v; want %+v", st.name, got, st.want)
		}
		if p, l, _ := f.sb.IncidentEscalation("PINC001"); p != st.wantPolicy || l != st.wantLevel {
			t.Errorf("%s: sandbox has policy %s level %d; want %s level %d", st.name, p, l, st.wantPolicy, st.wantLevel)
		}
	}

	// A resolved incident cannot be escalated.
	if _, err := f.run2Resolve(); err != nil {
		t.Fatal(err)
	}
	_, err := f.escalate(pagerduty.EscalateInput{IncidentID: "PINC001", EscalationLevel: 2})
	if ae := appError(t, err); ae.Type() != pagerduty.ErrTypeInvalidRequest || !ae.NonRetryable() {
		t.Errorf("escalating a resolved incident: %v; want non-retryable %s", err, pagerduty.ErrTypeInvalidRequest)
	}
}

func (f *fixture) run2Resolve() (pagerduty.IncidentResult, error) {
	var out pagerduty.IncidentResult
	return out, f.run(f.a.Resolve, pagerduty.IncidentInput{IncidentID: "PINC001"}, &out)
}

func TestEscalateCreatesIncidentOnce(t *testing.T) {
	f := newFixture(t)
	in := pagerduty.EscalateInput{ServiceID: "PSVCDEV", Title: "Rotation of bob's key needs a person", Urgency: "low", EscalationPolicyID: testenv.PagerDutyManagersPolicyID, IdempotencyKey: "run9/escalate"}
	first, err := f.escalate(in)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.IncidentID == "" || first.Urgency != "low" || first.EscalationPolicyID != testenv.PagerDutyManagersPolicyID || first.Status != "triggered" {
		t.Errorf("first = %+v; want a created low-urgency incident on the managers policy", first)
	}
	// A retry returns the same incident and opens none.
	second, err := f.escalate(in)
	if err != nil {
		t.Fatal(err)
	}
	if second.IncidentID != first.IncidentID || !second.Created {
		t.Errorf("second = %+v; want incident %s again", second, first.IncidentID)
	}
	if ids := f.sb.IncidentsByKey(pagerduty.IncidentKey("run9/escalate")); len(ids) != 1 {
		t.Errorf("incidents with the step's key: %v; want one", ids)
	}
	posts := 0
	for _, c := range f.rec.Calls("pagerduty") {
		if c.Op == "POST /incidents" {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d POST /incidents; want 1", posts)
	}

	// A lost answer: the create succeeded but the lookup missed it (a stale list); the
	// duplicate-key refusal leads back to the incident.
	other := in
	other.IdempotencyKey = "run10/escalate"
	calls := 0
	f.sb.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/incidents" {
			calls++
			if calls == 2 { // the lookup before the second create
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"incidents":[],"limit":25,"offset":0,"more":false}`))
				return true
			}
		}
		return false
	})
	a, err := f.escalate(other)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.escalate(other)
	if err != nil {
		t.Fatalf("retry after a stale lookup: %v", err)
	}
	if a.IncidentID != b.IncidentID || a.IncidentID == first.IncidentID {
		t.Errorf("retry returned %s; want %s (a new incident per key)", b.IncidentID, a.IncidentID)
	}
}

func TestEscalateCreateRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	for _, in := range []pagerduty.EscalateInput{
		{Title: "x"},
		{ServiceID: "PSVCDEV"},
		{ServiceID: "PSVCDEV", Title: "x", Urgency: "urgent"},
		{ServiceID: "PNOPE", Title: "x", IdempotencyKey: "k"},
		{IncidentID: "PINC001", EscalationLevel: 2, Urgency: "low"},
	} {
		_, err := f.escalate(in)
		if ae := appError(t, err); ae.Type() != pagerduty.ErrTypeInvalidRequest || !ae.NonRetryable() {
			t.Errorf("%+v: error %v; want non-retryable %s", in, err, pagerduty.ErrTypeInvalidRequest)
		}
	}
}

func TestEscalateRedactsTheTitle(t *testing.T) {
	const secret = "sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF"
	f := newFixture(t)
	res, err := f.escalate(pagerduty.EscalateInput{ServiceID: "PSVCDEV", Title: "key " + secret + " leaked", IdempotencyKey: "run9/leak"})
	if err != nil {
		t.Fatal(err)
	}
	inc, ok := f.sb.Incident(res.IncidentID)
	if !ok || strings.Contains(inc.Title, secret) || !strings.Contains(inc.Title, "[redacted ") {
		t.Fatalf("expected the incident title redacted, got %+v", inc)
	}
}
