package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// runForeach fans a step out over the elements of its foreach list, at most Concurrency at a
// time, starting them in list order. Its outputs are items (each item's action outputs, in
// list order; typed empty outputs for an item that failed) and failed (how many failed).
func (r *runner) runForeach(ctx workflow.Context, st playbooks.Step, sr *StepResult) {
	v, direct := r.directRef(st.Foreach)
	var err error
	if !direct {
		v, err = r.ev.Eval(st.Foreach, r.scope())
	}
	if err != nil {
		r.fail(st, sr, fmt.Errorf("foreach: %w", err))
		return
	}
	items, ok := v.([]any)
	if !ok {
		r.fail(st, sr, temporal.NewNonRetryableApplicationError(fmt.Sprintf("foreach: expected a list, found %T", v), ErrInvalidInput, nil))
		return
	}
	b, ok := bindings[st.Action]
	if !ok {
		r.fail(st, sr, temporal.NewNonRetryableApplicationError("no activity bound to action "+st.Action, ErrInvalidPlan, nil))
		return
	}
	var actionOutputs []playbooks.Output
	if act, ok := playbooks.LookupAction(st.Action); ok {
		for _, o := range act.Outputs {
			actionOutputs = append(actionOutputs, playbooks.Output{Name: o.Name, Type: o.Type})
		}
	}
	limit := st.Concurrency
	if limit <= 0 {
		limit = max(len(items), 1)
	}
	results := make([]map[string]any, len(items))
	errs := make([]error, len(items))
	sr.Status, sr.StartedAt = StatusRunning, workflow.Now(ctx)
	opts := activityOptions(st)
	running := 0
	wg := workflow.NewWaitGroup(ctx)
	for i, item := range items {
		_ = workflow.Await(ctx, func() bool { return running < limit || r.aborted != "" })
		if r.aborted != "" { // an abort elsewhere stops the fan-out: no new item starts
			errs[i] = fmt.Errorf("item %d not started: the run aborted after %s failed", i, r.aborted)
			continue
		}
		sc := r.scope()
		sc.Vars = map[string]any{"item": item, "item_index": int64(i)}
		args := map[string]any{}
		for _, a := range st.With {
			v, err := r.ev.Eval(a.Expr, sc)
			if err != nil {
				errs[i] = fmt.Errorf("item %d: argument %s: %w", i, a.Name, err)
				break
			}
			args[a.Name] = v
		}
		if errs[i] != nil {
			continue
		}
		if st.Idempotent {
			args[playbooks.IdempotencyKeyArg] = r.idempotencyKey(st.ID, strconv.Itoa(i))
		}
		r.addIdentity(st, args)
		running++
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			out, err := b.run(workflow.WithActivityOptions(ctx, opts), args)
			running--
			if err != nil {
				errs[i] = fmt.Errorf("item %d: %w", i, err)
				return
			}
			results[i] = out
		})
	}
	wg.Wait(ctx)
	sr.EndedAt = workflow.Now(ctx)
	sr.DurationMS = sr.EndedAt.Sub(sr.StartedAt).Milliseconds()

	list := make([]any, len(items))
	failed := 0
	var msgs []string
	var firstErr error
	fan := &FanOut{Items: len(items)}
	for i := range items {
		out := results[i]
		if errs[i] != nil {
			failed++
			msg := errMessage(errs[i])
			if len(msgs) < maxItemErrors {
				msgs = append(msgs, msg)
			}
			if len(fan.FailedItems) < ResultListSample {
				fan.FailedItems = append(fan.FailedItems, FailedItem{Index: i, Error: msg})
			}
			if firstErr == nil {
				firstErr = errs[i]
			}
			out = nil
		}
		if out == nil {
			out = zeroOutputs(actionOutputs)
		}
		for _, o := range actionOutputs {
			if out[o.Name] == nil {
				out[o.Name] = o.Zero()
			}
		}
		list[i] = out
	}
	if !r.read[st.ID] && len(list) > ResultListSample {
		// No expression reads this step's outputs: keep only what the run's record shows.
		sr.Truncated = append(sr.Truncated, Truncation{Path: "items", Total: len(list), Kept: ResultListSample})
		list = list[:ResultListSample:ResultListSample]
	}
	outputs := map[string]any{"items": list, "failed": int64(failed)}
	sr.Outputs = outputs
	fan.Failed = failed
	sr.FanOut = fan
	if failed > 0 {
		if failed > len(msgs) { // the error stays one line however many failed
			msgs = append(msgs, fmt.Sprintf("and %d more (fan_out.failed_items lists the first %d)", failed-len(msgs), len(fan.FailedItems)))
		}
		err := fmt.Errorf("%d of %d items failed: %s", failed, len(items), strings.Join(msgs, "; "))
		var appErr *temporal.ApplicationError
		if errors.As(firstErr, &appErr) {
			err = temporal.NewNonRetryableApplicationError(err.Error(), appErr.Type(), nil)
		}
		r.fail(st, sr, err)
		return
	}
	r.outputs[st.ID] = outputs
	sr.Status = StatusSucceeded
}

