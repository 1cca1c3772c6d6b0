package runs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// Requests that must be handled once across every replica of the front end (a Slack
// request replayed within its signature's five minutes, a PagerDuty event delivered twice)
// are remembered in Temporal itself, the one store firebreak has: claiming a request starts
// a marker workflow whose id is derived from the request, with a reuse policy that rejects
// a second start. No worker serves the marker; it times out when the window ends, and its
// id stays taken for the namespace's retention.
const (
	// ClaimWorkflowType is the type of the marker workflows; runs lists only Run.
	ClaimWorkflowType = "firebreak.RequestSeen"
	// ClaimTaskQueue is the task queue nobody polls that markers are started on.
	ClaimTaskQueue = "firebreak-request-seen"
)

// ClaimID is the workflow id of the marker for request key (e.g. "slack/<trigger id>").
func ClaimID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "firebreak/seen/" + hex.EncodeToString(sum[:16])
}

// Claim records that the request key is being handled and reports whether this call was
// the first to claim it, here or on any other replica. window bounds how long the marker
// stays open; it must cover the time a replay of the request is otherwise accepted.
func (c *Client) Claim(ctx context.Context, key string, window time.Duration) (bool, error) {
	if c == nil || c.Temporal == nil {
		return false, ErrNoTemporal
	}
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       ClaimID(key),
		TaskQueue:                                ClaimTaskQueue,
		WorkflowExecutionTimeout:                 window,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, ClaimWorkflowType)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		return c.reclaim(ctx, key, window)
	case err != nil:
		return false, fmt.Errorf("recording request %s as handled: %w", key, err)
	}
	return true, nil
}

// releasedReason is the termination reason of a marker released by Release.
const releasedReason = "firebreak: released, the request was not handled"

// reclaim claims key again when its marker was released (terminated by Release): a request
// whose handling failed may be retried. Any other marker, open or closed, keeps it claimed.
func (c *Client) reclaim(ctx context.Context, key string, window time.Duration) (bool, error) {
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, ClaimID(key), "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		return false, nil
	}
	_, err = c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       ClaimID(key),
		TaskQueue:                ClaimTaskQueue,
		WorkflowExecutionTimeout: window,
		// Terminated (released) is among the "failed" closes this policy allows to follow;
		// two replicas reclaiming at once still make one marker (conflict policy FAIL).
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, ClaimWorkflowType)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("recording request %s as handled again: %w", key, err)
	}
	return true, nil
}

// terminator ends a workflow; client.Client is one.
type terminator interface {
	TerminateWorkflow(ctx context.Context, workflowID, runID, reason string, details ...any) error
}

// Release gives up the claim on request key, taken by Claim, when the request could not be
// handled (the run did not start): the same request sent again (Slack's retry, the person's)
// may then claim it and be handled.
func (c *Client) Release(ctx context.Context, key string) error {
	if c == nil || c.Temporal == nil {
		return ErrNoTemporal
	}
	t, ok := c.Temporal.(terminator)
	if !ok {
		return errors.New("this Temporal client cannot release a request's claim")
	}
	if err := t.TerminateWorkflow(ctx, ClaimID(key), "", releasedReason); err != nil && !IsNotFound(err) {
		return fmt.Errorf("releasing request %s: %w", key, err)
	}
	return nil
}

// Claimed reports whether the request key has been claimed.
func (c *Client) Claimed(ctx context.Context, key string) (bool, error) {
	if c == nil || c.Temporal == nil {
		return false, ErrNoTemporal
	}
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, ClaimID(key), "")
	switch {
	case IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("asking whether request %s was handled: %w", key, err)
	}
	// A released claim (Release) is no claim.
	return d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, nil
}
