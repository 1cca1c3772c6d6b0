package chatops_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/chatops"
)

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
