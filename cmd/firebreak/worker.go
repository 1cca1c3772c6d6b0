package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	slackapi "github.com/slack-go/slack"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/activities/oidc"
	fbpagerduty "github.com/firebreak-dev/firebreak/activities/pagerduty"
	fbslack "github.com/firebreak-dev/firebreak/activities/slack"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Production clients come from each ecosystem's own configuration, read by its SDK:
// Vault from VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and VAULT_CACERT…; AWS from the default
// chain (AWS_PROFILE, roles, AWS_ENDPOINT_URL_IAM…) with adaptive retries; Slack from
// SLACK_BOT_TOKEN (SLACK_API_URL to point elsewhere); PagerDuty from PAGERDUTY_TOKEN and
// PAGERDUTY_FROM (PAGERDUTY_API_URL to point elsewhere).

// registerProduction registers every activity on w bound to the configured real endpoints.
func registerProduction(ctx context.Context, st *settings, w worker.Registry, store evidence.Store, logger *slog.Logger) error {
	vc, _, err := vaultClient(ctx, st, logger) // VAULT_TOKEN, AppRole or Kubernetes login
	if err != nil {
		return err
	}
	if vc.Token() == "" {
		logger.Warn("none of VAULT_TOKEN, VAULT_ROLE_ID/VAULT_SECRET_ID or VAULT_K8S_ROLE is set: Vault actions will be refused")
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, st.awsLoadOptions()...)
	if err != nil {
		return fmt.Errorf("aws configuration: %w", err)
	}
	var slackOpts []slackapi.Option
	if u := st.get("SLACK_API_URL"); u != "" {
		slackOpts = append(slackOpts, slackapi.OptionAPIURL(u))
	}
	var pdOpts []pagerduty.ClientOptions
	if u := st.get("PAGERDUTY_API_URL"); u != "" {
		pdOpts = append(pdOpts, pagerduty.WithAPIEndpoint(u))
	}
	services, err := httpServices(st)
	if err != nil {
		return err
	}
	// Secrets marked firebreak-rotate: service:NAME/PATH are rotated by the same configured services.
	fbvault.Register(w, &fbvault.Activities{Client: vc.Logical(), TokenClient: fbvault.TokenClientOf(vc), Services: httpreq.Rotator{Services: services}})
	awsiam.Register(w, &awsiam.Activities{Client: iam.NewFromConfig(awsCfg, st.iamEndpoint), Secrets: fbvault.KVStore{Client: vc.Logical()}})
	fbslack.Register(w, &fbslack.Activities{Client: slackapi.New(st.get("SLACK_BOT_TOKEN"), slackOpts...)})
	fbpagerduty.Register(w, &fbpagerduty.Activities{Client: pagerduty.NewClient(st.get("PAGERDUTY_TOKEN"), pdOpts...), From: st.get("PAGERDUTY_FROM")})
	evidence.Register(w, &evidence.Activities{Store: store})
	httpreq.Register(w, &httpreq.Activities{Services: services})
	// OIDC_ISSUER unset: oidc actions fail with NotConfigured rather than the worker refusing to start.
	oidc.Register(w, &oidc.Activities{Issuer: st.get("OIDC_ISSUER"), ClientID: st.get("OIDC_CLIENT_ID"), ClientSecret: st.get("OIDC_CLIENT_SECRET"), Tokens: fbvault.KVReader{Client: vc.Logical()}})
	return nil
}

// httpServices reads the services http.request may call from FIREBREAK_HTTP_SERVICES: a JSON
// list of {"name", "base_url", "headers"}. Unset means none: the allow-list is empty.
func httpServices(st *settings) ([]httpreq.Service, error) {
	raw := st.get("FIREBREAK_HTTP_SERVICES")
	if raw == "" {
		return nil, nil
	}
	var services []httpreq.Service
	if err := json.Unmarshal([]byte(raw), &services); err != nil {
		return nil, usagef(`FIREBREAK_HTTP_SERVICES: expected a JSON list like [{"name":"edge","base_url":"https://waf.internal","headers":{"Authorization":"Bearer …"}}]: %v`, err)
	}
	for i, s := range services {
		if s.Name == "" || !strings.HasPrefix(s.BaseURL, "http") {
			return nil, usagef("FIREBREAK_HTTP_SERVICES[%d]: expected a name and an http(s) base_url", i)
		}
	}
	return services, nil
}

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
			w, conn, err := startWorker(withObserver(ctx, obs), st, logger, evidenceDir, "")
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

