package service

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/activities/oidc"
	fbpagerduty "github.com/firebreak-dev/firebreak/activities/pagerduty"
	fbslack "github.com/firebreak-dev/firebreak/activities/slack"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Production clients come from each ecosystem's own configuration, read by its SDK:
// Vault from VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE and VAULT_CACERT…; AWS from the default
// chain (AWS_PROFILE, roles, AWS_ENDPOINT_URL_IAM…) with adaptive retries; Slack from
// SLACK_BOT_TOKEN (SLACK_API_URL to point elsewhere); PagerDuty from PAGERDUTY_TOKEN and
// PAGERDUTY_FROM (PAGERDUTY_API_URL to point elsewhere).

// WorkerOptions are the production worker's own: where its evidence goes, which playbooks it
// compiles, and whose signed decisions it counts.
type WorkerOptions struct {
	EvidenceDir string
	// PlaybookDir adds playbooks to the bundled ones; "" means playbooks.dir (FIREBREAK_PLAYBOOKS).
	PlaybookDir string
	// Trust is the decision public keys the worker counts and the people who may decide with
	// their own keys (workflows.WithApprovers), read once connected.
	Trust func() ([]ed25519.PublicKey, workflows.Option, error)
}

// StartWorker starts the production worker on its own connection. It runs only plans its own
// library compiles: the bundled playbooks and w.PlaybookDir, which must be the front end's too.
func StartWorker(ctx context.Context, o Options, w WorkerOptions) (worker.Worker, *Conn, error) {
	st := o.Settings
	if w.PlaybookDir == "" {
		w.PlaybookDir = st.Get("FIREBREAK_PLAYBOOKS")
	}
	lib, err := playbooks.LoadLibrary(w.PlaybookDir)
	if err != nil {
		return nil, nil, err
	}
	// Who approves an irreversible single action is the worker's configuration, not the
	// caller's: the worker recompiles an action plan with these roles.
	lib.SetActionApproveRoles(strings.Split(st.Get("FIREBREAK_APPROVE_ROLE"), ","))
	store, err := OpenEvidenceStore(ctx, st, w.EvidenceDir)
	if err != nil {
		return nil, nil, err
	}
	conn, err := Dial(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	keys, approvers, err := w.Trust()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	tw := worker.New(conn.Client, workflows.TaskQueue, worker.Options{WorkerStopTimeout: 30 * time.Second})
	workflows.Register(tw, workflows.WithDecisionKeys(keys...), approvers, workflows.WithLibrary(lib))
	if err := Register(ctx, o, tw, store); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := tw.Start(); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("starting the worker: %w", err)
	}
	return tw, conn, nil
}

// Register registers every activity on w bound to the configured real endpoints.
func Register(ctx context.Context, o Options, w worker.Registry, store evidence.Store) error {
	st, logger := o.Settings, o.Logger
	vc, _, err := VaultClient(ctx, st, logger) // VAULT_TOKEN, AppRole or Kubernetes login
	if err != nil {
		return err
	}
	if vc.Token() == "" {
		logger.Warn("none of VAULT_TOKEN, VAULT_ROLE_ID/VAULT_SECRET_ID or VAULT_K8S_ROLE is set: Vault actions will be refused")
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, AWSLoadOptions(st)...)
	if err != nil {
		return fmt.Errorf("aws configuration: %w", err)
	}
	var slackOpts []slackapi.Option
	if u := st.Get("SLACK_API_URL"); u != "" {
		slackOpts = append(slackOpts, slackapi.OptionAPIURL(u))
	}
	var pdOpts []pagerduty.ClientOptions
	if u := st.Get("PAGERDUTY_API_URL"); u != "" {
		pdOpts = append(pdOpts, pagerduty.WithAPIEndpoint(u))
	}
	services, err := HTTPServices(st)
	if err != nil {
		return err
	}
	// Secrets marked firebreak-rotate: service:NAME/PATH are rotated by the same configured services.
	fbvault.Register(w, &fbvault.Activities{Client: vc.Logical(), TokenClient: fbvault.TokenClientOf(vc), Services: httpreq.Rotator{Services: services}})
	awsiam.Register(w, &awsiam.Activities{Client: iam.NewFromConfig(awsCfg, IAMEndpoint(st)), Secrets: fbvault.KVStore{Client: vc.Logical()}})
	fbslack.Register(w, &fbslack.Activities{Client: slackapi.New(st.Get("SLACK_BOT_TOKEN"), slackOpts...)})
	fbpagerduty.Register(w, &fbpagerduty.Activities{Client: pagerduty.NewClient(st.Get("PAGERDUTY_TOKEN"), pdOpts...), From: st.Get("PAGERDUTY_FROM")})
	evidence.Register(w, &evidence.Activities{Store: store})
	httpreq.Register(w, &httpreq.Activities{Services: services})
	// OIDC_ISSUER unset: oidc actions fail with NotConfigured rather than the worker refusing to start.
	oidc.Register(w, &oidc.Activities{Issuer: st.Get("OIDC_ISSUER"), ClientID: st.Get("OIDC_CLIENT_ID"), ClientSecret: st.Get("OIDC_CLIENT_SECRET"), Tokens: fbvault.KVReader{Client: vc.Logical()}})
	return nil
}

