package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/workflows"
)

// checkIncidentRun refuses to report a run started with --incident as the caller's when the
// run holding that incident's id is another playbook's, or the same playbook's with other
// inputs: with USE_EXISTING, ExecuteWorkflow joins whatever run is open under the id, and one
// incident's run must not be mistaken for another response. Every bound input is compared
// (as canonical JSON, so 3 and 3.0 or a list decoded from history compare equal) except
// reason, which only describes a run: a second responder's words do not make it another
// response. It reads the run's own start event (its pinned RunInput), so no worker needs to
// answer a query.
func checkIncidentRun(ctx context.Context, conn *temporalConn, run client.WorkflowRun, incident, playbook string, inputs map[string]any) error {
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
	follow := fmt.Sprintf("one incident, one run: follow that run (firebreak audit, /firebreak status %s), or start %s without --incident", run.GetID(), playbook)
	if in.Plan.Name != playbook {
		other, _ := in.Inputs["subject"].(string)
		return usagef("incident %s already has run %s (%s) of playbook %s for subject %q; refusing to join it as %s — %s",
			incident, run.GetID(), run.GetRunID(), in.Plan.Name, other, playbook, follow)
	}
	if diff := inputDiff(in.Inputs, inputs); len(diff) > 0 {
		return usagef("incident %s already has run %s (%s) of playbook %s with other inputs (%s); refusing to join it — %s",
			incident, run.GetID(), run.GetRunID(), in.Plan.Name, strings.Join(diff, "; "), follow)
	}
	return nil
}

// inputDiff describes each input (other than reason) whose value differs between the open
// run's inputs (have) and this request's (want), in name order: `subject: "bob" in the run,
// "alice" here`. An input one side lacks shows as unset.
func inputDiff(have, want map[string]any) []string {
	names := map[string]bool{}
	for k := range have {
		names[k] = true
	}
	for k := range want {
		names[k] = true
	}
	var out []string
	for _, k := range sortedKeys(names) {
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
