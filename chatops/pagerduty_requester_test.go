package chatops_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/chatops"
)

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
