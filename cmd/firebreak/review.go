package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/drills"
)

func newAuditReviewCmd() *cobra.Command {
	var runID, out string
	var slow time.Duration
	cmd := &cobra.Command{
		Use:   "review WORKFLOW_ID [--run-id RUN_ID] [--slow 1m] [-o FILE]",
		Short: "Draft a post-incident review in Markdown from a finished run's history",
		Long: `Writes a draft post-incident review: the timeline from the trigger to the end of the run,
what went well, what was slow (steps over --slow, human responses and escalations, retried
actions) and follow-ups derived from failed and slow steps, failed checks, escalations and
undelivered reports. It is a draft for the team to complete, built from the same record as
'firebreak audit export'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			ex, err := audit.Read(ctx, conn.Runs, conn.Address, args[0], runID, audit.Options{People: settingsOf(cmd).conf().People()})
			if err != nil {
				return err
			}
			rv, err := audit.ReviewOf(ex)
			if err != nil {
				return err
			}
			doc := audit.ReviewMarkdown(rv, slow, drills.FaultSignatures)
			if out == "" || out == "-" {
				_, err = io.WriteString(cmd.OutOrStdout(), doc)
				return err
			}
			return writePrivate(out, []byte(doc)) // a run's decisions, people and errors
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "the run of the workflow id (default: the latest)")
	cmd.Flags().DurationVar(&slow, "slow", time.Minute, "a step or response that took at least this long is listed as slow")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func newAuditMetricsCmd() *cobra.Command {
	var since time.Duration
	var playbook string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "metrics [--since 720h] [--playbook NAME] [--json]",
		Short: "MTTD and MTTR per playbook over past runs, incidents and drills apart",
		Long: `Reads the finished runs from Temporal's visibility store and, per playbook, reports how many
ran, contained and failed, the mean time from the trigger to the run starting (MTTD: how long
the alert or request took to become a response; firebreak cannot see when the compromise itself
began) and the mean time from the trigger to contained (MTTR), with the median and the worst.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, embedded, err := listRuns(cmd, since, "", playbook, true)
			if err != nil {
				return err
			}
			throwawayHint(cmd.ErrOrStderr(), embedded, len(list))
			ms := audit.Metrics(list)
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"playbooks": ms})
			}
			return audit.WriteMetrics(cmd.OutOrStdout(), ms)
		},
	}
	cmd.Flags().DurationVar(&since, "since", 0, "only runs started within this long (e.g. 720h); default all")
	cmd.Flags().StringVar(&playbook, "playbook", "", "only runs of this playbook")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
