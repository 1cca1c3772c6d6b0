package runs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/workflows"
)

// RunStatus is a run's own status and the retries under way (`firebreak status`).
type RunStatus struct {
	workflows.RunResult
	Retrying []StepAttempts `json:"retrying,omitempty"`
}

// StatusWithRetries is the run's status query and its retries under way, each last error
// passed through redact.
func (c *Client) StatusWithRetries(ctx context.Context, workflowID string, redact func(string) string) (RunStatus, error) {
	res, err := c.Status(ctx, workflowID)
	if err != nil {
		return RunStatus{}, err
	}
	st := RunStatus{RunResult: res}
	st.Retrying, err = c.Retrying(ctx, workflowID, res.Steps)
	for i := range st.Retrying {
		st.Retrying[i].LastError = redact(st.Retrying[i].LastError)
	}
	return st, err
}

// WriteText writes the status as a responder reads it: each step, the retries under way and
// the signed decisions the run waits for.
func (st RunStatus) WriteText(w io.Writer) {
	fmt.Fprintf(w, "RUN %s — %s  subject=%s\n", st.WorkflowID, cmp.Or(st.Outcome, "-"), cmp.Or(st.Subject, "-"))
	idw, actw := 24, 24
	for _, s := range st.Steps {
		idw, actw = max(idw, len(s.ID)), max(actw, len(s.Action))
	}
	for _, s := range st.Steps {
		fmt.Fprintf(w, "  %-9s %-*s %-*s", s.Status, idw, s.ID, actw, s.Action)
		if s.Waiting != "" {
			fmt.Fprintf(w, "  %s", s.Waiting)
		}
		if s.Status == workflows.StatusFailed && s.Error != "" {
			fmt.Fprintf(w, "  %s", s.Error)
		}
		fmt.Fprintln(w)
	}
	if len(st.Retrying) > 0 {
		fmt.Fprintln(w, "  Retrying:")
		for _, a := range st.Retrying {
			fmt.Fprintf(w, "    %s\n", a.Line())
		}
	}
	if len(st.Pending) > 0 {
		fmt.Fprintln(w, "  Waiting for a signed decision:")
		for _, p := range st.Pending {
			fmt.Fprintf(w, "    %s %s (%s) — firebreak approve %s %s --as WHO\n", p.Kind, p.Step, strings.Join(deciders(p), " or "), st.WorkflowID, p.Step)
		}
	}
}

// deciders are the roles and owners who may decide p.
func deciders(p workflows.PendingApproval) []string {
	return append(append([]string{}, p.Roles...), p.Owners...)
}

// DecisionNotice is one line for whoever waits on a run: which decision it waits for, who may
// give it, until when, and the command that gives it.
func DecisionNotice(workflowID string, p workflows.PendingApproval) string {
	var b strings.Builder
	fmt.Fprintf(&b, "firebreak: run %s waits for a signed decision on %s %s", workflowID, p.Kind, p.Step)
	if who := deciders(p); len(who) > 0 {
		fmt.Fprintf(&b, " (%s; not the requester or the subject)", strings.Join(who, " or "))
	}
	if !p.Deadline.IsZero() {
		fmt.Fprintf(&b, ", until %s", p.Deadline.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, ". Decide it with `firebreak approve %s %s --as WHO` (or deny) as a holder of the decision key, or in Slack through firebreak serve or dev.", workflowID, p.Step)
	return b.String()
}

// WatchPending asks the runs ids at once and then every interval which decisions they wait
// for, until ctx ends, and calls on once for each as it opens, and again each time it has
// counted one more approval and still waits (a gate that needs several approvers: Needed,
// plus one for a claimed requester), keyed on the decision's Seq and Approvals. A decision on
// returns false for (not handled: an answer that did not go through) is offered again at the
// next poll. A run not started yet, between workers or finished is asked again at the next
// poll.
func WatchPending(ctx context.Context, rc *Client, ids []string, interval time.Duration, on func(wfID string, p workflows.PendingApproval) bool) {
	seen := map[string]bool{}
	poll(ctx, interval, func() {
		for _, id := range ids {
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			open, err := rc.Pending(qctx, id)
			cancel()
			if err != nil {
				continue
			}
			for _, p := range open {
				key := fmt.Sprintf("%s/%s/%s/%s/%d/%d", id, p.Step, p.Kind, p.RequestedAt, p.Seq, p.Approvals)
				if seen[key] {
					continue
				}
				seen[key] = on(id, p)
			}
		}
	})
}

// WatchRetries asks run workflowID at once and then every interval which steps are failing
// and being retried, until ctx ends, and calls on once per new attempt of each, its last
// error passed through redact: a vendor outage shows as a wait.
func (c *Client) WatchRetries(ctx context.Context, workflowID string, interval time.Duration, redact func(string) string, on func(StepAttempts)) {
	seen := map[string]int32{}
	poll(ctx, interval, func() {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := c.StatusWithRetries(qctx, workflowID, redact)
		if err != nil {
			return
		}
		for _, a := range st.Retrying {
			k := a.Step + "/" + a.Activity
			if seen[k] >= a.Attempt {
				continue
			}
			seen[k] = a.Attempt
			on(a)
		}
	})
}

// poll calls f at once and then every interval until ctx ends.
func poll(ctx context.Context, interval time.Duration, f func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
