package pagerduty

import (
	"context"
	"fmt"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/firebreak-dev/firebreak/activities/preflight"
)

// Preflight checks the API token with a harmless GET (on-calls) at apiURL (PagerDuty's own
// when empty), and that from, the email notes and status changes are made as, is set.
func Preflight(ctx context.Context, token, apiURL, from string) []preflight.Result {
	if token == "" {
		return []preflight.Result{preflight.Fail("pagerduty", "api", "PAGERDUTY_TOKEN is not set")}
	}
	var opts []pd.ClientOptions
	if apiURL != "" {
		opts = append(opts, pd.WithAPIEndpoint(apiURL))
	}
	res, err := pd.NewClient(token, opts...).ListOnCallsWithContext(ctx, pd.ListOnCallOptions{Limit: 1})
	if err != nil {
		return []preflight.Result{preflight.Fail("pagerduty", "api", "GET /oncalls: %v", err)}
	}
	out := []preflight.Result{{Integration: "pagerduty", Check: "api", Status: preflight.OK, Detail: fmt.Sprintf("GET /oncalls answered (%d on call)", len(res.OnCalls))}}
	if from == "" {
		return append(out, preflight.Fail("pagerduty", "from", "PAGERDUTY_FROM is not set: notes and status changes need the email of a PagerDuty user"))
	}
	return out
}
