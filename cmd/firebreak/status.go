package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/secretscan"
	"github.com/firebreak-dev/firebreak/workflows"
)

// RunStatus is what `firebreak status` prints: the run's own status and the retries under way.
type RunStatus struct {
	workflows.RunResult
	Retrying []runs.StepAttempts `json:"retrying,omitempty"`
}

// retryingSteps is conn.Runs.Retrying with every last error redacted.
func retryingSteps(ctx context.Context, conn *temporalConn, workflowID string, steps []workflows.StepResult) ([]runs.StepAttempts, error) {
	out, err := conn.Runs.Retrying(ctx, workflowID, steps)
	for i := range out {
		out[i].LastError = secretscan.Redact(out[i].LastError)
	}
	return out, err
}

// retryLine is one retrying step as a responder reads it.
func retryLine(a runs.StepAttempts) string { return a.Line() }

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
			ctx, st := contextOf(cmd), settingsOf(cmd)
			if st.get("TEMPORAL_ADDRESS") == "" {
				return usagef("firebreak status asks a run on a Temporal server: set TEMPORAL_ADDRESS (the one firebreak dev or your cluster listens on); an embedded server started for this command would hold no runs")
			}
			logger, err := st.logger(cmd.ErrOrStderr(), "error")
			if err != nil {
				return err
			}
			conn, err := dialTemporal(ctx, st, logger)
			if err != nil {
				return err
			}
			defer conn.Close()
			rs, err := runStatus(ctx, conn, args[0])
			if err != nil {
				return usageError{fmt.Errorf("run %s: %w", args[0], err)}
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), rs)
			}
			printRunStatus(cmd.OutOrStdout(), rs)
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
