package runs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/workflows"
)

// StepAttempts is a step whose activity is being retried now: how many attempts so far, the
// last one's error and when the next one starts. Temporal keeps this in the run's pending
// activities, not in its history, until the activity ends.
type StepAttempts struct {
	Step        string    `json:"step,omitempty"` // empty when no running step has the activity's action
	Activity    string    `json:"activity"`
	Attempt     int32     `json:"attempt"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// RunningSince is when the current attempt started, while one is under way.
	RunningSince time.Time `json:"running_since,omitzero"`
}

// Retrying asks Temporal for the run's pending activities that have failed at least once and
// names each by the running step (of steps, the run's status) whose action it carries out.
// Last errors are the failures' own messages, decrypted with the Client's codec; the caller
// redacts them before showing them.
func (c *Client) Retrying(ctx context.Context, workflowID string, steps []workflows.StepResult) ([]StepAttempts, error) {
	if c == nil || c.Temporal == nil {
		return nil, ErrNoTemporal
	}
	d, err := c.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return nil, refusal(err)
	}
	fc := temporal.GetDefaultFailureConverter()
	if c.Codec != nil {
		fc = workflows.FailureConverter(c.Codec)
	}
	var out []StepAttempts
	for _, pa := range d.GetPendingActivities() {
		if pa.GetAttempt() <= 1 && pa.GetLastFailure() == nil {
			continue
		}
		a := StepAttempts{Activity: pa.GetActivityType().GetName(), Attempt: pa.GetAttempt()}
		if f := pa.GetLastFailure(); f != nil {
			// The failure's own message, without the chain of causes it wraps.
			err := fc.FailureToError(f)
			a.LastError = err.Error()
			var app *temporal.ApplicationError
			if errors.As(err, &app) && app.Message() != "" {
				a.LastError = app.Message()
			}
		}
		if t := pa.GetNextAttemptScheduleTime(); t != nil && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
			a.NextAttempt = t.AsTime()
		} else if t := pa.GetLastStartedTime(); t != nil && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
			a.RunningSince = t.AsTime()
		}
		var match []string
		for _, s := range steps {
			if s.Status == workflows.StatusRunning && actionKey(s.Action) == actionKey(a.Activity) {
				match = append(match, s.ID)
			}
		}
		if len(match) == 1 {
			a.Step = match[0]
		}
		out = append(out, a)
	}
	return out, nil
}

// actionKey compares a catalog action (vault.revoke_tokens) with the activity that carries it
// out (vault.RevokeTokens).
func actionKey(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", ".", "").Replace(s))
}

// Line is the attempt as a responder reads it, on one line: step, attempt, the first line of
// the last error, next attempt.
func (a StepAttempts) Line() string {
	name := a.Step
	if name == "" {
		name = a.Activity
	}
	var b strings.Builder
	b.WriteString(name + ": attempt " + itoa(a.Attempt))
	if a.LastError != "" {
		// The first line: vendor errors append request dumps.
		line, _, _ := strings.Cut(a.LastError, "\n")
		b.WriteString(", last error: " + strings.TrimSpace(line))
	}
	switch {
	case !a.NextAttempt.IsZero():
		b.WriteString("; next attempt at " + a.NextAttempt.UTC().Format("15:04:05 MST"))
	case !a.RunningSince.IsZero():
		b.WriteString("; attempt " + itoa(a.Attempt) + " under way since " + a.RunningSince.UTC().Format("15:04:05 MST"))
	}
	return b.String()
}

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }
