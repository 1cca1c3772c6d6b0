package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	if err == nil || recorded || !deadlineReached(wctx, err) {
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

// deadlineReached reports whether err ended a wait because ctx is done. The SDK gives its
// calls a deadline a little before ctx's own, so a deadline error may come back just before
// ctx is done: then it waits for ctx.
func deadlineReached(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	if err == nil || !(errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded || strings.Contains(err.Error(), "deadline exceeded")) {
		return false
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return false
	}
	select {
	case <-ctx.Done():
		return true
	case <-time.After(time.Until(dl) + 2*time.Second):
		return ctx.Err() != nil
	}
}
