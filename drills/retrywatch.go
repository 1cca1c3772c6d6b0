package drills

import (
	"context"
	"fmt"
	"time"
)

// watchRetries tells Out, while a drill runs, each new attempt of a step that is failing and
// being retried — the step, its attempt count, last error (through Config.Redact) and next
// attempt — so that a vendor outage shows as a wait while it lasts, not only in the
// scorecard afterwards.
func (r *Rig) watchRetries(ctx context.Context, wfID string) {
	if r.cfg.Out == nil {
		return
	}
	seen := map[string]int32{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := r.cfg.Runs.Status(qctx, wfID)
		if err != nil {
			cancel()
			continue // not started yet, or between workers
		}
		retrying, err := r.cfg.Runs.Retrying(qctx, wfID, res.Steps)
		cancel()
		if err != nil {
			continue
		}
		for _, a := range retrying {
			k := a.Step + "/" + a.Activity
			if seen[k] >= a.Attempt {
				continue
			}
			seen[k] = a.Attempt
			if r.cfg.Redact != nil {
				a.LastError = r.cfg.Redact(a.LastError)
			}
			fmt.Fprintf(r.cfg.Out, "RETRYING %s (drill %s)\n", a.Line(), wfID)
		}
	}
}
