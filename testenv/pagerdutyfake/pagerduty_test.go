package pagerdutyfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/pagerdutyfake"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

func pdSandbox(t *testing.T) (*pagerdutyfake.PagerDuty, *pd.Client, *fakebase.Recorder) {
	t.Helper()
	rec := &fakebase.Recorder{}
	p := pagerdutyfake.New(seed.DefaultOrg(), rec)
	t.Cleanup(p.Close)
	return p, pd.NewClient(p.Token(), pd.WithAPIEndpoint(p.URL())), rec
}

func pdStatus(err error) int {
	var ae pd.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func TestPagerDutyIncidentAndNotes(t *testing.T) {
	p, client, rec := pdSandbox(t)
	ctx := context.Background()
	if !fakebase.ContainsCanary(p.Token()) {
		t.Errorf("Token() = %q, want it to contain the canary", p.Token())
	}

	inc, err := client.GetIncidentWithContext(ctx, "PINC001")
	if err != nil {
		t.Fatalf("get incident: %v", err)
	}
	if inc.ID != "PINC001" || inc.Status != "triggered" || inc.Service.ID != "PSVCDEV" || inc.Urgency != "high" || inc.IncidentNumber != 1 {
		t.Errorf("incident = %+v, want the seeded triggered incident", inc)
	}

	note, err := client.CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{Content: "evidence captured", User: pd.APIObject{Summary: "carol@example.test"}})
	if err != nil {
		t.Fatalf("create note: %v", err)
	}
	if note.ID == "" || note.User.ID != "PCAROL1" || note.Content != "evidence captured" {
		t.Errorf("created note = %+v, want an ID, carol as author and the content", note)
	}
	notes, err := client.ListIncidentNotesWithContext(ctx, "PINC001")
	if err != nil || len(notes) != 1 || notes[0].ID != note.ID {
		t.Fatalf("list notes = %+v, %v; want the one note", notes, err)
	}
	if got := p.Notes("PINC001"); len(got) != 1 || got[0].UserID != "PCAROL1" {
		t.Errorf("Notes() = %+v, want carol's note", got)
	}

	tests := []struct {
		name   string
		call   func() error
		status int
		detail string
	}{
		{"note without From", func() error {
			_, err := client.CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{Content: "x"})
			return err
		}, http.StatusBadRequest, "From"},
		{"note from a stranger", func() error {
			_, err := client.CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{Content: "x", User: pd.APIObject{Summary: "mallory@example.test"}})
			return err
		}, http.StatusBadRequest, "From"},
		{"empty note", func() error {
			_, err := client.CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{User: pd.APIObject{Summary: "carol@example.test"}})
			return err
		}, http.StatusBadRequest, "Content"},
		{"unknown incident", func() error {
			_, err := client.GetIncidentWithContext(ctx, "PNOPE")
			return err
		}, http.StatusNotFound, "Not Found"},
		{"notes of unknown incident", func() error {
			_, err := client.ListIncidentNotesWithContext(ctx, "PNOPE")
			return err
		}, http.StatusNotFound, "Not Found"},
		{"bad token", func() error {
			_, err := pd.NewClient("u+wrong", pd.WithAPIEndpoint(p.URL())).GetIncidentWithContext(ctx, "PINC001")
			return err
		}, http.StatusUnauthorized, "Authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if pdStatus(err) != tt.status || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error = %v, want HTTP %d mentioning %q", err, tt.status, tt.detail)
			}
		})
	}
	if len(p.Notes("PINC001")) != 1 {
		t.Errorf("failed note creations were stored: %+v", p.Notes("PINC001"))
	}
	if n := rec.Count("pagerduty", "POST /incidents/{id}/notes"); n != 4 {
		t.Errorf("recorded %d note creations, want 4", n)
	}
	for _, c := range rec.Calls("pagerduty") {
		if c.Op == "GET /incidents/{id}" && c.Status == http.StatusOK {
			return
		}
	}
	t.Errorf("no successful GET /incidents/{id} recorded in %+v", rec.Calls("pagerduty"))
}

