package main

import (
	"context"
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
var errStoppedWaiting = runs.ErrStoppedWaiting

// waitRun waits for a run's result for at most timeout (zero: no bound) — --timeout bounds
// the command, never the run (runs.Client.WaitBounded).
func waitRun(ctx context.Context, stderr io.Writer, c *runs.Client, st runs.Started, timeout time.Duration, embedded bool) (workflows.RunResult, bool, error) {
	return c.WaitBounded(ctx, stderr, st, timeout, embedded)
}

// runElapsed is how long a run took by its own record (runs.Elapsed).
func runElapsed(res workflows.RunResult) time.Duration { return runs.Elapsed(res) }

// queryStatus asks a run for its status, waiting at most timeout (runs.QueryStatus).
func queryStatus(ctx context.Context, c client.Client, wfID string, timeout time.Duration) (workflows.RunResult, error) {
	return runs.QueryStatus(ctx, c, wfID, timeout)
}
