package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// versionBatches marks runs that split a list too long for one history into child runs
// instead of refusing it (before it, such a run was refused before any step).
const versionBatches = "split-long-lists-into-batches"

// MaxBatch is the most elements of a list input one batch run takes. The history budget
// allows more for some playbooks (mass-deprovision: 1,431), but a step that returns something
// per element in one activity result (vault.inventory_many) must stay under Temporal's 2 MB
// payload limit: 1,000 people are measured to fit (bench/mass_test.go).
const MaxBatch = 1000

// batchTaskTimeout is a batch run's workflow task timeout.
const batchTaskTimeout = time.Minute

// BatchWorkflowID is the id of batch i (0-based) of the run parentID.
func BatchWorkflowID(parentID string, i int) string {
	return parentID + "/batch-" + strconv.Itoa(i+1)
}

// Batch is one child run of a run split into batches: which part of the list it took and how
// it ended.
type Batch struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
	// First and Count say which elements of the list the batch took: [First, First+Count).
	First           int    `json:"first"`
	Count           int    `json:"count"`
	Outcome         string `json:"outcome"`
	TimeToContainMS int64  `json:"time_to_contain_ms,omitempty"`
	Error           string `json:"error,omitempty"`
}

// SplitBatches says how a run of plan with inputs is split: the name of the list input it
// splits and the size of each batch, or "" and 0 when it runs whole. A run is split when its
// history would pass HistoryEventBudget, or its longest list input is longer than batch (when
// batch > 0) or MaxBatch; each batch takes an equal share of that list, as long as the budget
// and MaxBatch allow, and every other input whole.
func SplitBatches(plan playbooks.Plan, inputs map[string]any, batch int) (input string, size int) {
	name, n := "", 0
	for _, d := range plan.Inputs { // the plan's order, not the map's
		if l, ok := inputs[d.Name].([]any); ok && len(l) > n {
			name, n = d.Name, len(l)
		}
	}
	limit := MaxBatch
	if batch > 0 {
		limit = min(limit, batch)
	}
	if name == "" || (n <= limit && CheckHistoryBudget(plan, inputs) == nil) {
		return "", 0
	}
	with := func(k int) map[string]any {
		out := make(map[string]any, len(inputs))
		for _, d := range plan.Inputs {
			if v, ok := inputs[d.Name]; ok {
				out[d.Name] = v
			}
		}
		out[name] = inputs[name].([]any)[:k]
		return out
	}
	// The longest prefix within the budget: the estimate grows with the list.
	lo, hi := 0, min(n, limit)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if CheckHistoryBudget(plan, with(mid)) == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 {
		return "", 0 // not even one element fits: the run is refused as too large
	}
	batches := (n + lo - 1) / lo
	return name, (n + batches - 1) / batches
}

