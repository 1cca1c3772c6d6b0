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
		return false, nil
	case err != nil:
		return false, fmt.Errorf("recording request %s as handled: %w", key, err)
	}
	return true, nil
}

// Claimed reports whether the request key has been claimed.
func (c *Client) Claimed(ctx context.Context, key string) (bool, error) {
	if c == nil || c.Temporal == nil {
		return false, ErrNoTemporal
	}
	_, err := c.Temporal.DescribeWorkflowExecution(ctx, ClaimID(key), "")
	switch {
	case IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("asking whether request %s was handled: %w", key, err)
	}
	return true, nil
}
