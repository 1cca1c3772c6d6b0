package chatops_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/chatops"
)

// Runs' steps and errors are for people who hold a role: alice is in the directory but holds none.
func TestStatusNeedsARole(t *testing.T) {
	h := newHarness(t)
	m := decodeMsg(t, h.command(t, "U0ALICE", "/firebreak", "status"))
	if !strings.Contains(m.Text, "you hold no firebreak role") {
		t.Fatalf("status for a user without a role: %q", m.Text)
	}
	if m := decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "status")); strings.Contains(m.Text, "cannot see runs") {
		t.Fatalf("status for a responder: %q", m.Text)
	}
}

// However many lookups a command needs and however slow Slack is, the acknowledgement is sent
// within the pre-acknowledgement budget, inside Slack's 3 s limit.
func TestAckWithinBudgetWhenSlackIsSlow(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) {
		o.Config.Roles["responder"] = chatops.RoleMembers{Groups: []string{"S1", "S2", "S3", "S4"}}
	})
	h.slack.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		select { // every Slack call takes a second, or until the caller gives up
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
		return false
	})
	start := time.Now()
	rec := h.command(t, "U0CAROL", "/revoke-dev", "<@U0ALICE|alice> leak")
	if took := time.Since(start); took > 2900*time.Millisecond {
		t.Fatalf("acknowledged after %s; Slack gives up at 3 s", took)
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
}

// The person who raised an incident is its run's requester, so they cannot approve it; an
// agent the directory does not know leaves the service as the requester.
func TestPagerDutyRequesterIsTheAgent(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) { o.Config.Directory[0].PagerDutyID = "PALICE1" })
	h.webhook(t, pdEvent("01EV", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "Suspected leaked AWS key for bob"))
	h2 := newHarness(t)
	h2.webhook(t, pdEvent("01EV", chatops.EventIncidentTriggered, "PINC001", "PSVCDEV", "high", "Suspected leaked AWS key for bob"))
	s1, _ := h.fake.snapshot()
	s2, _ := h2.fake.snapshot()
	if len(s1) != 1 || s1[0].Input.Trigger.By != "alice" || len(s2) != 1 || s2[0].Input.Trigger.By != "pagerduty:PSVCDEV" {
		t.Fatalf("requesters: %+v / %+v", s1, s2)
	}
}