// runBatches runs in as child runs (Run itself), one after another, each over a batch of
// the list input named by input; every other input goes to each batch whole. Batches run in
// turn so that each step's concurrency bound holds across the whole list, as it would in one
// run. The result merges theirs: a step failed if it failed in any batch, an expectation
// passed if it passed in every batch, the run contained if every batch did.
func runBatches(ctx workflow.Context, in RunInput, input string, size int) (RunResult, error) {
	info := workflow.GetInfo(ctx)
	trig := in.Trigger
	if trig.At.IsZero() {
		trig.At = info.WorkflowStartTime
	}
	res := RunResult{
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Playbook: in.Plan.Name, PlaybookSHA256: in.Plan.SourceSHA256, Drill: in.Drill,
		Trigger: trig, Outcome: OutcomeRunning, StartedAt: workflow.Now(ctx),
	}
	if s, ok := in.Inputs["subject"].(string); ok {
		res.Subject = s
	}
	list := in.Inputs[input].([]any)
	for first := 0; first < len(list); first += size {
		n := min(size, len(list)-first)
		res.Batches = append(res.Batches, Batch{WorkflowID: BatchWorkflowID(res.WorkflowID, len(res.Batches)), First: first, Count: n, Outcome: OutcomeRunning})
	}
	results := make([]*RunResult, len(res.Batches))
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (RunResult, error) { return mergeBatches(in.Plan, res, results), nil }); err != nil {
		return RunResult{}, err
	}
	for i := range res.Batches {
		b := &res.Batches[i]
		cin := in
		cin.Inputs = make(map[string]any, len(in.Inputs))
		for _, d := range in.Plan.Inputs {
			if v, ok := in.Inputs[d.Name]; ok {
				cin.Inputs[d.Name] = v
			}
		}
		cin.Inputs[input] = list[b.First : b.First+b.Count]
		cin.Trigger = trig
		// A batch's history runs to tens of thousands of events; a worker that lost it from its
		// cache replays all of them in one workflow task, which on a busy machine takes longer
		// than the default 10 s (seen: a batch of 1,000 stuck retrying its task).
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: b.WorkflowID, WorkflowTaskTimeout: batchTaskTimeout})
		child := workflow.ExecuteChildWorkflow(cctx, Run, cin)
		var ex workflow.Execution
		if err := child.GetChildWorkflowExecution().Get(ctx, &ex); err == nil {
			b.RunID = ex.RunID
		}
		var cr RunResult
		err := child.Get(ctx, &cr)
		if err != nil && !recordOf(err, &cr) {
			cr = RunResult{WorkflowID: b.WorkflowID, Outcome: OutcomeFailed, Error: errMessage(err)}
		}
		results[i] = &cr
		b.Outcome, b.TimeToContainMS, b.Error = cr.Outcome, cr.TimeToContainMS, cr.Error
	}
	out := mergeBatches(in.Plan, res, results)
	out.EndedAt = workflow.Now(ctx)
	if out.Outcome != OutcomeContained && ctx.Err() != nil &&
		workflow.GetVersion(ctx, changeCancelledEnds, workflow.DefaultVersion, 1) == 1 {
		out.Error = strings.TrimSuffix("the run was cancelled; "+out.Error, "; ")
		return RunResult{}, temporal.NewCanceledError(out)
	}
	if out.Outcome != OutcomeContained {
		return RunResult{}, temporal.NewNonRetryableApplicationError(out.Error, ErrRunFailed, nil, out)
	}
	return out, nil
}

// mergeBatches builds the run's result from its batches' (nil for a batch not finished).
func mergeBatches(plan playbooks.Plan, res RunResult, results []*RunResult) RunResult {
	res.Batches = append([]Batch(nil), res.Batches...)
	res.Steps = make([]StepResult, len(plan.Steps))
	for j, st := range plan.Steps {
		res.Steps[j] = StepResult{ID: st.ID, Name: st.Name, Action: st.Action, Status: StatusPending, Contains: st.Contains,
			Destructive: st.Destructive, Irreversible: st.Irreversible, Guards: st.Guards}
	}
	finished, contained, allCut := 0, true, true
	var errs []string
	var containedAt, remediatedAt, firstCutAt time.Time
	allFirst := true
	seenPending := map[string]bool{}
	for i, cr := range results {
		if cr == nil {
			contained = false
			continue
		}
		finished++
		b := res.Batches[i]
		for j := range res.Steps {
			if j < len(cr.Steps) && cr.Steps[j].ID == res.Steps[j].ID {
				mergeStep(&res.Steps[j], cr.Steps[j], b.First, i)
			}
		}
		res.Verifications = append(res.Verifications, cr.Verifications...)
		for _, e := range cr.Expectations {
			mergeExpectation(&res.Expectations, e, i)
		}
		res.Decisions = append(res.Decisions, cr.Decisions...)
		res.Escalations = append(res.Escalations, cr.Escalations...)
		res.Compensations = append(res.Compensations, cr.Compensations...)
		res.ReportErrors = append(res.ReportErrors, cr.ReportErrors...)
		res.Pending = append(res.Pending, cr.Pending...)
		for _, p := range cr.RemediationPending {
			if !seenPending[p.Mount+"/"+p.Path] {
				seenPending[p.Mount+"/"+p.Path] = true
				res.RemediationPending = append(res.RemediationPending, p)
			}
		}
		if cr.Outcome != OutcomeContained {
			contained = false
			errs = append(errs, fmt.Sprintf("batch %d (%s): %s", i+1, b.WorkflowID, cr.Error))
		}
		if cr.ContainedAt.IsZero() {
			allCut = false
		} else if cr.ContainedAt.After(containedAt) {
			containedAt = cr.ContainedAt
		}
		if cr.FirstCutAt.IsZero() {
			allFirst = false
		} else if cr.FirstCutAt.After(firstCutAt) {
			firstCutAt = cr.FirstCutAt
		}
		if cr.RemediatedAt.After(remediatedAt) {
			remediatedAt = cr.RemediatedAt
		}
	}
	for j := range res.Steps {
		if s := &res.Steps[j]; !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
			s.DurationMS = s.EndedAt.Sub(s.StartedAt).Milliseconds()
		}
	}
	if finished == len(results) {
		res.Outcome = OutcomeFailed
		if contained {
			res.Outcome = OutcomeContained
		} else {
			if len(errs) > maxItemErrors {
				errs = append(errs[:maxItemErrors], fmt.Sprintf("and %d more batches", len(errs)-maxItemErrors))
			}
			res.Error = "run failed: " + strings.Join(errs, "; ")
		}
	}
	// Access is cut for everyone when the last batch has cut it (every batch must have).
	if finished == len(results) && allCut && !containedAt.IsZero() {
		res.ContainedAt = containedAt
		res.TimeToContainMS = containedAt.Sub(res.Trigger.At).Milliseconds()
	}
	if finished == len(results) && allFirst && !firstCutAt.IsZero() {
		res.FirstCutAt = firstCutAt
		res.TimeToFirstCutMS = firstCutAt.Sub(res.Trigger.At).Milliseconds()
	}
	if finished == len(results) && contained && !remediatedAt.IsZero() {
		res.RemediatedAt = remediatedAt
		res.TimeToRemediateMS = remediatedAt.Sub(res.Trigger.At).Milliseconds()
	}
	if len(res.Verifications) > maxTruncations*ResultListSample {
		res.Verifications = res.Verifications[:maxTruncations*ResultListSample]
	}
	return res
}

