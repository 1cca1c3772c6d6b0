package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// checkApproveRoles refuses --approve-role values that are not the roles the workers approve
// single actions with (FIREBREAK_APPROVE_ROLE, else playbooks.DefaultApproveRole): workers
// recompile an action plan with theirs, so the requester does not pick who approves.
func checkApproveRoles(st *settings, roles []string) error {
	want := playbooks.ActionApproveRolesOf(st.get("FIREBREAK_APPROVE_ROLE"))
	if !slices.Equal(roles, want) {
		return usagef("--approve-role %s: the workers approve single actions with role [%s] (FIREBREAK_APPROVE_ROLE, default %s) and run no action plan with other approvers; the requester does not choose who approves", strings.Join(roles, ","), strings.Join(want, ", "), playbooks.DefaultApproveRole)
	}
	return nil
}

func newActionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "action",
		Short: "Run one catalog action outside any playbook",
	}
	cmd.AddCommand(newActionRunCmd())
	return cmd
}

func newActionRunCmd() *cobra.Command {
	var (
		slackChannel, incident, reason, evidenceDir, logLevel, requestedBy string
		asJSON, noWait                                                     bool
		timeout                                                            time.Duration
		approveRoles                                                       []string
	)
	cmd := &cobra.Command{
		Use:   "run ACTION key=value...",
		Short: "Run one catalog action as a durable one-step run against the configured endpoints",
		Long: `Runs ACTION (see ` + "`firebreak actions`" + `) with the given arguments as a durable run on the
production task queue, against the endpoints the SDKs' own environment names (VAULT_ADDR,
AWS_ENDPOINT_URL_IAM, SLACK_BOT_TOKEN, PAGERDUTY_TOKEN…). It is recorded like any run: its
workflow id is firebreak/action-<action>/<digest of the arguments>, so repeating the same
request while it is open joins it, and its history is the audit record.

String, number, true/false and list arguments are written plainly (lists comma-separated:
accessors=acc-1,acc-2); map and list-of-map arguments are JSON
(secrets='[{"mount":"secret","path":"shared/db","version":3}]').

Evidence before change still holds: a destructive action runs as a two-step plan, an
evidence.snapshot of the request (for awsiam actions on a user, also of the user's IAM state)
and then the action. If the snapshot fails, the action does not run.

The two-person rule holds too. An action that cannot be undone (awsiam.rotate_key,
awsiam.delete_keys, awsiam.delete_login_profile, vault.rotate_secrets, vault.destroy_totp,
awsiam.deactivate_mfa_devices with delete_virtual=true…; ` + "`firebreak actions`" + ` marks them)
waits after its snapshot for a second person: someone holding an --approve-role (default
FIREBREAK_APPROVE_ROLE, else ` + playbooks.DefaultApproveRole + `), other than --requested-by, answers
/firebreak approve RUN step=` + playbooks.ActionGateID + ` in Slack (or the Approve button of the run's
thread). The command prints that line and waits; a denial or no answer within an hour leaves
the action undone (exit 1). Such an action needs a Temporal server that firebreak serve also
reaches (TEMPORAL_ADDRESS): on an embedded server nobody could approve it, so it is refused.

With TEMPORAL_ADDRESS unset, an embedded Temporal server and an in-process production worker
serve the run for the life of the command. Exit 0 when the action succeeded, 1 when it failed,
2 for bad usage.`,
		Example: `  firebreak action run vault.revoke_tokens accessors=acc-alice-laptop
  firebreak action run awsiam.deactivate_keys user=alice access_key_ids=AKIAEXAMPLE1 --json
  TEMPORAL_ADDRESS=temporal:7233 firebreak action run awsiam.rotate_key user=carol --requested-by dave --approve-role security-oncall`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			raw, err := parseKV(args[1:])
			if err != nil {
				return err
			}
			var roles []string
			for _, r := range approveRoles {
				if r = strings.TrimSpace(r); r != "" {
					roles = append(roles, r)
				}
			}
			st := settingsOf(cmd)
			if err := checkApproveRoles(st, roles); err != nil {
				return err
			}
			plan, inputs, err := playbooks.ActionPlan(args[0], raw, roles)
			if err != nil {
				return usageError{err}
			}
			gate, gated := plan.ActionGate()
			if gated {
				if strings.TrimSpace(requestedBy) == "" {
					return usagef("%s cannot be undone and waits for a second person, who must not be its requester: give --requested-by (or FIREBREAK_REQUESTER)", args[0])
				}
				if st.get("TEMPORAL_ADDRESS") == "" {
					return usagef("%s cannot be undone, so it waits for a second person's approval in Slack; with TEMPORAL_ADDRESS unset it would run on an embedded Temporal server that nobody else can reach, and wait in vain. Set TEMPORAL_ADDRESS to the cluster firebreak serve answers Slack for, or drill it: firebreak drill run against the sandbox", args[0])
				}
			}
			auth, err := requesterAuthOf(st, requestedBy)
			if err != nil {
				return err
			}
			logger, err := st.logger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			ctx := contextOf(cmd)
			sess, err := dialProduction(ctx, st, logger, evidenceDir, "")
			if err != nil {
				return err
			}
			defer sess.Close()
			run := runs.PrepareBound(plan, inputs, runs.Request{
				Directory:  st.directory(),
				DigestStep: playbooks.ActionStepID,
				Action:     &playbooks.ActionRequest{Action: args[0], Args: raw},
				Trigger:    workflows.Trigger{Kind: "cli", By: requestedBy, ByAuth: auth, Reason: reason, At: time.Now().UTC()},
				Report:     workflows.Report{SlackChannel: slackChannel, PagerDutyIncident: incident},
			})
			started, err := sess.start(ctx, run, runs.StartOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "run %s (%s)\n", started.WorkflowID, started.RunID)
			if gated {
				fmt.Fprint(cmd.ErrOrStderr(), runs.ApprovalHelp(args[0], started.WorkflowID, requestedBy, gate))
			}
			if noWait {
				return nil
			}
			res, _, err := waitRun(ctx, cmd.ErrOrStderr(), sess.conn.Runs, started, timeout, sess.conn.Embedded)
			rep := runs.ReportAction(args[0], started.WorkflowID, started.RunID, res, err)
			if asJSON {
				if err := writeJSONOut(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(cmd.OutOrStdout())
			}
			if rep.Status != workflows.StatusSucceeded {
				return errCheckFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&slackChannel, "slack-channel", "", "Slack channel id for the run's status thread (needs SLACK_BOT_TOKEN)")
	cmd.Flags().StringVar(&incident, "incident", "", "PagerDuty incident id the run reports on")
	cmd.Flags().StringVar(&reason, "reason", "", "why the action was run, recorded in the run's trigger")
	requesterFlag(cmd, &requestedBy)
	cmd.Flags().StringSliceVar(&approveRoles, "approve-role", []string{envSettings().getOr("FIREBREAK_APPROVE_ROLE", playbooks.DefaultApproveRole)}, "role whose members may approve an action that cannot be undone (repeat or comma-separate for several; FIREBREAK_APPROVE_ROLE)")
	cmd.Flags().StringVar(&evidenceDir, "evidence-dir", filepath.Join(defaultStateDir(), "evidence"), "evidence chain of the in-process worker")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "start the run and return")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop waiting for the run after this long (the run goes on); 0: wait until it ends")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}
