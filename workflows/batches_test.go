package workflows

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// A list longer than the batch size runs as child runs over its parts, one after another:
// everyone is changed once, the result merges the batches and says which they were.
func TestLongListRunsInBatches(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	in := fanoutInput(t, "u1", "u2", "u3", "u4", "u5")
	in.AutoApprove = true
	in.BatchSize = 2
	res, err := fe.run(t, in)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(fe.order)
	if strings.Join(fe.order, ",") != "u1,u2,u3,u4,u5" {
		t.Errorf("RemoveFromGroups called for %v; want each of u1…u5 once", fe.order)
	}
	if len(res.Batches) != 3 {
		t.Fatalf("%d batches, want 3 (2+2+1): %+v", len(res.Batches), res.Batches)
	}
	for i, b := range res.Batches {
		if b.WorkflowID != BatchWorkflowID("drill/x/alice/test", i) || b.First != 2*i || b.Count != min(2, 5-2*i) || b.Outcome != OutcomeContained {
			t.Errorf("batch %d = %+v", i, b)
		}
	}
	if res.Outcome != OutcomeContained || res.ContainedAt.IsZero() || res.TimeToContainMS < 0 {
		t.Errorf("outcome %s, contained at %v; want contained", res.Outcome, res.ContainedAt)
	}
	if g := res.Steps[2]; g.Status != StatusSucceeded || g.FanOut == nil || g.FanOut.Items != 5 {
		t.Errorf("groups step merged as %+v; want succeeded over 5 items", g)
	}
	if len(res.Expectations) != 1 || !res.Expectations[0].Passed {
		t.Errorf("expectations %+v; want the one passed in every batch", res.Expectations)
	}
	// Each batch took its approval: the two-person rule holds per batch.
	if len(res.Decisions) != 3*2 {
		t.Errorf("%d decisions, want 2 per batch", len(res.Decisions))
	}
}

// A failure in one batch fails the run, names the batch, and counts the element in the
// whole list; the other batches still run (each person on their own).
func TestBatchFailureIsReported(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	in := fanoutInput(t, "u1", "u2", "u3", "mallory", "u5")
	in.AutoApprove = true
	in.BatchSize = 2
	res, err := fe.run(t, in)
	if err == nil {
		t.Fatal("the run succeeded; want it failed by mallory's batch")
	}
	if res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "batch 2") {
		t.Errorf("outcome %s, error %q; want failed naming batch 2", res.Outcome, res.Error)
	}
	f := res.Steps[2].FanOut
	if f == nil || f.Items != 5 || f.Failed != 1 || len(f.FailedItems) != 1 || f.FailedItems[0].Index != 3 {
		t.Errorf("fan_out = %+v; want 5 items, item 3 (mallory) failed", f)
	}
	if !slices.Contains(fe.order, "u5") {
		t.Errorf("the batch after the failed one did not run: %v", fe.order)
	}
	if len(res.Batches) != 3 || res.Batches[1].Outcome != OutcomeFailed || res.Batches[2].Outcome != OutcomeContained {
		t.Errorf("batches %+v; want the second failed, the third contained", res.Batches)
	}
}

// SplitBatches takes a list too long for one history in equal batches, each within the
// budget and MaxBatch; a list that fits runs whole.
func TestSplitBatches(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lib.Get("mass-deprovision")
	if err != nil {
		t.Fatal(err)
	}
	users := func(n int) map[string]any {
		l := make([]any, n)
		for i := range l {
			l[i] = fmt.Sprintf("dev%05d", i)
		}
		return map[string]any{"users": l, "reason": "test"}
	}
	if name, size := SplitBatches(*plan, users(1000), 0); size != 0 {
		t.Errorf("1,000 people split into %s batches of %d; want one run", name, size)
	}
	name, size := SplitBatches(*plan, users(10000), 0)
	if name != "users" || size != MaxBatch {
		t.Errorf("10,000 people: split %q in batches of %d; want users in batches of %d", name, size, MaxBatch)
	}
	if err := CheckHistoryBudget(*plan, users(size)); err != nil {
		t.Errorf("a batch of %d: %v", size, err)
	}
	if _, size := SplitBatches(*plan, users(1001), 0); size != 501 {
		t.Errorf("1,001 people: batches of %d; want two equal ones of 501", size)
	}
	if _, size := SplitBatches(*plan, users(10), 4); size != 4 {
		t.Errorf("10 people with batch size 4: batches of %d; want 4", size)
	}
}
