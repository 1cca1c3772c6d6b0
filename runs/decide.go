package runs

import (
	"cmp"
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
	if s := c.signerFor(info.GetTaskQueue(), workflowID, false); s != c.Signer {
		signer = s
	}
	// The signature names the pending decision it answers (step, kind, occurrence), so it is
	// read from the run itself, never taken from the caller.
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, runID, workflows.QueryPending)
	if err != nil {
		return workflows.ApprovalResult{}, refusal(err)
	}
	var open []workflows.PendingApproval
	if err := v.Get(&open); err != nil {
		return workflows.ApprovalResult{}, fmt.Errorf("decoding the pending decisions of %s: %w", workflowID, err)
	}
	var names []string
	for _, p := range open {
		names = append(names, p.Step+" ("+p.Kind+")")
	}
	var target *workflows.PendingApproval
	for i, p := range open {
		if req.Step == "" && len(open) == 1 || req.Step != "" && p.Step == req.Step {
			target = &open[i]
		}
	}
	switch {
	case target != nil:
	case len(open) == 0:
		return workflows.ApprovalResult{}, fmt.Errorf("run %s is waiting for no decision", workflowID)
	case req.Step == "":
		return workflows.ApprovalResult{}, fmt.Errorf("no step named and %d decisions are pending; name one of: %s", len(open), strings.Join(names, ", "))
	default:
		return workflows.ApprovalResult{}, fmt.Errorf("no pending approval or manual step %q in run %s; pending: %s", req.Step, workflowID, strings.Join(names, ", "))
	}
	if req.Kind != "" && req.Kind != target.Kind || req.Seq != 0 && req.Seq != target.Seq {
		// A button pressed for an earlier decision (a gate since escalated, an earlier
		// occurrence) must not decide the one pending now.
		return workflows.ApprovalResult{}, fmt.Errorf("the %s of %s this decision was made for (number %d) is no longer pending; pending now: the %s numbered %d", cmp.Or(req.Kind, "-"), target.Step, req.Seq, target.Kind, target.Seq)
	}
	req.Kind, req.Seq = "", 0
	req = signer.Sign(req, *target, workflowID, runID, c.now())
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

// signerFor returns the key that signs for a run on queue: the sandbox's for a drill (which
// only drill workers trust), the Client's otherwise (nil: this client signs nothing).
func (c *Client) signerFor(queue, workflowID string, drill bool) *workflows.Signer {
	if drill || workflows.IsDrillQueue(queue) || strings.HasPrefix(workflowID, "drill/") {
		return workflows.NewSigner(workflows.SandboxDecisionKey())
	}
	return c.Signer
}