// maxItemErrors is the most item errors a failed foreach step's error message quotes.
const maxItemErrors = 10

// directRef returns the value of a foreach expression that only names an input
// (inputs.users) or a step's output (steps.x.outputs.items) straight from the run's state,
// sparing CEL's deep copy of a list that may hold thousands of elements; ok is false for
// any other expression, which CEL evaluates. The compiler has checked the reference.
func (r *runner) directRef(expr string) (v any, ok bool) {
	parts := strings.Split(expr, ".")
	for _, p := range parts {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			return nil, false
		}
	}
	switch {
	case len(parts) == 2 && parts[0] == "inputs":
		v, ok = r.in.Inputs[parts[1]]
	case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
		v, ok = r.outputs[parts[1]][parts[3]]
	}
	if _, isList := v.([]any); !ok || !isList {
		return nil, false
	}
	return v, true
}

func errMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "item ") {
			return msg[:i] + ": " + appErr.Message()
		}
		return appErr.Message()
	}
	return err.Error()
}

// changeCompensationCheck versions the interpreter's refusal of irreversible compensations.
const changeCompensationCheck = "compensation-two-person-check"

// compensate runs the undo of every succeeded step that declares one, latest first in plan
// order, after the run aborted. A failed undo is recorded and does not stop the others.
func (r *runner) compensate(ctx workflow.Context) {
	steps := r.in.Plan.Steps
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		if st.Compensate == nil || r.res.Steps[i].Status != StatusSucceeded {
			continue
		}
		c := st.Compensate
		cr := StepResult{ID: st.ID, Name: "undo " + stepLabel(r.res.Steps[i]), Action: c.Action, Status: StatusRunning, StartedAt: workflow.Now(ctx)}
		args := map[string]any{}
		var err error
		for _, a := range c.With {
			var v any
			if v, err = r.ev.Eval(a.Expr, r.scope()); err != nil {
				err = fmt.Errorf("argument %s: %w", a.Name, err)
				break
			}
			args[a.Name] = v
		}
		b, ok := bindings[c.Action]
		if err == nil && !ok {
			err = temporal.NewNonRetryableApplicationError("no activity bound to action "+c.Action, ErrInvalidPlan, nil)
		}
		// An undo that cannot itself be undone would run on nobody's approval: the compiler
		// refuses one, and so does the interpreter, for a plan made by hand.
		if err == nil && playbooks.Irreversible(c.Action, c.With) && !r.in.Plan.TwoPersonOptOut &&
			workflow.GetVersion(ctx, changeCompensationCheck, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
			err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("undo of %s: %s cannot be undone, and a compensation runs on no one's approval; recompile the playbook, which refuses it", st.ID, c.Action), ErrNoApproval, nil)
		}
		var out map[string]any
		if err == nil {
			if c.Idempotent {
				args[playbooks.IdempotencyKeyArg] = r.idempotencyKey(st.ID, "compensate")
			}
			opts := activityOptions(playbooks.Step{Retry: c.Retry, Timeout: c.Timeout})
			out, err = b.run(workflow.WithActivityOptions(ctx, opts), args)
		}
		cr.EndedAt = workflow.Now(ctx)
		cr.DurationMS = cr.EndedAt.Sub(cr.StartedAt).Milliseconds()
		if err != nil {
			cr.Status, cr.Error = StatusFailed, errMessage(err)
		} else {
			cr.Status, cr.Outputs = StatusSucceeded, out
		}
		r.res.Compensations = append(r.res.Compensations, cr)
	}
}
