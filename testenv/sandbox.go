package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	vaultapi "github.com/hashicorp/vault/api"
	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/activities/oidc"
	fbpagerduty "github.com/firebreak-dev/firebreak/activities/pagerduty"
	fbslack "github.com/firebreak-dev/firebreak/activities/slack"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv/edgefake"
	"github.com/firebreak-dev/firebreak/testenv/iamfake"
	"github.com/firebreak-dev/firebreak/testenv/oidcfake"
	"github.com/firebreak-dev/firebreak/testenv/pagerdutyfake"
	"github.com/firebreak-dev/firebreak/testenv/rotationfake"
	"github.com/firebreak-dev/firebreak/testenv/slackfake"
	"github.com/firebreak-dev/firebreak/testenv/vaultfake"
)

// Sandbox is the whole fictional organisation: one Vault, IAM, Slack and PagerDuty server,
// all on loopback, sharing one call Recorder.
type Sandbox struct {
	Org       *Org
	Recorder  *Recorder
	Vault     *Vault
	IAM       *IAM
	Slack     *Slack
	PagerDuty *PagerDuty
	Edge      *Edge // an HTTP API for http.request: the "edge" service
	OIDC      *OIDC // the developer portal's identity provider; portal tokens are in Vault at secret/portal/<name>
	// PaymentsAdmin rotates the Stripe key of secret/shared/stripe-api when firebreak asks
	// (firebreak-rotate: service:payments-admin/rotate/stripe).
	PaymentsAdmin *SecretService
}

// DrillChannel is the Slack channel drills report to.
const DrillChannel = "C0DRILLS"

// DrillIncident is the seeded PagerDuty incident drills report on.
const DrillIncident = "PINC001"

// NewSandbox starts every sandbox server, seeded with org (DefaultOrg when nil).
func NewSandbox(org *Org) *Sandbox {
	if org == nil {
		org = DefaultOrg()
	}
	rec := &Recorder{}
	s := &Sandbox{
		Org: org, Recorder: rec,
		Vault: vaultfake.New(org, rec), IAM: iamfake.New(org, rec), Slack: slackfake.New(org, rec), PagerDuty: pagerdutyfake.New(org, rec), Edge: edgefake.New(rec),
		OIDC: oidcfake.New(org, rec),
	}
	stripe := ""
	for _, sec := range org.Secrets {
		if sec.Mount == "secret" && sec.Path == "shared/stripe-api" {
			stripe = sec.Data["api_key"]
		}
	}
	s.PaymentsAdmin = rotationfake.New(rec, stripe)
	for _, d := range org.Developers {
		s.Vault.PutSecret(PortalTokenMount, PortalTokenPath(d.Name), map[string]string{PortalTokenField: PortalToken(d.Name)})
	}
	return s
}

// SetLatency adds d to every call to every sandbox service: Vault, IAM, Slack, PagerDuty and
// the rest (they share one Recorder). Zero removes it.
func (s *Sandbox) SetLatency(d time.Duration) { s.Recorder.SetLatency(d) }

// Close stops every server.
func (s *Sandbox) Close() {
	s.Vault.Close()
	s.IAM.Close()
	s.Slack.Close()
	s.PagerDuty.Close()
	s.Edge.Close()
	s.OIDC.Close()
	s.PaymentsAdmin.Close()
}

// Endpoints lists the base URLs of the sandbox's servers.
func (s *Sandbox) Endpoints() map[string]string {
	return map[string]string{"vault": s.Vault.URL(), "iam": s.IAM.URL(), "slack": s.Slack.URL(), "pagerduty": s.PagerDuty.URL(), "edge": s.Edge.URL(), "oidc": s.OIDC.URL(), SecretServiceName: s.PaymentsAdmin.URL()}
}

// sandboxHTTP is an HTTP client that can only reach loopback: whatever a client is configured
// with, a drill's request cannot leave the machine.
var sandboxHTTP = &http.Client{Transport: loopbackOnly{pooledTransport()}}

// pooledTransport keeps enough idle connections per sandbox server for an inventory's
// concurrent accessor lookups (the default transport keeps two).
func pooledTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = fbvault.DefaultLookupConcurrency
	return tr
}

type loopbackOnly struct{ next http.RoundTripper }

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	if host != "127.0.0.1" && host != "localhost" && host != "::1" {
		return nil, fmt.Errorf("sandbox: refusing request to %s: drills reach only the loopback sandbox", host)
	}
	return l.next.RoundTrip(r)
}