func TestPagerDutyManageIncidents(t *testing.T) {
	p, client, _ := pdSandbox(t)
	ctx := context.Background()
	steps := []struct {
		status     string
		from       string
		wantStatus int // HTTP status, 0 for success
		want       string
	}{
		{"acknowledged", "", http.StatusBadRequest, "triggered"},
		{"acknowledged", "alice@example.test", 0, "acknowledged"},
		{"acknowledged", "alice@example.test", 0, "acknowledged"},
		{"resolved", "alice@example.test", 0, "resolved"},
		{"resolved", "alice@example.test", http.StatusBadRequest, "resolved"},
		{"acknowledged", "alice@example.test", http.StatusBadRequest, "resolved"},
	}
	for i, st := range steps {
		resp, err := client.ManageIncidentsWithContext(ctx, st.from, []pd.ManageIncidentsOptions{{ID: "PINC001", Status: st.status}})
		if st.wantStatus != 0 {
			if pdStatus(err) != st.wantStatus {
				t.Errorf("step %d (%s from %q): error %v, want HTTP %d", i, st.status, st.from, err, st.wantStatus)
			}
		} else if err != nil || len(resp.Incidents) != 1 || resp.Incidents[0].Status != st.want {
			t.Errorf("step %d (%s): %+v, %v; want status %s", i, st.status, resp, err, st.want)
		}
		if inc, _ := p.Incident("PINC001"); inc.Status != st.want {
			t.Errorf("step %d: sandbox status %q, want %q", i, inc.Status, st.want)
		}
	}
	if _, err := client.ManageIncidentsWithContext(ctx, "alice@example.test", []pd.ManageIncidentsOptions{{ID: "PNOPE", Status: "resolved"}}); pdStatus(err) != http.StatusNotFound {
		t.Errorf("manage unknown incident: %v, want 404", err)
	}
}

func TestPagerDutyOnCallsAndUsers(t *testing.T) {
	_, client, _ := pdSandbox(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		opts     pd.ListOnCallOptions
		want     []string
		wantMail string
	}{
		{"by policy with users", pd.ListOnCallOptions{EscalationPolicyIDs: []string{pagerdutyfake.EscalationPolicyID}, Includes: []string{"users"}}, []string{"PCAROL1"}, "carol@example.test"},
		{"by schedule, references only", pd.ListOnCallOptions{ScheduleIDs: []string{pagerdutyfake.ScheduleID}}, []string{"PCAROL1"}, ""},
		{"unknown policy", pd.ListOnCallOptions{EscalationPolicyIDs: []string{"PNOPE"}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.ListOnCallsWithContext(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, oc := range resp.OnCalls {
				ids = append(ids, oc.User.ID)
				if oc.User.Email != tt.wantMail {
					t.Errorf("on-call user email %q, want %q", oc.User.Email, tt.wantMail)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("on call %v, want %v", ids, tt.want)
			}
		})
	}
	users, err := client.ListUsersWithContext(ctx, pd.ListUsersOptions{Query: "bob"})
	if err != nil || len(users.Users) != 1 || users.Users[0].Email != "bob@example.test" || users.Users[0].ID != "PBOB001" {
		t.Errorf("list users query bob = %+v, %v; want bob", users, err)
	}
}

func TestPagerDutyDownAndFaults(t *testing.T) {
	p, client, _ := pdSandbox(t)
	ctx := context.Background()
	p.SetDown(true)
	if _, err := client.GetIncidentWithContext(ctx, "PINC001"); pdStatus(err) != http.StatusServiceUnavailable {
		t.Errorf("while down: %v, want 503", err)
	}
	p.SetDown(false)
	p.FailOp("POST /incidents/{id}/notes", http.StatusTooManyRequests)
	_, err := client.CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{Content: "x", User: pd.APIObject{Summary: "carol@example.test"}})
	var ae pd.APIError
	if !errors.As(err, &ae) || !ae.RateLimited() {
		t.Errorf("faulted note: %v, want a rate-limited APIError", err)
	}
	if _, err := client.GetIncidentWithContext(ctx, "PINC001"); err != nil {
		t.Errorf("GET while only notes are faulted: %v", err)
	}
	p.FailOp("POST /incidents/{id}/notes", 0)
	p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	if _, err := client.ManageIncidentsWithContext(ctx, "alice@example.test", []pd.ManageIncidentsOptions{{ID: "PINC001", Status: "resolved"}}); pdStatus(err) != http.StatusInternalServerError {
		t.Errorf("PUT under the fault: %v, want 500", err)
	}
	p.SetFault(nil)
	if _, err := client.CreateIncidentNoteWithContext(ctx, "PINC001", pd.IncidentNote{Content: "x", User: pd.APIObject{Summary: "carol@example.test"}}); err != nil {
		t.Errorf("note after clearing faults: %v", err)
	}
}