// openEvidenceStore opens the evidence chain: S3 with Object Lock when
// FIREBREAK_EVIDENCE_S3=s3://bucket/prefix (credentials and AWS_ENDPOINT_URL_S3 from the AWS
// default chain; FIREBREAK_EVIDENCE_RETAIN, default 7 years; FIREBREAK_S3_PATH_STYLE=true for
// S3-compatible stores), else the append-only file in dir.
func openEvidenceStore(ctx context.Context, st *settings, dir string) (evidence.Store, error) {
	raw := st.get("FIREBREAK_EVIDENCE_S3")
	if raw == "" {
		v := st.get("FIREBREAK_EVIDENCE_KEY")
		if v == "" {
			return evidence.OpenFileStore(dir)
		}
		k, err := workflows.ParseDecisionKey(v) // the same encoding: base64 of an Ed25519 seed
		if err != nil {
			return nil, usagef("FIREBREAK_EVIDENCE_KEY: %v", err)
		}
		return evidence.OpenSignedFileStore(dir, k)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, usagef("FIREBREAK_EVIDENCE_S3: expected s3://bucket/prefix, found %q", raw)
	}
	var retain time.Duration
	if r := st.get("FIREBREAK_EVIDENCE_RETAIN"); r != "" {
		if retain, err = time.ParseDuration(r); err != nil || retain <= 0 {
			return nil, usagef("FIREBREAK_EVIDENCE_RETAIN: expected a duration like 61320h, found %q", r)
		}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, st.awsLoadOptions()...)
	if err != nil {
		return nil, fmt.Errorf("aws configuration for the evidence store: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, st.s3Endpoint, func(o *s3.Options) { o.UsePathStyle = st.get("FIREBREAK_S3_PATH_STYLE") == "true" })
	return evidence.OpenS3Store(ctx, client, u.Host, strings.TrimPrefix(u.Path, "/"), retain)
}

// startWorker starts the production worker. It runs only plans its own library compiles:
// the bundled playbooks and playbookDir (else playbooks.dir, FIREBREAK_PLAYBOOKS), which must
// be the front end's too.
func startWorker(ctx context.Context, st *settings, logger *slog.Logger, evidenceDir, playbookDir string) (worker.Worker, *temporalConn, error) {
	if playbookDir == "" {
		playbookDir = st.get("FIREBREAK_PLAYBOOKS")
	}
	lib, err := playbooks.LoadLibrary(playbookDir)
	if err != nil {
		return nil, nil, err
	}
	// Who approves an irreversible single action is the worker's configuration, not the
	// caller's: the worker recompiles an action plan with these roles.
	lib.SetActionApproveRoles(strings.Split(st.get("FIREBREAK_APPROVE_ROLE"), ","))
	store, err := openEvidenceStore(ctx, st, evidenceDir)
	if err != nil {
		return nil, nil, err
	}
	conn, err := dialTemporal(ctx, st, logger)
	if err != nil {
		return nil, nil, err
	}
	keys, err := workerDecisionKeys(st, logger)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	approvers, err := workerApprovers(st)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	w := worker.New(conn.Client, workflows.TaskQueue, worker.Options{WorkerStopTimeout: 30 * time.Second})
	workflows.Register(w, workflows.WithDecisionKeys(keys...), approvers, workflows.WithLibrary(lib))
	if err := registerProduction(ctx, st, w, store, logger); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := w.Start(); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("starting the worker: %w", err)
	}
	return w, conn, nil
}

// production is a connection to Temporal for a real run: TEMPORAL_ADDRESS, or else an
// embedded server with an in-process production worker for the life of the command.
type production struct {
	conn *temporalConn
	w    worker.Worker
}

func dialProduction(ctx context.Context, st *settings, logger *slog.Logger, evidenceDir, playbookDir string) (*production, error) {
	if st.get("TEMPORAL_ADDRESS") != "" {
		conn, err := dialTemporal(ctx, st, logger)
		if err != nil {
			return nil, err
		}
		return &production{conn: conn}, nil
	}
	w, conn, err := startWorker(ctx, st, logger, evidenceDir, playbookDir)
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
			// reason="…" (as README writes it) and --reason are the same thing: the reason input
			// and the trigger's reason that Slack, PagerDuty and the audit show.
			if given, ok := raw["reason"]; ok && reason != "" && given != reason {
				return usagef("reason given twice, as reason=%q and --reason %q; give it once", given, reason)
			} else if ok {
				reason = given
			}
			if reason != "" {
				raw["reason"] = reason
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
			card := drills.Scorecard{}
			var recorded bool
			stopNotices := announceDecisions(ctx, cmd.ErrOrStderr(), sess.conn, st)
			card.RunResult, recorded, err = waitRun(ctx, cmd.ErrOrStderr(), sess.conn.Runs, st, timeout, sess.conn.Embedded)
			stopNotices()
			if errors.Is(err, errStoppedWaiting) {
				// Show how far the run got, not a blank scorecard.
				if now, qerr := queryStatus(context.WithoutCancel(ctx), sess.conn.Client, st.WorkflowID, 5*time.Second); qerr == nil {
					card.RunResult = now
				}
			}
			if err != nil && !recorded { // a recorded failure says why itself: card.Error
				card.FailureCause = err.Error()
			}
			card.Elapsed = runElapsed(card.RunResult)
			card.Passed = err == nil && card.Outcome == workflows.OutcomeContained
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

// logger logs at level to w, as text, or as JSON lines when FIREBREAK_LOG_FORMAT=json (for
// log pipelines in production). The SDK's own records carry the workflow, run and activity.
func (s *settings) logger(w io.Writer, level string) (*slog.Logger, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	switch f := s.get("FIREBREAK_LOG_FORMAT"); f {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usagef("FIREBREAK_LOG_FORMAT: expected text or json, found %q", f)
	}
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
