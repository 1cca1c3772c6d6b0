package runs

import (
	"context"
	"errors"
	"fmt"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/workflows"
)

// LatestRun returns the run id of the latest run of workflowID.
func (c *Client) LatestRun(ctx context.Context, workflowID string) (string, error) {
	if c == nil || c.Temporal == nil {
		return "", ErrNoTemporal
	}
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return "", err
	}
	return desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
}

// History fetches a run's history with every payload decrypted, for the tools that read it
// (leak scans, audit exports, replays). The server itself only ever holds ciphertext.
func (c *Client) History(ctx context.Context, workflowID, runID string) ([]*historypb.HistoryEvent, error) {
	h, ok := c.Temporal.(historian)
	if !ok {
		return nil, errors.New("this Temporal client cannot read histories")
	}
	var events []*historypb.HistoryEvent
	it := h.GetWorkflowHistory(ctx, workflowID, runID, false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", workflowID, err)
		}
		if err := workflows.DecodeMessage(ctx, c.Codec, ev); err != nil {
			return nil, fmt.Errorf("decoding event %d of %s: %w", ev.GetEventId(), workflowID, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// NotARun is the error of StartInput and PinnedInput for a workflow that is not a firebreak
// playbook run.
type NotARun struct{ Reason string }

func (e *NotARun) Error() string { return e.Reason }

// StartInput reads the input a run was started with (its pinned RunInput) from the first event
// of its history, so no worker needs to answer a query.
func (c *Client) StartInput(ctx context.Context, workflowID, runID string) (workflows.RunInput, error) {
	h, ok := c.Temporal.(historian)
	if !ok {
		return workflows.RunInput{}, errors.New("this Temporal client cannot read histories")
	}
	it := h.GetWorkflowHistory(ctx, workflowID, runID, false, 0)
	if !it.HasNext() {
		return workflows.RunInput{}, fmt.Errorf("run %s has no history to check which playbook it runs", workflowID)
	}
	ev, err := it.Next()
	if err != nil {
		return workflows.RunInput{}, fmt.Errorf("reading the start of run %s: %w", workflowID, err)
	}
	if err := workflows.DecodeMessage(ctx, c.Codec, ev); err != nil {
		return workflows.RunInput{}, fmt.Errorf("decoding the start of run %s: %w", workflowID, err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	var in workflows.RunInput
	if attrs == nil || len(attrs.GetInput().GetPayloads()) != 1 || converter.GetDefaultDataConverter().FromPayload(attrs.GetInput().GetPayloads()[0], &in) != nil {
		return workflows.RunInput{}, &NotARun{fmt.Sprintf("run %s is not a firebreak playbook run", workflowID)}
	}
	return in, nil
}

// PinnedInput reads the Plan and inputs a run was started with from its decrypted history.
func PinnedInput(events []*historypb.HistoryEvent) (workflows.RunInput, error) {
	var in workflows.RunInput
	if len(events) == 0 || events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		return in, errors.New("the history does not start with WorkflowExecutionStarted")
	}
	attrs := events[0].GetWorkflowExecutionStartedEventAttributes()
	if attrs.GetWorkflowType().GetName() != "Run" || len(attrs.GetInput().GetPayloads()) != 1 {
		return in, &NotARun{fmt.Sprintf("expected a firebreak run (workflow type Run with one input), found %s with %d inputs", attrs.GetWorkflowType().GetName(), len(attrs.GetInput().GetPayloads()))}
	}
	if err := converter.GetDefaultDataConverter().FromPayload(attrs.GetInput().GetPayloads()[0], &in); err != nil {
		return in, fmt.Errorf("the run's input is not a firebreak RunInput (is the history still encrypted?): %w", err)
	}
	return in, nil
}