// mergeStep folds batch i's record of a step (its list starting at element first) into s.
func mergeStep(s *StepResult, c StepResult, first, i int) {
	// failed over waiting or running over succeeded over skipped: a step skipped in one batch
	// (nothing to do there) and done in another is done.
	rank := func(st string) int {
		return map[string]int{StatusPending: 0, StatusSkipped: 1, StatusSucceeded: 2, StatusRunning: 3, StatusWaiting: 4, StatusFailed: 5}[st]
	}
	if rank(c.Status) > rank(s.Status) {
		s.Status = c.Status
	}
	if c.Error != "" && s.Error == "" {
		s.Error, s.ErrorKind = fmt.Sprintf("batch %d: %s", i+1, c.Error), c.ErrorKind
	}
	if c.SkipReason != "" && s.SkipReason == "" {
		s.SkipReason = c.SkipReason
	}
	if !c.StartedAt.IsZero() && (s.StartedAt.IsZero() || c.StartedAt.Before(s.StartedAt)) {
		s.StartedAt = c.StartedAt
	}
	if c.EndedAt.After(s.EndedAt) {
		s.EndedAt = c.EndedAt
	}
	s.Checks = append(s.Checks, c.Checks...)
	if len(s.Checks) > ResultListSample {
		s.Checks = s.Checks[:ResultListSample]
	}
	if c.FanOut != nil {
		if s.FanOut == nil {
			s.FanOut = &FanOut{}
		}
		s.FanOut.Items += c.FanOut.Items
		s.FanOut.Failed += c.FanOut.Failed
		for _, f := range c.FanOut.FailedItems {
			if len(s.FanOut.FailedItems) < ResultListSample {
				s.FanOut.FailedItems = append(s.FanOut.FailedItems, FailedItem{Index: first + f.Index, Error: f.Error})
			}
		}
	}
	if i == 0 { // the first batch's outputs, as a sample; Truncated says so
		s.Outputs = c.Outputs
		s.Truncated = append(s.Truncated, c.Truncated...)
	}
}

// mergeExpectation folds batch i's result of an expectation into list.
func mergeExpectation(list *[]Check, e Check, i int) {
	for k := range *list {
		c := &(*list)[k]
		if c.Name != e.Name {
			continue
		}
		if c.Passed && !e.Passed {
			c.Passed, c.Detail = false, fmt.Sprintf("batch %d: %s", i+1, e.Detail)
		}
		return
	}
	if !e.Passed {
		e.Detail = fmt.Sprintf("batch %d: %s", i+1, e.Detail)
	}
	*list = append(*list, e)
}

// recordOf decodes the RunResult a child run closed with, as the details of its failure (it
// did not contain) or of its cancellation, into r; false when err carries none.
func recordOf(err error, r *RunResult) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		return appErr.Details(r) == nil && r.WorkflowID != ""
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() {
		return canceled.Details(r) == nil && r.WorkflowID != ""
	}
	return false
}
