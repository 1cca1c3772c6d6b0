package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// actionStep is the id of the step that carries out the action in a one-step plan.
const actionStep = playbooks.ActionStepID

// actionGate is the id of the two-person gate the compiler puts before an irreversible
// action step.
const actionGate = playbooks.ActionGateID

// DefaultApproveRole is the role whose members approve an irreversible single action when
// FIREBREAK_APPROVE_ROLE names none.
const DefaultApproveRole = playbooks.DefaultApproveRole

// configuredApproveRoles are the roles the workers approve single actions with
// (FIREBREAK_APPROVE_ROLE, comma-separated, else DefaultApproveRole): workers recompile an
// action plan with them, so the requester does not pick who approves.
func configuredApproveRoles(st *settings) []string {
	var lib playbooks.Library
	lib.SetActionApproveRoles(strings.Split(st.get("FIREBREAK_APPROVE_ROLE"), ","))
	return lib.ActionApproveRoles()
}

// checkApproveRoles refuses --approve-role values that are not the workers' configured
// approver roles.
func checkApproveRoles(st *settings, roles []string) error {
	want := configuredApproveRoles(st)
	if !slices.Equal(roles, want) {
		return usagef("--approve-role %s: the workers approve single actions with role [%s] (FIREBREAK_APPROVE_ROLE, default %s) and run no action plan with other approvers; the requester does not choose who approves", strings.Join(roles, ","), strings.Join(want, ", "), DefaultApproveRole)
	}
	return nil
}

// actionPlan compiles the plan that runs one catalog action (playbooks.ActionPlan); every
// error is a usage error.
func actionPlan(name string, raw map[string]string, approveRoles []string) (*playbooks.Plan, map[string]any, error) {
	plan, inputs, err := playbooks.ActionPlan(name, raw, approveRoles)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return plan, inputs, nil
}

// ActionReport is what `firebreak action run` prints: the action step's outcome and outputs,
// and the run it was recorded as.
type ActionReport struct {
	Action     string         `json:"action"`
	WorkflowID string         `json:"workflow_id"`
	RunID      string         `json:"run_id"`
	Status     string         `json:"status"`
	Outputs    map[string]any `json:"outputs,omitempty"`
	Error      string         `json:"error,omitempty"`
	// Steps are every step of the one-step plan, evidence first for a destructive action,
	// and the two-person gate before an irreversible one.
	Steps []workflows.StepResult `json:"steps"`
	// Decisions are the people's decisions on the gate of an irreversible action.
	Decisions []workflows.Decision `json:"decisions,omitempty"`
}