// HTTPServices reads the services http.request may call from FIREBREAK_HTTP_SERVICES: a JSON
// list of {"name", "base_url", "headers"}. Unset means none: the allow-list is empty.
func HTTPServices(st *config.Settings) ([]httpreq.Service, error) {
	raw := st.Get("FIREBREAK_HTTP_SERVICES")
	if raw == "" {
		return nil, nil
	}
	var services []httpreq.Service
	if err := json.Unmarshal([]byte(raw), &services); err != nil {
		return nil, config.Usagef(`FIREBREAK_HTTP_SERVICES: expected a JSON list like [{"name":"edge","base_url":"https://waf.internal","headers":{"Authorization":"Bearer …"}}]: %v`, err)
	}
	for i, s := range services {
		if s.Name == "" || !strings.HasPrefix(s.BaseURL, "http") {
			return nil, config.Usagef("FIREBREAK_HTTP_SERVICES[%d]: expected a name and an http(s) base_url", i)
		}
	}
	return services, nil
}

// OpenEvidenceStore opens the evidence chain: S3 with Object Lock when
// FIREBREAK_EVIDENCE_S3=s3://bucket/prefix (credentials and AWS_ENDPOINT_URL_S3 from the AWS
// default chain; FIREBREAK_EVIDENCE_RETAIN, default 7 years; FIREBREAK_S3_PATH_STYLE=true for
// S3-compatible stores), else the append-only file in dir.
func OpenEvidenceStore(ctx context.Context, st *config.Settings, dir string) (evidence.Store, error) {
	raw := st.Get("FIREBREAK_EVIDENCE_S3")
	if raw == "" {
		v := st.Get("FIREBREAK_EVIDENCE_KEY")
		if v == "" {
			return evidence.OpenFileStore(dir)
		}
		k, err := workflows.ParseDecisionKey(v) // the same encoding: base64 of an Ed25519 seed
		if err != nil {
			return nil, config.Usagef("FIREBREAK_EVIDENCE_KEY: %v", err)
		}
		return evidence.OpenSignedFileStore(dir, k)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, config.Usagef("FIREBREAK_EVIDENCE_S3: expected s3://bucket/prefix, found %q", raw)
	}
	var retain time.Duration
	if r := st.Get("FIREBREAK_EVIDENCE_RETAIN"); r != "" {
		if retain, err = time.ParseDuration(r); err != nil || retain <= 0 {
			return nil, config.Usagef("FIREBREAK_EVIDENCE_RETAIN: expected a duration like 61320h, found %q", r)
		}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, AWSLoadOptions(st)...)
	if err != nil {
		return nil, fmt.Errorf("aws configuration for the evidence store: %w", err)
	}
	s3Endpoint := func(o *s3.Options) { // aws.endpoints.s3 when AWS_ENDPOINT_URL_S3 is unset
		if ep := st.FileOnly("AWS_ENDPOINT_URL_S3"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	}
	client := s3.NewFromConfig(awsCfg, s3Endpoint, func(o *s3.Options) { o.UsePathStyle = st.Get("FIREBREAK_S3_PATH_STYLE") == "true" })
	return evidence.OpenS3Store(ctx, client, u.Host, strings.TrimPrefix(u.Path, "/"), retain)
}

// AWSLoadOptions are the AWS SDK's load options: adaptive retries, and the file's region and
// profile where the SDK's own variables do not set them.
func AWSLoadOptions(st *config.Settings) []func(*awsconfig.LoadOptions) error {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMode(aws.RetryModeAdaptive)}
	if r := st.FileOnly("AWS_REGION"); r != "" && st.Get("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, awsconfig.WithRegion(r))
	}
	if p := st.FileOnly("AWS_PROFILE"); p != "" && st.Get("AWS_DEFAULT_PROFILE") == "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p))
	}
	return opts
}

// IAMEndpoint points the IAM client at aws.endpoints.iam when AWS_ENDPOINT_URL_IAM is unset.
func IAMEndpoint(st *config.Settings) func(*iam.Options) {
	return func(o *iam.Options) {
		if ep := st.FileOnly("AWS_ENDPOINT_URL_IAM"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	}
}

// DialProduction connects for a real run: to TEMPORAL_ADDRESS when it is set (the worker is
// nil), else to an embedded server with an in-process production worker (StartWorker) that
// the caller stops before closing the connection.
func DialProduction(ctx context.Context, o Options, w WorkerOptions) (worker.Worker, *Conn, error) {
	if o.Settings.Get("TEMPORAL_ADDRESS") != "" {
		conn, err := Dial(ctx, o)
		return nil, conn, err
	}
	return StartWorker(ctx, o, w)
}

// QueueWorker is a worker to start on Queue, registering the interpreter with Options.
type QueueWorker struct {
	Queue   string
	Options []workflows.Option
}

// StartWorkers starts a worker on each queue with its activities from register; stop stops
// them in reverse order. On an error those already started are stopped.
func StartWorkers(c client.Client, register func(worker.Registry) error, qs ...QueueWorker) (stop func(), err error) {
	var ws []worker.Worker
	stop = func() {
		for i := len(ws) - 1; i >= 0; i-- {
			ws[i].Stop()
		}
	}
	for _, q := range qs {
		w := worker.New(c, q.Queue, worker.Options{})
		workflows.Register(w, q.Options...)
		if err := register(w); err != nil {
			stop()
			return nil, err
		}
		if err := w.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("starting the worker on %s: %w", q.Queue, err)
		}
		ws = append(ws, w)
	}
	return stop, nil
}
