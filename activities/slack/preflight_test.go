package slack_test

import (
	"context"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/preflight"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/testenv"
)

// TestPreflight: auth.test against the sandbox's Slack with the right token, a wrong one and none.
func TestPreflight(t *testing.T) {
	sb := testenv.NewSlack(testenv.DefaultOrg(), &testenv.Recorder{})
	defer sb.Close()
	for _, tc := range []struct {
		name, token, status, detail string
	}{
		{"good token", sb.BotToken(), preflight.OK, "bot "},
		{"wrong token", "xoxb-wrong", preflight.Failed, "auth.test: "},
		{"no token", "", preflight.Failed, "SLACK_BOT_TOKEN is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := slack.Preflight(context.Background(), tc.token, sb.URL()+"/api/")
			if len(got) != 1 || got[0].Integration != "slack" || got[0].Check != "auth.test" || got[0].Status != tc.status || !strings.Contains(got[0].Detail, tc.detail) {
				t.Errorf("Preflight = %+v; want one slack auth.test check %s with %q", got, tc.status, tc.detail)
			}
		})
	}
}
