package audit

import (
	"encoding/json"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/workflows"
)

// TestCancelledRunKeepsItsRecord: a cancelled run closes with its RunResult as the
// cancellation's details, and the export reads it, so an auditor sees how far it got and what
// it changed rather than a bare "canceled".
func TestCancelledRunKeepsItsRecord(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	rec := workflows.RunResult{WorkflowID: "firebreak/compromised-dev-key/alice", Outcome: workflows.OutcomeFailed, Error: "the run was cancelled; verify: canceled"}
	p, err := dc.ToPayloads(rec)
	if err != nil {
		t.Fatal(err)
	}
	ev := &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionCanceledEventAttributes{
		WorkflowExecutionCanceledEventAttributes: &historypb.WorkflowExecutionCanceledEventAttributes{Details: p},
	}}
	e, ok, err := ended(ev, dc, func(*commonpb.Payloads) (json.RawMessage, error) { return nil, nil })
	if err != nil || !ok {
		t.Fatalf("ended: ok=%v err=%v", ok, err)
	}
	if e.Status != "canceled" || e.Result == nil || e.Result.Error != rec.Error || e.Outcome != workflows.OutcomeFailed {
		t.Fatalf("cancelled run read as status=%q outcome=%q result=%+v; want canceled with its record", e.Status, e.Outcome, e.Result)
	}
}