// approvalHelp tells the requester of an irreversible action how it gets its second person.
func approvalHelp(action, wfID, requester string, gate playbooks.Step) string {
	roles, timeout := "", "no deadline"
	if gate.Approval != nil {
		roles = strings.Join(gate.Approval.Roles, ", ")
		if d := time.Duration(gate.Approval.Timeout); d > 0 {
			timeout = "within " + d.String() + ", else it is not run"
		}
	}
	return fmt.Sprintf(`%s cannot be undone: by the two-person rule it waits for someone with role [%s], other than you (%s), to approve (%s).
The evidence snapshot runs first. Ask them to answer in Slack:
  /firebreak approve %s step=%s     (or /firebreak deny …, or the buttons in the run's thread with --slack-channel)
`, action, roles, requester, timeout, wfID, gate.ID)
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
FIREBREAK_APPROVE_ROLE, else ` + DefaultApproveRole + `), other than --requested-by, answers
/firebreak approve RUN step=` + actionGate + ` in Slack (or the Approve button of the run's
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
			plan, inputs, err := actionPlan(args[0], raw, roles)
			if err != nil {
				return err
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
				DigestStep: actionStep,
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
				fmt.Fprint(cmd.ErrOrStderr(), approvalHelp(args[0], started.WorkflowID, requestedBy, gate))
			}
			if noWait {
				return nil
			}
			res, _, err := waitRun(ctx, cmd.ErrOrStderr(), sess.conn.Runs, started, timeout, sess.conn.Embedded)
			rep := actionReport(args[0], started.WorkflowID, started.RunID, res, err)
			if err := printAction(cmd.OutOrStdout(), rep, asJSON); err != nil {
				return err
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
	defRole := envSettings().get("FIREBREAK_APPROVE_ROLE")
	if defRole == "" {
		defRole = DefaultApproveRole
	}
	cmd.Flags().StringSliceVar(&approveRoles, "approve-role", []string{defRole}, "role whose members may approve an action that cannot be undone (repeat or comma-separate for several; FIREBREAK_APPROVE_ROLE)")
	cmd.Flags().StringVar(&evidenceDir, "evidence-dir", filepath.Join(defaultStateDir(), "evidence"), "evidence chain of the in-process worker")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "start the run and return")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop waiting for the run after this long (the run goes on); 0: wait until it ends")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

// actionReport condenses a run of a one-step plan: the action step's status and outputs, or
// why it did not run.
func actionReport(action, id, runID string, res workflows.RunResult, runErr error) ActionReport {
	rep := ActionReport{Action: action, WorkflowID: id, RunID: runID, Status: workflows.StatusFailed, Steps: res.Steps, Decisions: res.Decisions}
	for _, s := range res.Steps {
		if s.ID != actionStep {
			continue
		}
		rep.Status, rep.Outputs, rep.Error = s.Status, s.Outputs, s.Error
		if s.Status == workflows.StatusPending || s.Status == workflows.StatusSkipped {
			rep.Status = workflows.StatusFailed
			rep.Error = "not run: " + cmp.Or(gateRefusal(res), res.Error)
		}
	}
	if rep.Error == "" && runErr != nil && rep.Status != workflows.StatusSucceeded {
		rep.Error = runErr.Error()
		if res.Error != "" {
			rep.Error = res.Error
		}
	}
	return rep
}

// gateRefusal says why the two-person gate of an action did not let it run: who denied it
// and why, or that nobody approved it in time; "" when the gate did not stop it.
func gateRefusal(res workflows.RunResult) string {
	for _, d := range res.Decisions {
		if d.Step != actionGate {
			continue
		}
		switch d.Decision {
		case workflows.DecisionDeny:
			return fmt.Sprintf("%s denied the second-person approval (%s): %s", d.Approver, actionGate, cmp.Or(d.Reason, "no reason given"))
		case workflows.DecisionTimeout:
			return fmt.Sprintf("nobody approved %s in time: the action cannot be undone and needs a second person", actionGate)
		}
	}
	return ""
}

func printAction(w io.Writer, rep ActionReport, asJSON bool) error {
	if asJSON {
		return writeJSONOut(w, rep)
	}
	verdict := "OK"
	if rep.Status != workflows.StatusSucceeded {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "ACTION %s — %s\n  run %s\n", rep.Action, verdict, rep.WorkflowID)
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "  %-9s %-12s %-30s %6d ms\n", s.Status, s.ID, s.Action, s.DurationMS)
	}
	for _, d := range rep.Decisions {
		fmt.Fprintf(w, "  %s %s by %s%s\n", d.Step, d.Decision, d.Approver, strings.TrimSuffix(" — "+d.Reason, " — "))
	}
	if rep.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", rep.Error)
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Outputs)) {
		b, _ := json.Marshal(rep.Outputs[k])
		fmt.Fprintf(w, "  %s: %s\n", k, b)
	}
	return nil
}

// actionWorkflowID is the id of a single-action run (runs.WorkflowID): the same action with
// the same arguments joins an open run instead of starting a second one.
func actionWorkflowID(plan *playbooks.Plan, inputs map[string]any) string {
	return runs.WorkflowID(plan, inputs, runs.Request{DigestStep: actionStep})
}
