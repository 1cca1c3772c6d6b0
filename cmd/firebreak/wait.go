package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// checkTimeout refuses a negative --timeout; zero means wait as long as the run takes.
func checkTimeout(d time.Duration) error {
	if d < 0 {
		return usagef("--timeout: expected a duration of zero (no bound) or more, found %s", d)
	}
	return nil
}

// errStoppedWaiting is what waitRun returns when the command stopped waiting for a run that
// goes on: --timeout passed, or the user interrupted the command.
var errStoppedWaiting = errors.New("stopped waiting")

// waitRun waits for a run's result for at most timeout (zero: no bound) — --timeout bounds
// the command, never the run. When it stops waiting first it tells stderr why and what
// becomes of the run: served by workers of a shared cluster it goes on; on this command's
// embedded server it ends with the command.
func waitRun(ctx context.Context, stderr io.Writer, c *runs.Client, st runs.Started, timeout time.Duration, embedded bool) (workflows.RunResult, bool, error) {
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	res, recorded, err := c.Wait(wctx, st)
	if err == nil || recorded || !runs.DeadlineReached(wctx, err) {
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
	return res, false, fmt.Errorf("%w (%s): %s", errStoppedWaiting, why, fate)
}

// runElapsed is how long a run took by its own record (or has taken so far).
func runElapsed(res workflows.RunResult) time.Duration {
	if res.StartedAt.IsZero() {
		return 0
	}
	end := res.EndedAt
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(res.StartedAt)
}

// queryStatus asks a run for its status, waiting at most timeout for the answer.
func queryStatus(ctx context.Context, c client.Client, wfID string, timeout time.Duration) (workflows.RunResult, error) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return runs.New(c, nil).Status(qctx, wfID)
}
