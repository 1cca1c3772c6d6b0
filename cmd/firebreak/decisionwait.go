package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/secretscan"
	"github.com/firebreak-dev/firebreak/workflows"
)

// decisionPoll is how often a waiting command asks its run what it waits for.
const decisionPoll = time.Second

// announceDecisions tells stderr, once per open gate (and once per new attempt of a step being
// retried), that the run waits for a signed decision and how to give one, while the command
// waits for the run: a run that stops at a two-person gate or a manual step would otherwise
// look hung. On this command's embedded server it also says where that server listens, and
// whether anyone else can decide at all (only with the same payload key, FIREBREAK_CODEC_KEY).
// The returned func stops it.
func announceDecisions(ctx context.Context, stderr io.Writer, conn *temporalConn, st runs.Started) (stop func()) {
	sharedKey := settingsFrom(ctx).get("FIREBREAK_CODEC_KEY") != ""
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		runs.WatchPending(ctx, conn.Runs, []string{st.WorkflowID}, decisionPoll, func(id string, p workflows.PendingApproval) bool {
			fmt.Fprintln(stderr, decisionNotice(id, p, conn, sharedKey))
			return true
		})
	})
	wg.Go(func() {
		conn.Runs.WatchRetries(ctx, st.WorkflowID, decisionPoll, secretscan.Redact, func(a runs.StepAttempts) {
			fmt.Fprintf(stderr, "firebreak: run %s retrying %s\n", st.WorkflowID, a.Line())
		})
	})
	return func() { cancel(); wg.Wait() }
}

// decisionNotice is one line: which gate, who may decide it, and the command that does; on
// this command's embedded server, whether anyone else can.
func decisionNotice(workflowID string, p workflows.PendingApproval, conn *temporalConn, sharedKey bool) string {
	notice := runs.DecisionNotice(workflowID, p)
	switch {
	case conn.Embedded && !sharedKey:
		notice += fmt.Sprintf(" This run is on this command's own embedded Temporal server (%s) with a payload key of its own, so nobody else can decide it: stop the command and start the run against `firebreak dev` or a cluster (TEMPORAL_ADDRESS), or give this command and the deciding one the same FIREBREAK_CODEC_KEY.", conn.Address)
	case conn.Embedded:
		notice += fmt.Sprintf(" This run is on this command's embedded Temporal server: decide from another shell with TEMPORAL_ADDRESS=%s and this command's FIREBREAK_CODEC_KEY; its worker counts only decisions signed by a key in FIREBREAK_DECISION_PUBLIC_KEYS.", conn.Address)
	}
	return notice
}
