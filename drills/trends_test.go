package drills

import (
	"testing"

	"github.com/firebreak-dev/firebreak/runs"
)

// TestDrillHistoryLeavesOutReplays: a replay of a recorded run is not a drill of the team.
func TestDrillHistoryLeavesOutReplays(t *testing.T) {
	got := WithoutReplays([]runs.Summary{{WorkflowID: "drill/a/1"}, {WorkflowID: "drill/a/2", ReplayOf: "firebreak/a/x"}})
	if len(got) != 1 || got[0].WorkflowID != "drill/a/1" {
		t.Fatalf("got %+v; want the drill without the replay", got)
	}
	if m := drillMemo("a", nil, "firebreak/a/x"); m[runs.MemoReplayOf] != "firebreak/a/x" {
		t.Fatalf("a replay's memo %v does not name the run it replays", m)
	}
}
