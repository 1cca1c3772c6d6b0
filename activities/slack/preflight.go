package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/activities/preflight"
)

// Preflight checks the bot token with auth.test at apiURL (Slack's own when empty).
func Preflight(ctx context.Context, token, apiURL string) []preflight.Result {
	if token == "" {
		return []preflight.Result{preflight.Fail("slack", "auth.test", "SLACK_BOT_TOKEN is not set")}
	}
	var opts []slackapi.Option
	if apiURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(apiURL))
	}
	res, err := slackapi.New(token, opts...).AuthTestContext(ctx)
	if err != nil {
		return []preflight.Result{preflight.Fail("slack", "auth.test", "auth.test: %v", err)}
	}
	return []preflight.Result{{Integration: "slack", Check: "auth.test", Status: preflight.OK, Detail: fmt.Sprintf("bot %s (%s) in team %s", res.User, res.UserID, res.Team)}}
}
