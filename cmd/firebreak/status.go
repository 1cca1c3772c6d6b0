package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/secretscan"
)

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
			conn, _, err := dialLogged(cmd, "error")
			if err != nil {
				return err
			}
			defer conn.Close()
			rs, err := conn.Runs.StatusWithRetries(ctx, args[0], secretscan.Redact)
			if err != nil {
				return usageError{fmt.Errorf("run %s: %w", args[0], err)}
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), rs)
			}
			rs.WriteText(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

// dialLogged connects a command to Temporal with its settings, logging at level to stderr.
func dialLogged(cmd *cobra.Command, level string) (*temporalConn, *slog.Logger, error) {
	st := settingsOf(cmd)
	logger, err := st.logger(cmd.ErrOrStderr(), level)
	if err != nil {
		return nil, nil, err
	}
	conn, err := dialTemporal(contextOf(cmd), st, logger)
	return conn, logger, err
}