// SlackClient is a slack-go client of the sandbox's Slack, as firebreak's bot.
func (s *Sandbox) SlackClient() *slackapi.Client {
	return slackapi.New(s.Slack.BotToken(), slackapi.OptionAPIURL(s.Slack.URL()+"/api/"), slackapi.OptionHTTPClient(sandboxHTTP))
}

// WaitOnVaultRateLimits makes a Vault client wait out a rate-limit quota as a production
// client built from vaultapi.DefaultConfig does: an HTTP 429 is retried, up to the SDK's
// default two more times, after the Retry-After it carries (DefaultConfig's backoff,
// retryablehttp.RateLimitLinearJitterBackoff, reads it). Unlike the SDK's default policy it
// retries nothing else, so a sandbox fault (Vault down, a 5xx) reaches the activity and
// Temporal's retry policy at once, as drills and fault tests expect.
func WaitOnVaultRateLimits(cfg *vaultapi.Config) {
	cfg.MaxRetries = vaultapi.DefaultConfig().MaxRetries
	cfg.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return err == nil && resp != nil && resp.StatusCode == http.StatusTooManyRequests, nil
	}
}

// Register registers every activity on w, each bound to a client of the vendor's real SDK
// pointed at this sandbox. This is the only difference between a drill worker and a
// production worker.
func (s *Sandbox) Register(w worker.Registry, store evidence.Store) error {
	vcfg := vaultapi.DefaultConfig()
	vcfg.Address = s.Vault.URL()
	vcfg.HttpClient = sandboxHTTP
	WaitOnVaultRateLimits(vcfg)
	vc, err := vaultapi.NewClient(vcfg)
	if err != nil {
		return fmt.Errorf("sandbox vault client: %w", err)
	}
	vc.SetToken(s.Vault.RootToken())
	vc.SetNamespace("")

	ic := iam.New(iam.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(s.IAM.AccessKeyID(), s.IAM.SecretAccessKey(), ""),
		BaseEndpoint: aws.String(s.IAM.URL()),
		HTTPClient:   sandboxHTTP,
	})
	sc := s.SlackClient()
	pc := pagerduty.NewClient(s.PagerDuty.Token(), pagerduty.WithAPIEndpoint(s.PagerDuty.URL()))
	pc.HTTPClient = sandboxHTTP

	fbvault.Register(w, &fbvault.Activities{Client: vc.Logical(), NewSecret: canarySecret, Services: httpreq.Rotator{Client: sandboxHTTP, Services: s.HTTPServices()}})
	awsiam.Register(w, &awsiam.Activities{Client: ic, Secrets: fbvault.KVStore{Client: vc.Logical()}})
	fbslack.Register(w, &fbslack.Activities{Client: sc})
	fbpagerduty.Register(w, &fbpagerduty.Activities{Client: pc, From: PagerDutyBotEmail})
	evidence.Register(w, &evidence.Activities{Store: store})
	httpreq.Register(w, &httpreq.Activities{Client: sandboxHTTP, Services: s.HTTPServices()})
	oidc.Register(w, &oidc.Activities{Issuer: s.OIDC.URL(), ClientID: OIDCClientID, ClientSecret: s.OIDC.ClientSecret(), HTTP: sandboxHTTP, Tokens: fbvault.KVReader{Client: vc.Logical()}})
	return nil
}

// HTTPServices are the sandbox's HTTP services as a worker's configuration lists them
// (http_services, FIREBREAK_HTTP_SERVICES): the edge API and the rotation service.
func (s *Sandbox) HTTPServices() []httpreq.Service {
	return []httpreq.Service{
		{Name: "edge", BaseURL: s.Edge.URL(), Headers: map[string]string{"Authorization": "Bearer " + s.Edge.Token()}},
		{Name: SecretServiceName, BaseURL: s.PaymentsAdmin.URL(), Headers: map[string]string{"Authorization": "Bearer " + s.PaymentsAdmin.Token()}},
	}
}

// HTTPServicesJSON is HTTPServices as the FIREBREAK_HTTP_SERVICES variable holds them.
func (s *Sandbox) HTTPServicesJSON() string {
	b, _ := json.Marshal(s.HTTPServices())
	return string(b)
}

// canarySecret mints rotated values that carry the canary marker, so a leak of a value the
// drill itself created is caught as surely as a leak of a seeded one: the canary, then
// characters of the secret's format up to its length (at least 16 of them).
func canarySecret(path, field string, format fbvault.Format) (string, error) {
	rest := format
	rest.Length = max(format.Length-len(Canary)-1, 16)
	v, err := rest.Generate()
	if err != nil {
		return "", err
	}
	return Canary + "-" + v, nil
}
