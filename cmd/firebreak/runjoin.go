package main

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/workflows"
)

// checkIncidentRun refuses to report a run started with --incident as the caller's when the
// run holding that incident's id is another playbook's, or the same playbook's for another
// subject: with USE_EXISTING, ExecuteWorkflow joins whatever run is open under the id, and one
// incident's run must not be mistaken for another response. It reads the run's own start
// event (its pinned RunInput), so no worker needs to answer a query.
func checkIncidentRun(ctx context.Context, conn *temporalConn, run client.WorkflowRun, incident, playbook, subject string) error {
	it := conn.Client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
	if !it.HasNext() {
		return fmt.Errorf("incident %s: run %s has no history to check which playbook it runs", incident, run.GetID())
	}
	ev, err := it.Next()
	if err != nil {
		return fmt.Errorf("incident %s: reading the start of run %s: %w", incident, run.GetID(), err)
	}
	if err := workflows.DecodeMessage(ctx, conn.Codec, ev); err != nil {
		return fmt.Errorf("incident %s: decoding the start of run %s: %w", incident, run.GetID(), err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	var in workflows.RunInput
	if attrs == nil || len(attrs.GetInput().GetPayloads()) != 1 || converter.GetDefaultDataConverter().FromPayload(attrs.GetInput().GetPayloads()[0], &in) != nil {
		return usagef("incident %s is held by run %s, which is not a firebreak playbook run; refusing to join it", incident, run.GetID())
	}
	other, _ := in.Inputs["subject"].(string)
	if in.Plan.Name != playbook || other != subject {
		return usagef("incident %s already has run %s (%s) of playbook %s for subject %q; refusing to join it as %s for subject %q — one incident, one run: follow that run (firebreak audit, /firebreak status %s), or start %s without --incident",
			incident, run.GetID(), run.GetRunID(), in.Plan.Name, other, playbook, subject, run.GetID(), playbook)
	}
	return nil
}
