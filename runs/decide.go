package runs

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Decide sends a person's decision on a run — approve or deny a gate, answer a manual step,
// acknowledge an escalation — through the workflow's approval Update and returns what the
// workflow said. A refusal by the workflow's validator comes back as an error whose message is
// the workflow's; an unknown run as an error wrapping ErrNotFound.
func (c *Client) Decide(ctx context.Context, workflowID string, req workflows.ApprovalRequest) (workflows.ApprovalResult, error) {
	if c == nil || c.Temporal == nil {
		return workflows.ApprovalResult{}, ErrNoTemporal
	}
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   workflows.UpdateApprove,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res workflows.ApprovalResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err != nil {
		return workflows.ApprovalResult{}, refusal(err)
	}
	return res, nil
}

// refusal turns a Temporal error into the message a person should read: the workflow's own
// words for an application error, ErrNotFound for an unknown run.
func refusal(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return errors.New(app.Message())
	}
	if IsNotFound(err) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}
