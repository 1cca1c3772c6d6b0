package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
)

func newDrillScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Turn playbooks' drill schedules (triggers.schedule) into Temporal Schedules",
		Long: `Scheduled drills run on the drill task queue, so a worker bound to the sandbox must serve it:
run 'firebreak dev' and point these commands at it with TEMPORAL_ADDRESS. Each scheduled drill
posts its progress and scorecard summary to the sandbox's drill Slack channel.`,
	}
	cmd.AddCommand(newScheduleSyncCmd(), newScheduleListCmd(), newSchedulePauseCmd())
	for _, c := range cmd.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return cmd
}

func newScheduleSyncCmd() *cobra.Command {
	var cron, playbookDir string
	var inputs []string
	var autoApprove bool
	cmd := &cobra.Command{
		Use:   "sync [PLAYBOOK...] [--cron EXPR --input k=v...]",
		Short: "Create, update and delete Temporal Schedules to match the playbooks' drill schedules",
		Long: `With no --cron, every playbook's triggers.schedule entries become Temporal Schedules, and
schedules of playbooks that no longer ask for one are deleted. With --cron EXPR and one
playbook, that playbook is scheduled with EXPR (five cron fields, UTC) and --input values.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := playbooks.LoadLibrary(playbookDir)
			if err != nil {
				return err
			}
			raw, err := parseKV(inputs)
			if err != nil {
				return err
			}
			want, err := drills.DesiredSchedules(lib, args, cron, raw, autoApprove)
			if err != nil {
				return usageError{err}
			}
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if conn.Embedded {
				fmt.Fprintln(cmd.ErrOrStderr(), "firebreak: warning: TEMPORAL_ADDRESS is not set, so these schedules live on an embedded server that stops with this command; run `firebreak dev` and set TEMPORAL_ADDRESS")
			}
			// Deleting is only right when every playbook was considered.
			prune := cron == "" && len(args) == 0
			return drills.SyncSchedules(ctx, conn.Client, want, prune, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&cron, "cron", "", "schedule the named playbook with this cron expression (five fields, UTC) instead of its triggers.schedule")
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "with --cron: playbook input as key=value (repeatable); subject defaults to alice")
	cmd.Flags().StringVar(&playbookDir, "playbooks", "", playbooksFlagUsage)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "scheduled drills grant approvals and manual steps at once (unattended); default: tabletop, they wait for participants in the drill's Slack channel and escalate when late")
	return cmd
}

func newScheduleListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List firebreak's drill schedules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			scheds, err := drills.ListSchedules(ctx, conn.Client)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"schedules": scheds})
			}
			return drills.WriteSchedules(cmd.OutOrStdout(), scheds)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSchedulePauseCmd() *cobra.Command {
	var note string
	var resume bool
	cmd := &cobra.Command{
		Use:   "pause PLAYBOOK [--note TEXT] [--resume]",
		Short: "Pause (or with --resume, unpause) every drill schedule of a playbook",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if note == "" {
				note = "paused by " + currentUser() + " with firebreak drill schedule pause"
				if resume {
					note = "resumed by " + currentUser()
				}
			}
			err = drills.PauseSchedules(ctx, conn.Client, args[0], note, resume, cmd.OutOrStdout())
			if errors.Is(err, drills.ErrNoSchedule) {
				return usageError{err}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (recorded on the schedule)")
	cmd.Flags().BoolVar(&resume, "resume", false, "unpause instead")
	return cmd
}

func newDrillHistoryCmd() *cobra.Command {
	var asJSON bool
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "history [PLAYBOOK] [--since 720h] [--json]",
		Short: "Show the trend of time to contain and failures over past drills",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, playbook := "drill/", ""
			if len(args) == 1 {
				playbook = args[0]
				prefix += playbook + "/"
			}
			all, embedded, err := listRuns(cmd, since, prefix, playbook, true)
			if err != nil {
				return err
			}
			done := drills.WithoutReplays(all)
			throwawayHint(cmd.ErrOrStderr(), embedded, len(done))
			trends := drills.Trends(done)
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"playbooks": trends})
			}
			drills.PrintTrends(cmd.OutOrStdout(), trends)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().DurationVar(&since, "since", 0, "only drills started within this long; default all")
	return cmd
}
