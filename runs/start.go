package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/workflows"
)

// StartOptions say how a prepared run starts.
type StartOptions struct {
	// Queue is the task queue; empty means workflows.TaskQueue, or DrillTaskQueue for a drill.
	Queue string
	// Once means the trigger happens once per workflow id (a PagerDuty incident is triggered
	// once): a closed run with the id is the answer too, and no second run is ever started.
	Once bool
	// Fresh means the id is new by construction (a drill's nonce): nothing is asked or
	// joined, and a run already holding the id is an error.
	Fresh bool
	// Strict refuses to join a run of another playbook, or of the same playbook with other
	// inputs (reason aside), with a *JoinRefused: what a command naming an incident needs.
	Strict bool
	// Timeout bounds the run (its execution timeout); zero means none.
	Timeout time.Duration
	// Memo is recorded on the run for listing.
	Memo map[string]any
}

// Started says what StartOrJoin did.
type Started struct {
	WorkflowID string
	RunID      string
	Joined     bool // a run with this id was already open (or, for Once, closed); nothing new started
	Closed     bool // with Joined: that run has finished
}

// StartOrJoin starts the prepared run, or joins the open run with the same workflow id: one
// incident, one run. It asks Temporal whether one is running (to say "already running"), and
// starts with USE_EXISTING so that two starts racing each other still make one run.
func (c *Client) StartOrJoin(ctx context.Context, run Run, o StartOptions) (Started, error) {
	if c == nil || c.Temporal == nil {
		return Started{}, ErrNoTemporal
	}
	queue := o.Queue
	if queue == "" {
		queue = workflows.TaskQueue
		if run.Input.Drill {
			queue = workflows.DrillTaskQueue
		}
	}
	opts := client.StartWorkflowOptions{ID: run.ID, TaskQueue: queue, WorkflowExecutionTimeout: o.Timeout, Memo: o.Memo}
	if !o.Fresh {
		if d, err := c.Temporal.DescribeWorkflowExecution(ctx, run.ID, ""); err == nil {
			info := d.GetWorkflowExecutionInfo()
			running := info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
			if running || o.Once {
				st := Started{WorkflowID: run.ID, RunID: info.GetExecution().GetRunId(), Joined: true, Closed: !running}
				return st, c.checkJoin(ctx, st, run, o)
			}
		} else if !IsNotFound(err) && ctx.Err() != nil {
			return Started{}, fmt.Errorf("asking Temporal about run %s: %w", run.ID, err)
		}
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
		if o.Once {
			// A run that closed between Describe and here must not be followed by a second
			// one; the error says which run it was.
			opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
			opts.WorkflowExecutionErrorWhenAlreadyStarted = true
		}
	}
	in := run.Input
	if signer := c.signerFor(queue, run.ID, in.Drill); signer != nil {
		// The front end vouches for who asked: the workflow counts the requester as claimed
		// (and asks one more approver at each gate) unless the trigger is signed.
		in = signer.SignTrigger(in, run.ID, c.now())
	}
	wr, err := c.Temporal.ExecuteWorkflow(ctx, opts, workflows.Run, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if o.Once && errors.As(err, &already) {
		st := Started{WorkflowID: run.ID, RunID: already.RunId, Joined: true, Closed: true}
		return st, c.checkJoin(ctx, st, run, o)
	}
	if err != nil {
		return Started{}, fmt.Errorf("starting playbook %s as %s: %w", run.Input.Plan.Name, run.ID, err)
	}
	st := Started{WorkflowID: wr.GetID(), RunID: wr.GetRunID()}
	// With USE_EXISTING the start may have joined a run that opened after Describe.
	return st, c.checkJoin(ctx, st, run, o)
}

// JoinRefused is StartOrJoin's error when Strict and the run holding the id is not this
// request's: another playbook's, or the same playbook's with other inputs.
type JoinRefused struct {
	WorkflowID, RunID string
	Reason            string
}

func (e *JoinRefused) Error() string { return e.Reason }

// checkJoin, for Strict, refuses to report the run held under the id as the caller's when it
// is another playbook's, or the same playbook's with other inputs: one incident's run must not
// be mistaken for another response. Every bound input is compared (as canonical JSON, so 3
// and 3.0 or a list decoded from history compare equal) except reason, which only describes a
// run: a second responder's words do not make it another response. It reads the run's own
// start event (its pinned RunInput), so no worker needs to answer a query.
func (c *Client) checkJoin(ctx context.Context, st Started, run Run, o StartOptions) error {
	if !o.Strict {
		return nil
	}
	incident := run.Input.Report.PagerDutyIncident
	playbook := run.Input.Plan.Name
	in, err := c.StartInput(ctx, st.WorkflowID, st.RunID)
	var notRun *NotARun
	if errors.As(err, &notRun) {
		return &JoinRefused{st.WorkflowID, st.RunID, fmt.Sprintf("incident %s is held by run %s, which is not a firebreak playbook run; refusing to join it", incident, st.WorkflowID)}
	}
	if err != nil {
		return fmt.Errorf("incident %s: %w", incident, err)
	}
	follow := fmt.Sprintf("one incident, one run: follow that run (firebreak audit, /firebreak status %s), or start %s without --incident", st.WorkflowID, playbook)
	if in.Plan.Name != playbook {
		other, _ := in.Inputs["subject"].(string)
		return &JoinRefused{st.WorkflowID, st.RunID, fmt.Sprintf("incident %s already has run %s (%s) of playbook %s for subject %q; refusing to join it as %s — %s",
			incident, st.WorkflowID, st.RunID, in.Plan.Name, other, playbook, follow)}
	}
	if diff := inputDiff(in.Inputs, run.Input.Inputs); len(diff) > 0 {
		return &JoinRefused{st.WorkflowID, st.RunID, fmt.Sprintf("incident %s already has run %s (%s) of playbook %s with other inputs (%s); refusing to join it — %s",
			incident, st.WorkflowID, st.RunID, in.Plan.Name, strings.Join(diff, "; "), follow)}
	}
	return nil
}

// inputDiff describes each input (other than reason) whose value differs between the open
// run's inputs (have) and this request's (want), in name order: `subject: "bob" in the run,
// "alice" here`. An input one side lacks shows as unset.
func inputDiff(have, want map[string]any) []string {
	var names []string
	for k := range have {
		names = append(names, k)
	}
	for k := range want {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []string
	for _, k := range slices.Compact(names) {
		if k == "reason" {
			continue
		}
		h, w := canonicalJSON(have, k), canonicalJSON(want, k)
		if h != w {
			out = append(out, fmt.Sprintf("%s: %s in the run, %s here", k, h, w))
		}
	}
	return out
}

// canonicalJSON is m[k] as JSON (maps with sorted keys, numbers as JSON writes a float64),
// shortened for a message, or "unset".
func canonicalJSON(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok {
		return "unset"
	}
	b, err := json.Marshal(v)
	if err == nil {
		var norm any
		if json.Unmarshal(b, &norm) == nil {
			b, err = json.Marshal(norm)
		}
	}
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	const most = 80
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}

// Wait waits for the started run to finish and returns its result. recorded is true when err
// is the run's own failure (it did not contain) and res is its record, which says why.
func (c *Client) Wait(ctx context.Context, st Started) (res workflows.RunResult, recorded bool, err error) {
	g, ok := c.Temporal.(getter)
	if !ok {
		return res, false, errors.New("this Temporal client cannot wait for a run's result")
	}
	err = g.GetWorkflow(ctx, st.WorkflowID, st.RunID).Get(ctx, &res)
	return res, RecordedFailure(err, &res), err
}

// RecordedFailure reports whether err is a run's own failure carrying its RunResult, and if
// so decodes that record into res: the run's own record says why (res.Error). A cancelled
// run carries its record too, as the cancellation's details.
func RecordedFailure(err error, res *workflows.RunResult) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == workflows.ErrRunFailed && appErr.HasDetails() {
		_ = appErr.Details(res)
		return true
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() {
		_ = canceled.Details(res)
		return true
	}
	return false
}
