package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	historypb "go.temporal.io/api/history/v1"

	"github.com/firebreak-dev/firebreak/drills"
)

func newDrillReplayCmd() *cobra.Command {
	var f drillFlags
	var runID, historyFile string
	cmd := &cobra.Command{
		Use:   "replay WORKFLOW_ID [--run-id RUN_ID] | --history FILE",
		Short: "Re-run a finished run's pinned Plan and inputs as a drill and report any difference in outcome",
		Long: `Reads the Plan and inputs a finished run was started with (its history's first event, decrypted),
drills that very Plan with those inputs on the drill task queue against a sandbox seeded from the
run's evidence snapshot, and compares the two runs step by step: status, error kind, the run's outcome and every
verification and expectation. --history replays a history saved as JSON (temporal workflow
show --output json, or the recordings under workflows/testdata). Exit 0 when the replay came out
the same, 1 when it differs.

The sandbox is the standard organisation with the run's subject replaced by what its evidence
snapshot (the input of its evidence.snapshot step, before containment) recorded: Vault entity
policies, tokens (fresh token ids), readable shared secrets (fresh values), IAM access keys with
their status and dates (fresh secrets), login profile, MFA devices and groups. A run without a
snapshot is replayed on the standard organisation, and the report says so.`,
		Example: `  firebreak drill replay firebreak/compromised-dev-key/alice
  firebreak drill replay --history workflows/testdata/compromised-dev-key.history.json --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case historyFile == "" && len(args) != 1:
				return usagef("give the workflow id of a finished run, or --history FILE")
			case historyFile != "" && len(args) != 0:
				return usagef("give a workflow id or --history, not both")
			}
			f.AutoApproveSet = true // a replay is unattended unless --auto-approve=false
			wfID := ""
			if len(args) == 1 {
				wfID = args[0]
			}
			return runReplay(contextOf(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr(), wfID, runID, historyFile, f)
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "the run of the workflow id (default: the latest)")
	cmd.Flags().StringVar(&historyFile, "history", "", "replay the run recorded in this JSON history file instead")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the comparison as JSON")
	cmd.Flags().StringVar(&f.evidenceDir, "evidence-dir", "", "where the replay's evidence is written (default: a new temporary directory)")
	cmd.Flags().DurationVar(&f.Timeout, "timeout", 5*time.Minute, "give up on the replay after this long")
	cmd.Flags().StringVar(&f.verboseLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	cmd.Flags().BoolVar(&f.AutoApprove, "auto-approve", true, "grant approvals and manual steps at once; false waits for participants as a tabletop does")
	return cmd
}

func runReplay(ctx context.Context, stdout, stderr io.Writer, wfID, runID, historyFile string, f drillFlags) error {
	level, err := parseLevel(f.verboseLevel)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var events []*historypb.HistoryEvent
	if historyFile != "" {
		if events, err = drills.ReadHistoryFile(historyFile); err != nil {
			return usageError{err}
		}
	}
	evDir, err := drills.EvidenceDir(f.evidenceDir, "replay")
	if err != nil {
		return err
	}
	rg, err := startRig(ctx, logger, evDir, stderr)
	if err != nil {
		return err
	}
	defer rg.Close()
	if events == nil {
		if runID == "" {
			latest, err := rg.conn.Runs.LatestRun(ctx, wfID)
			if err != nil {
				hint := ""
				if rg.conn.Embedded {
					hint = " (TEMPORAL_ADDRESS is not set, so this is a fresh embedded server: set it to the server that ran the run, or give --history FILE)"
				}
				return fmt.Errorf("no run %q on Temporal at %s%s: %w", wfID, rg.conn.Address, hint, err)
			}
			runID = latest
		}
		if events, err = rg.conn.Runs.History(ctx, wfID, runID); err != nil {
			return err
		}
	}
	rep, err := rg.Replay(ctx, events, f.Settings)
	if err != nil {
		return err
	}
	if f.asJSON {
		if err := writeJSONOut(stdout, rep); err != nil {
			return err
		}
	} else {
		drills.PrintReplay(stdout, rep)
	}
	if len(rep.Differences) > 0 {
		return errCheckFailed
	}
	return nil
}
