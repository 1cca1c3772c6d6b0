package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/firebreak-dev/firebreak/workflows"
)

// ErrStoppedWaiting is what WaitBounded returns when the caller stopped waiting for a run that
// goes on: the bound passed, or the caller's context ended (the user interrupted the command).
var ErrStoppedWaiting = errors.New("stopped waiting")

// WaitBounded waits for a run's result for at most timeout (zero: no bound): the bound limits
// the wait, never the run. When it stops waiting first it tells stderr why and what becomes of
// the run: served by workers of a shared cluster it goes on; on the caller's own embedded
// server it ends with the caller.
func (c *Client) WaitBounded(ctx context.Context, stderr io.Writer, st Started, timeout time.Duration, embedded bool) (workflows.RunResult, bool, error) {
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	res, recorded, err := c.Wait(wctx, st)
	if err == nil || recorded || !DeadlineReached(wctx, err) {
		return res, recorded, err
	}
	why := "interrupted"
	if ctx.Err() == nil {
		why = fmt.Sprintf("--timeout %s passed", timeout)
	}
	fate := fmt.Sprintf("run %s goes on; follow it with `firebreak audit export %s` or in the Temporal Web UI", st.WorkflowID, st.WorkflowID)
	if embedded {
		fate = fmt.Sprintf("run %s ran on this command's embedded Temporal server, which stops with it, so it does not go on; set TEMPORAL_ADDRESS (a `firebreak dev` or a cluster) for runs that outlive the command", st.WorkflowID)
	}
	fmt.Fprintf(stderr, "firebreak: stopped waiting (%s); %s\n", why, fate)
	return res, false, fmt.Errorf("%w (%s): %s", ErrStoppedWaiting, why, fate)
}

// Elapsed is how long a run took by its own record (or has taken so far).
func Elapsed(res workflows.RunResult) time.Duration {
	if res.StartedAt.IsZero() {
		return 0
	}
	end := res.EndedAt
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(res.StartedAt)
}

// QueryStatus asks a run over c for its status, waiting at most timeout for the answer.
func QueryStatus(ctx context.Context, c Temporal, workflowID string, timeout time.Duration) (workflows.RunResult, error) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return New(c, nil).Status(qctx, workflowID)
}
