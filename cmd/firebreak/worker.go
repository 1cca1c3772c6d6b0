package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/observability"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/workflows"
)

func newWorkerCmd() *cobra.Command {
	var evidenceDir, logLevel, metricsListen string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the production worker against TEMPORAL_ADDRESS and the configured Vault, AWS, Slack and PagerDuty",
		Long: `Serves the production task queue "firebreak": the interpreter workflow and every activity,
bound to the endpoints the SDKs' own environment names (VAULT_ADDR, AWS_PROFILE,
AWS_ENDPOINT_URL_IAM, SLACK_BOT_TOKEN, PAGERDUTY_TOKEN…). Run as many as you like; they share
the queue. Drill inputs are refused here. SIGINT/SIGTERM drain in-flight activities and stop.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := settingsOf(cmd)
			if st.get("TEMPORAL_ADDRESS") == "" {
				return usagef("firebreak worker serves an existing Temporal cluster: set TEMPORAL_ADDRESS (for a laptop, run `firebreak dev`)")
			}
			logger, err := st.logger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			obs, err := startObserver(ctx, logger, metricsListen)
			if err != nil {
				return err
			}
			defer obs.Close()
			w, conn, err := startWorker(observability.NewContext(ctx, obs), st, logger, evidenceDir, "")
			if err != nil {
				return err
			}
			defer conn.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "firebreak worker serving task queue %s on %s\n", workflows.TaskQueue, conn.Address)
			<-ctx.Done()
			w.Stop()
			return nil
		},
	}
	cmd.Flags().StringVar(&evidenceDir, "evidence-dir", filepath.Join(defaultStateDir(), "evidence"), "where the evidence chain is written")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	addMetricsListenFlag(cmd, &metricsListen)
	return cmd
}

// openEvidenceStore opens the evidence chain: S3 with Object Lock (FIREBREAK_EVIDENCE_S3), else
// the append-only file in dir (service.OpenEvidenceStore).
func openEvidenceStore(ctx context.Context, st *settings, dir string) (evidence.Store, error) {
	return service.OpenEvidenceStore(ctx, st.conf(), dir)
}

// startWorker starts the production worker (service.StartWorker), trusting the decision keys
// and approvers of the settings. It runs only plans its own library compiles: the bundled
// playbooks and playbookDir (else playbooks.dir, FIREBREAK_PLAYBOOKS), which must be the
// front end's too.
func startWorker(ctx context.Context, st *settings, logger *slog.Logger, evidenceDir, playbookDir string) (worker.Worker, *temporalConn, error) {
	return service.StartWorker(ctx, serviceOptions(ctx, st, logger), workerOptions(st, logger, evidenceDir, playbookDir))
}

// workerOptions are the production worker's: its evidence, its playbooks and whom it trusts.
func workerOptions(st *settings, logger *slog.Logger, evidenceDir, playbookDir string) service.WorkerOptions {
	trust := func() ([]ed25519.PublicKey, workflows.Option, error) {
		keys, err := workerDecisionKeys(st, logger)
		if err != nil {
			return nil, nil, err
		}
		approvers, err := workerApprovers(st)
		return keys, approvers, err
	}
	return service.WorkerOptions{EvidenceDir: evidenceDir, PlaybookDir: playbookDir, Trust: trust}
}

// production is a connection to Temporal for a real run: TEMPORAL_ADDRESS, or else an
// embedded server with an in-process production worker for the life of the command
// (service.DialProduction).
type production struct {
	conn *temporalConn
	w    worker.Worker
}

func dialProduction(ctx context.Context, st *settings, logger *slog.Logger, evidenceDir, playbookDir string) (*production, error) {
	w, conn, err := service.DialProduction(ctx, serviceOptions(ctx, st, logger), workerOptions(st, logger, evidenceDir, playbookDir))
	if err != nil {
		return nil, err
	}
	return &production{conn: conn, w: w}, nil
}

func (p *production) Close() {
	if p.w != nil {
		p.w.Stop()
	}
	p.conn.Close()
}

// start starts the run on the production queue, or joins it while it is open: one incident,
// one run. A refusal to join another response's run (o.Strict) is a usage error.
func (p *production) start(ctx context.Context, run runs.Run, o runs.StartOptions) (runs.Started, error) {
	st, err := p.conn.Runs.StartOrJoin(ctx, run, o)
	var refused *runs.JoinRefused
	if errors.As(err, &refused) {
		return st, usageError{err}
	}
	return st, err
}

func newRunCmd() *cobra.Command {
	var (
		slackChannel, incident, reason, evidenceDir, logLevel, playbookDir, requestedBy string
		asJSON, noWait                                                                  bool
		timeout                                                                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run PLAYBOOK|FILE key=value...",
		Short: "Run a playbook for real against the configured endpoints",
		Long: `Starts PLAYBOOK on the production task queue with the given inputs. The run's id comes from the
playbook and subject, so a second run for the same subject while one is open joins it.
With TEMPORAL_ADDRESS unset, an embedded Temporal server and an in-process production worker
serve the run for the life of the command.`,
		Example: `  firebreak run compromised-dev-key subject=alice reason="key in a public gist" --slack-channel C0SECOPS --incident P1234`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(timeout); err != nil {
				return err
			}
			conf := settingsOf(cmd)
			logger, err := conf.logger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return err
			}
			ctx := contextOf(cmd)
			lib, err := playbooks.LoadLibrary(playbookDir)
			if err != nil {
				return err
			}
			p, err := lib.Resolve(args[0])
			if err != nil {
				return usageError{err}
			}
			raw, err := parseKV(args[1:])
			if err != nil {
				return err
			}
			if reason, err = runs.MergeReason(raw, reason); err != nil {
				return usageError{err}
			}
			auth, err := requesterAuthOf(conf, requestedBy)
			if err != nil {
				return err
			}
			run, err := runs.Prepare(p, raw, runs.Request{
				Directory: conf.directory(),
				Incident:  incident,
				Trigger:   workflows.Trigger{Kind: "cli", By: requestedBy, ByAuth: auth, Reason: reason, At: time.Now().UTC()},
				Report:    workflows.Report{SlackChannel: slackChannel, PagerDutyIncident: incident},
			})
			if err != nil {
				return usageError{err}
			}
			sess, err := dialProduction(ctx, conf, logger, evidenceDir, playbookDir)
			if err != nil {
				return err
			}
			defer sess.Close()
			st, err := sess.start(ctx, run, runs.StartOptions{Strict: incident != ""})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(cmd.ErrOrStderr(), "run %s (%s)\n", st.WorkflowID, st.RunID)
			if noWait {
				return nil
			}
			stopNotices := announceDecisions(ctx, cmd.ErrOrStderr(), sess.conn, st)
			res, recorded, err := waitRun(ctx, cmd.ErrOrStderr(), sess.conn.Runs, st, timeout, sess.conn.Embedded)
			stopNotices()
			if errors.Is(err, errStoppedWaiting) {
				// Show how far the run got, not a blank scorecard.
				if now, qerr := queryStatus(context.WithoutCancel(ctx), sess.conn.Client, st.WorkflowID, 5*time.Second); qerr == nil {
					res = now
				} else {
					// Not answering yet (a busy server): say at least what was started, by whom
					// and why.
					res.WorkflowID, res.RunID, res.Playbook, res.Trigger = st.WorkflowID, st.RunID, p.Name, run.Input.Trigger
				}
			}
			card := drills.RunScorecard(res, recorded, err) // a recorded failure says why itself
			if err := printRun(out, card, asJSON); err != nil {
				return err
			}
			if !card.Passed {
				return errCheckFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&slackChannel, "slack-channel", "", "Slack channel id for the run's status thread (needs SLACK_BOT_TOKEN)")
	cmd.Flags().StringVar(&incident, "incident", "", "PagerDuty incident id: notes go there and the run's id derives from it (an open run of another playbook, or with other inputs, for it is refused)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the run was started (sets the reason input)")
	requesterFlag(cmd, &requestedBy)
	cmd.Flags().StringVar(&evidenceDir, "evidence-dir", filepath.Join(defaultStateDir(), "evidence"), "evidence chain of the in-process worker")
	cmd.Flags().StringVar(&playbookDir, "playbooks", "", playbooksFlagUsage)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "start the run and return")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop waiting for the run after this long (the run goes on); 0: wait until it ends")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

func printRun(w io.Writer, card drills.Scorecard, asJSON bool) error {
	if asJSON {
		return writeJSONOut(w, card)
	}
	drills.PrintScorecard(w, card)
	return nil
}

func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// writeJSONOut prints v as indented JSON: the --json output of every command.
func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// requesterFlag adds --requested-by: who starts the run, as the directory knows them (their
// subject name), because approvals compare it with the approver's identity — nobody approves
// their own request. It defaults to FIREBREAK_REQUESTER, then the login name.
func requesterFlag(cmd *cobra.Command, dst *string) {
	def := os.Getenv("FIREBREAK_REQUESTER")
	if def == "" {
		def = currentUser()
	}
	cmd.Flags().StringVar(dst, "requested-by", def, "who starts this run, by their directory subject name (FIREBREAK_REQUESTER; default: the login name); approvers must be someone else. With a Temporal client certificate (TEMPORAL_TLS_CERT) it must name its subject; otherwise the run records it as claimed")
}

// requesterAuthOf checks --requested-by against the caller's Temporal client certificate
// (service.RequesterAuth): "mtls:<common name>", or "claimed" when nothing authenticates them.
func requesterAuthOf(st *settings, requestedBy string) (string, error) {
	return service.RequesterAuth(st.conf(), requestedBy)
}
