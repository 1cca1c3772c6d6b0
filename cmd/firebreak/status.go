package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/secretscan"
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

// RunStatus is what `firebreak status` prints: the run's own status and the retries under way.
type RunStatus struct {
	workflows.RunResult
	Retrying []StepAttempts `json:"retrying,omitempty"`
}

// retryingSteps asks Temporal for the run's pending activities that have failed at least once
// and names each by the running step whose action it carries out. Last errors are decrypted
// with the connection's codec and redacted.
func retryingSteps(ctx context.Context, conn *temporalConn, workflowID string, steps []workflows.StepResult) ([]StepAttempts, error) {
	d, err := conn.Client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return nil, err
	}
	fc := workflows.FailureConverter(conn.Codec)
	var out []StepAttempts
	for _, pa := range d.GetPendingActivities() {
		if pa.GetAttempt() <= 1 && pa.GetLastFailure() == nil {
			continue
		}
		a := StepAttempts{Activity: pa.GetActivityType().GetName(), Attempt: pa.GetAttempt()}
		if f := pa.GetLastFailure(); f != nil {
			// The failure's own message, decrypted, without the chain of causes it wraps.
			err := fc.FailureToError(f)
			msg := err.Error()
			var app *temporal.ApplicationError
			if errors.As(err, &app) && app.Message() != "" {
				msg = app.Message()
			}
			a.LastError = secretscan.Redact(msg)
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

// retryLine is one retrying step as a responder reads it.
func retryLine(a StepAttempts) string {
	name := a.Step
	if name == "" {
		name = a.Activity
	}
	line := fmt.Sprintf("%s: attempt %d", name, a.Attempt)
	if a.LastError != "" {
		line += ", last error: " + a.LastError
	}
	switch {
	case !a.NextAttempt.IsZero():
		line += fmt.Sprintf("; next attempt at %s", a.NextAttempt.UTC().Format("15:04:05 MST"))
	case !a.RunningSince.IsZero():
		line += fmt.Sprintf("; attempt %d under way since %s", a.Attempt, a.RunningSince.UTC().Format("15:04:05 MST"))
	}
	return line
}

func newStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status RUN",
		Short: "Show where an open run is: each step, the decisions it waits for, the steps being retried",
		Long: `Shows the run RUN (its workflow id) on TEMPORAL_ADDRESS as it is now: each step's status, the
signed decisions it waits for, and every step whose action is failing and being retried — its
attempt count, last error (redacted) and next attempt. Exit 0 when the run answered, 2 when it
does not exist or TEMPORAL_ADDRESS is not set.`,
		Example: "  firebreak status firebreak/compromised-dev-key/alice\n  firebreak status firebreak/pagerduty/P1234 --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := contextOf(cmd)
			if setting("TEMPORAL_ADDRESS") == "" {
				return usagef("firebreak status asks a run on a Temporal server: set TEMPORAL_ADDRESS (the one firebreak dev or your cluster listens on); an embedded server started for this command would hold no runs")
			}
			logger, err := newLogger(cmd.ErrOrStderr(), "error")
			if err != nil {
				return err
			}
			conn, err := connectTemporal(ctx, logger)
			if err != nil {
				return err
			}
			defer conn.Close()
			st, err := runStatus(ctx, conn, args[0])
			if err != nil {
				return usageError{fmt.Errorf("run %s: %w", args[0], err)}
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), st)
			}
			printRunStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

// runStatus is the run's status query and its retries under way.
func runStatus(ctx context.Context, conn *temporalConn, workflowID string) (RunStatus, error) {
	res, err := conn.Runs.Status(ctx, workflowID)
	if err != nil {
		return RunStatus{}, err
	}
	st := RunStatus{RunResult: res}
	st.Retrying, err = retryingSteps(ctx, conn, workflowID, res.Steps)
	return st, err
}

func printRunStatus(w io.Writer, st RunStatus) {
	fmt.Fprintf(w, "RUN %s — %s  subject=%s\n", st.WorkflowID, orDash(st.Outcome), orDash(st.Subject))
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
			fmt.Fprintf(w, "    %s\n", retryLine(a))
		}
	}
	if len(st.Pending) > 0 {
		fmt.Fprintln(w, "  Waiting for a signed decision:")
		for _, p := range st.Pending {
			fmt.Fprintf(w, "    %s %s (%s) — firebreak approve %s %s --as WHO\n", p.Kind, p.Step, strings.Join(append(append([]string{}, p.Roles...), p.Owners...), " or "), st.WorkflowID, p.Step)
		}
	}
}
