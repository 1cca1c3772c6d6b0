package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Summary is one run as visibility lists it.
type Summary struct {
	WorkflowID string               `json:"workflow_id"`
	RunID      string               `json:"run_id"`
	Playbook   string               `json:"playbook"`
	Status     string               `json:"status"`
	StartedAt  time.Time            `json:"started_at"`
	ClosedAt   time.Time            `json:"closed_at,omitzero"`
	Result     *workflows.RunResult `json:"result,omitempty"`
	// ReplayOf, on a drill that replays a recorded run, is that run's workflow id (memo
	// MemoReplayOf): a replay is a check of the interpreter, not a drill of the team.
	ReplayOf string `json:"replay_of,omitempty"`
}

// MemoReplayOf is the memo field a replay's run records the replayed run's workflow id in.
const MemoReplayOf = "replay_of"

// Filter selects runs to list; zero values select everything.
type Filter struct {
	Since  time.Time // started at or after
	Prefix string    // workflow id starts with
	Open   bool      // still running
	Limit  int       // at most this many (one page); zero means every page
}

// ErrCannotList is List's error for a Temporal client that cannot list runs.
var ErrCannotList = errors.New("this Temporal client cannot list runs")

// List lists interpreter runs matching f, newest first, with each run's playbook from its memo
// (empty for a run started without one).
func (c *Client) List(ctx context.Context, f Filter) ([]Summary, error) {
	l, ok := c.Temporal.(lister)
	if !ok {
		return nil, ErrCannotList
	}
	q := "WorkflowType = 'Run'"
	if !f.Since.IsZero() {
		q += " AND StartTime >= '" + f.Since.UTC().Format(time.RFC3339) + "'"
	}
	if f.Prefix != "" {
		q += " AND WorkflowId STARTS_WITH '" + strings.ReplaceAll(f.Prefix, "'", "") + "'"
	}
	if f.Open {
		q = `WorkflowType = 'Run' AND ExecutionStatus = "Running"`
	}
	var out []Summary
	var token []byte
	for {
		resp, err := l.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token, PageSize: int32(f.Limit)})
		if err != nil {
			return nil, fmt.Errorf("listing runs (%s): %w", q, err)
		}
		for _, e := range resp.GetExecutions() {
			s := Summary{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Status: strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")), StartedAt: e.GetStartTime().AsTime()}
			if e.GetCloseTime() != nil {
				s.ClosedAt = e.GetCloseTime().AsTime()
			}
			if fl := e.GetMemo().GetFields()["playbook"]; fl != nil {
				_ = json.Unmarshal(fl.GetData(), &s.Playbook)
			}
			if fl := e.GetMemo().GetFields()[MemoReplayOf]; fl != nil {
				_ = json.Unmarshal(fl.GetData(), &s.ReplayOf)
			}
			out = append(out, s)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 || f.Limit > 0 {
			return out, nil
		}
	}
}
