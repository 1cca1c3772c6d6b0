package pagerduty_test

import (
	"context"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/preflight"
	"github.com/firebreak-dev/firebreak/testenv"
)

// TestPreflight: a harmless GET against the sandbox's PagerDuty with the right token, a wrong
// one and none, and the From address.
func TestPreflight(t *testing.T) {
	sb := testenv.NewPagerDuty(testenv.DefaultOrg(), &testenv.Recorder{})
	defer sb.Close()
	type want struct{ check, status, detail string }
	for _, tc := range []struct {
		name, token, from string
		want              []want
	}{
		{"good", sb.Token(), testenv.PagerDutyBotEmail, []want{{"api", preflight.OK, "GET /oncalls answered"}}},
		{"no from", sb.Token(), "", []want{{"api", preflight.OK, "GET /oncalls answered"}, {"from", preflight.Failed, "PAGERDUTY_FROM is not set"}}},
		{"wrong token", "u+wrong", testenv.PagerDutyBotEmail, []want{{"api", preflight.Failed, "GET /oncalls: "}}},
		{"no token", "", testenv.PagerDutyBotEmail, []want{{"api", preflight.Failed, "PAGERDUTY_TOKEN is not set"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pagerduty.Preflight(context.Background(), tc.token, sb.URL(), tc.from)
			if len(got) != len(tc.want) {
				t.Fatalf("Preflight = %+v; want %d checks", got, len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].Integration != "pagerduty" || got[i].Check != w.check || got[i].Status != w.status || !strings.Contains(got[i].Detail, w.detail) {
					t.Errorf("check %d = %+v; want %s %s with %q", i, got[i], w.check, w.status, w.detail)
				}
			}
		})
	}
}
