package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// decisionPoll is how often a waiting command asks its run what it waits for.
const decisionPoll = time.Second

// announceDecisions tells stderr, once per open gate (and once per new attempt of a step being
// retried), that the run waits for a signed decision
// and how to give one, while the command waits for the run: a run that stops at a two-person
// gate or a manual step would otherwise look hung. On this command's embedded server it also
// says where that server listens, and whether anyone else can decide at all (only with the
// same payload key, FIREBREAK_CODEC_KEY). The returned func stops it.
func announceDecisions(ctx context.Context, stderr io.Writer, conn *temporalConn, st runs.Started) (stop func()) {
	sharedKey := settingsFrom(ctx).get("FIREBREAK_CODEC_KEY") != ""
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := map[string]bool{}
		attempts := map[string]int32{}
		tick := time.NewTicker(decisionPoll)
		defer tick.Stop()
		for {
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			open, err := conn.Runs.Pending(qctx, st.WorkflowID)
			qcancel()
			if err == nil {
				announceRetries(ctx, stderr, conn, st.WorkflowID, attempts)
				for _, p := range open {
					k := p.Kind + "/" + p.Step + "/" + p.RequestedAt.String()
					if seen[k] {
						continue
					}
					seen[k] = true
					fmt.Fprintln(stderr, decisionNotice(st.WorkflowID, p, conn, sharedKey))
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// announceRetries prints each step whose action is failing and retrying, once per new attempt:
// attempt count, last error and next attempt, so a vendor outage shows as a wait.
func announceRetries(ctx context.Context, stderr io.Writer, conn *temporalConn, workflowID string, seen map[string]int32) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := conn.Runs.Status(qctx, workflowID)
	if err != nil {
		return
	}
	retrying, err := retryingSteps(qctx, conn, workflowID, res.Steps)
	if err != nil {
		return
	}
	for _, a := range retrying {
		k := a.Step + "/" + a.Activity
		if seen[k] >= a.Attempt {
			continue
		}
		seen[k] = a.Attempt
		fmt.Fprintf(stderr, "firebreak: run %s retrying %s\n", workflowID, retryLine(a))
	}
}

// decisionNotice is one line: which gate, who may decide it, and the command that does.
func decisionNotice(workflowID string, p workflows.PendingApproval, conn *temporalConn, sharedKey bool) string {
	who := append(append([]string{}, p.Roles...), p.Owners...)
	var b strings.Builder
	fmt.Fprintf(&b, "firebreak: run %s waits for a signed decision on %s %s", workflowID, p.Kind, p.Step)
	if len(who) > 0 {
		fmt.Fprintf(&b, " (%s; not the requester or the subject)", strings.Join(who, " or "))
	}
	if !p.Deadline.IsZero() {
		fmt.Fprintf(&b, ", until %s", p.Deadline.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, ". Decide it with `firebreak approve %s %s --as WHO` (or deny) as a holder of the decision key, or in Slack through firebreak serve or dev.", workflowID, p.Step)
	if conn.Embedded {
		if !sharedKey {
			fmt.Fprintf(&b, " This run is on this command's own embedded Temporal server (%s) with a payload key of its own, so nobody else can decide it: stop the command and start the run against `firebreak dev` or a cluster (TEMPORAL_ADDRESS), or give this command and the deciding one the same FIREBREAK_CODEC_KEY.", conn.Address)
		} else {
			fmt.Fprintf(&b, " This run is on this command's embedded Temporal server: decide from another shell with TEMPORAL_ADDRESS=%s and this command's FIREBREAK_CODEC_KEY; its worker counts only decisions signed by a key in FIREBREAK_DECISION_PUBLIC_KEYS.", conn.Address)
		}
	}
	return b.String()
}
