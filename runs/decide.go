package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/workflows"
)

// ErrNoDecisionKey is returned by Decide when the Client holds no decision key.
var ErrNoDecisionKey = errors.New("no decision key here, so no decision can be signed: firebreak serve holds it (decision.key, FIREBREAK_DECISION_KEY), as do the people who decide with firebreak approve")

// Decide sends a person's decision on a run — approve or deny a gate, answer a manual step,
// acknowledge an escalation — through the workflow's approval Update and returns what the
// workflow said. The approver, their roles and email must already be resolved from the
// directory: Decide signs them with the Client's decision key (the sandbox's for a drill,
// which only drill workers trust), for the run's current execution and the step it names — or
// the one decision the run waits for when req names none — and workers count nothing
// unsigned. A refusal by the workflow's validator comes back as an error whose message is
// the workflow's; an unknown run as an error wrapping ErrNotFound.
func (c *Client) Decide(ctx context.Context, workflowID string, req workflows.ApprovalRequest) (workflows.ApprovalResult, error) {
	if c == nil || c.Temporal == nil {
		return workflows.ApprovalResult{}, ErrNoTemporal
	}
	signer := c.Signer
	if signer == nil {
		return workflows.ApprovalResult{}, ErrNoDecisionKey
	}
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return workflows.ApprovalResult{}, refusal(err)
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return workflows.ApprovalResult{}, fmt.Errorf("run %s is no longer open (%s): nothing to decide", workflowID, strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
	}
	runID := info.GetExecution().GetRunId()
	if workflows.IsDrillQueue(info.GetTaskQueue()) || strings.HasPrefix(workflowID, "drill/") {
		signer = workflows.NewSigner(workflows.SandboxDecisionKey())
	}
	step := req.Step
	if step == "" {
		v, err := c.Temporal.QueryWorkflow(ctx, workflowID, runID, workflows.QueryStatus)
		if err != nil {
			return workflows.ApprovalResult{}, refusal(err)
		}
		var st workflows.RunResult
		if err := v.Get(&st); err != nil {
			return workflows.ApprovalResult{}, fmt.Errorf("decoding the status of %s: %w", workflowID, err)
		}
		var open []string
		for _, p := range st.Pending {
			open = append(open, p.Step+" ("+p.Kind+")")
		}
		switch len(open) {
		case 0:
			return workflows.ApprovalResult{}, fmt.Errorf("run %s is waiting for no decision", workflowID)
		case 1:
			step = st.Pending[0].Step
		default:
			return workflows.ApprovalResult{}, fmt.Errorf("no step named and %d decisions are pending; name one of: %s", len(open), strings.Join(open, ", "))
		}
	}
	req = signer.Sign(req, step, workflowID, runID, c.now())
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		RunID:        runID,
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
