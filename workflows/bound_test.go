package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// A foreach over many people must not make the run's result (one Temporal payload, at most
// 2 MB) grow with them: the result carries a sample of each list and says what it cut, while
// the playbook's outputs and expectations are evaluated over the whole lists.
func TestForeachResultIsBounded(t *testing.T) {
	const n = 3 * ResultListSample
	subjects := make([]string, n)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("u%d", i+1)
	}
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	in := fanoutInput(t, subjects...)
	in.AutoApprove = true
	res, err := fe.run(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := fe.f.count("awsiam.RemoveFromGroups"); got != n {
		t.Fatalf("%d RemoveFromGroups calls, want %d", got, n)
	}
	s := res.Steps[2]
	if s.FanOut == nil || s.FanOut.Items != n || s.FanOut.Failed != 0 || len(s.FanOut.FailedItems) != 0 {
		t.Fatalf("fan_out = %+v, want %d items, none failed", s.FanOut, n)
	}
	items, _ := s.Outputs["items"].([]any)
	if len(items) != ResultListSample {
		t.Fatalf("the result carries %d items of the foreach, want the first %d", len(items), ResultListSample)
	}
	if first, _ := items[0].(map[string]any); fmt.Sprint(first["removed"]) != "[u1-group]" {
		t.Errorf("first item in the result is %v, want u1's outputs", items[0])
	}
	if want := (Truncation{Path: "items", Total: n, Kept: ResultListSample}); len(s.Truncated) != 1 || s.Truncated[0] != want {
		t.Errorf("truncated = %+v, want [%+v]", s.Truncated, want)
	}
	// The expectation compares the whole list with the input: it passes only if the
	// workflow kept every item for expressions.
	if len(res.Expectations) != 1 || !res.Expectations[0].Passed {
		t.Errorf("expectations %+v: want the one expectation passed over all %d items", res.Expectations, n)
	}
	removed, _ := res.Outputs["removed"].([]any)
	if want := (Truncation{Path: "removed", Total: n, Kept: ResultListSample}); len(removed) != ResultListSample || len(res.OutputsTruncated) != 1 || res.OutputsTruncated[0] != want {
		t.Errorf("playbook output removed has %d elements, truncated %+v; want %d and [%+v]", len(removed), res.OutputsTruncated, ResultListSample, want)
	}
}

// The record stays the same size whatever the fan-out: ten times the people, the same bytes
// (give or take the digits of the counts).
func TestBoundStepSizeDoesNotGrow(t *testing.T) {
	size := func(n int) int {
		items := make([]any, n)
		for i := range items {
			items[i] = map[string]any{"user": fmt.Sprintf("dev%05d", i), "accessors": []any{"a", "b"}, "keys": make([]any, n%50)}
		}
		s := boundStep(StepResult{ID: "x", Outputs: map[string]any{"items": items, "failed": int64(0)}})
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	small, big := size(1000), size(10000)
	if big > small+64 {
		t.Errorf("a step's record is %d bytes at 1,000 items and %d at 10,000; want the same within 64 bytes", small, big)
	}
	// The original outputs, which expressions read, are left whole.
	items := []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
	out := map[string]any{"items": items}
	_ = boundStep(StepResult{Outputs: out})
	if len(out["items"].([]any)) != 22 {
		t.Errorf("boundStep changed the step's own outputs")
	}
}

func TestForeachFailureIsSummarised(t *testing.T) {
	fe := newFeatureEnv(t, &fakes{}, DrillTaskQueue)
	in := fanoutInput(t, "u1", "mallory", "u3")
	in.AutoApprove = true
	res, err := fe.run(t, in)
	if err == nil {
		t.Fatal("expected the run to fail")
	}
	f := res.Steps[2].FanOut
	if f == nil || f.Items != 3 || f.Failed != 1 || len(f.FailedItems) != 1 || f.FailedItems[0].Index != 1 || !strings.Contains(f.FailedItems[0].Error, `no user named "mallory"`) {
		t.Fatalf("fan_out = %+v, want 3 items, item 1 failed with its error", f)
	}
}

// CheckHistoryBudget says how long a list may be for one history; a run given a longer one
// splits it into batches (batches_test.go) rather than refusing it.
func TestHistoryBudgetSaysHowLongAListMayBe(t *testing.T) {
	plan := compilePlan(t, deprovisionYAML)
	list := func(n int) map[string]any {
		l := make([]any, n)
		for i := range l {
			l[i] = fmt.Sprintf("u%d", i)
		}
		return map[string]any{"subjects": l}
	}
	most := 0
	if err := CheckHistoryBudget(plan, list(20000)); err == nil {
		t.Fatal("20,000 subjects accepted; want refused")
	} else if _, err2 := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "at most "):], "at most %d", &most); err2 != nil || !strings.Contains(err.Error(), "input subjects has 20000 entries") {
		t.Fatalf("error %q: want it to name the input, its length and the most it may have", err)
	}
	if err := CheckHistoryBudget(plan, list(most)); err != nil {
		t.Errorf("%d subjects (the most the error allows) refused: %v", most, err)
	}
	if err := CheckHistoryBudget(plan, list(most+1)); err == nil {
		t.Errorf("%d subjects (one more than the error allows) accepted", most+1)
	}
	if ev, _ := EstimateHistoryEvents(plan, list(most)); ev > HistoryEventBudget {
		t.Errorf("estimate at %d subjects is %d events, over the budget %d", most, ev, HistoryEventBudget)
	}

	// Such a list is no longer refused: the run splits it into batches, each within the budget.
	name, size := SplitBatches(plan, list(most+1), 0)
	if name != "subjects" || size == 0 || size > MaxBatch {
		t.Fatalf("%d subjects: split %q in batches of %d; want subjects in batches of at most %d", most+1, name, size, MaxBatch)
	}
	if err := CheckHistoryBudget(plan, list(size)); err != nil {
		t.Errorf("a batch of %d subjects is over the budget: %v", size, err)
	}
}

// The bundled mass-deprovision playbook takes 1,000 people (the benchmark's size) and refuses
// a list that would pass the history budget.
func TestMassDeprovisionHistoryBudget(t *testing.T) {
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
	if err := CheckHistoryBudget(*plan, users(1000)); err != nil {
		t.Errorf("1,000 people refused: %v", err)
	}
	err = CheckHistoryBudget(*plan, users(2000))
	if err == nil {
		t.Fatal("2,000 people accepted; at about 30 events each their history would pass Temporal's 51,200")
	}
	t.Logf("2,000 people: %v", err)
}

// Only steps whose outputs an expression reads keep every foreach item in the workflow's
// state; mass-deprovision's containment steps are read by nothing, its inventories and
// verifications are.
func TestReadSteps(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := lib.Get("mass-deprovision")
	if err != nil {
		t.Fatal(err)
	}
	read := readSteps(*plan)
	for id, want := range map[string]bool{"vault_inventory": true, "iam_inventory": true, "approve": true, "rotate_shared_secrets": true, "verify_vault": true, "verify_iam": true,
		"snapshot": false, "revoke_vault_tokens": false, "disable_entities": false, "deactivate_keys": false, "revoke_sessions": false} {
		if read[id] != want {
			t.Errorf("readSteps[%s] = %v, want %v", id, read[id], want)
		}
	}
	// A prefix of another step's id is not a read of it.
	p := compilePlan(t, deprovisionYAML)
	if r := readSteps(p); !r["groups"] || r["snap"] || r["approve"] {
		t.Errorf("readSteps of the fan-out plan = %v, want only groups", r)
	}
}
