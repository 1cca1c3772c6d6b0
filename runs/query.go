package runs

import (
	"context"
	"fmt"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Status queries a run's current RunResult.
func (c *Client) Status(ctx context.Context, workflowID string) (workflows.RunResult, error) {
	var res workflows.RunResult
	if err := c.query(ctx, workflowID, workflows.QueryStatus, &res); err != nil {
		return workflows.RunResult{}, err
	}
	return res, nil
}

// Pending queries the decisions a run waits for: approvals, manual steps, escalations.
func (c *Client) Pending(ctx context.Context, workflowID string) ([]workflows.PendingApproval, error) {
	var open []workflows.PendingApproval
	if err := c.query(ctx, workflowID, workflows.QueryPending, &open); err != nil {
		return nil, err
	}
	return open, nil
}

func (c *Client) query(ctx context.Context, workflowID, name string, into any) error {
	if c == nil || c.Temporal == nil {
		return ErrNoTemporal
	}
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, "", name)
	if err != nil {
		return refusal(err)
	}
	if err := v.Get(into); err != nil {
		return fmt.Errorf("decoding the %s of %s: %w", name, workflowID, err)
	}
	return nil
}
