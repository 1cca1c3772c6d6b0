// Package config is firebreak.yaml: the one configuration file of the firebreak binary
// (Temporal, Vault, AWS, Slack, PagerDuty, OIDC, the evidence store, HTTP services, the
// payload codec, logging, listen addresses, the chatops directory, roles and trigger rules).
//
// The Go types below are the single source of truth: strict decoding, validation, the
// environment variable that overrides each key, the JSON Schema (JSONSchema) and the key
// reference in docs/configuration.md (Markdown) are all derived from their struct tags:
//
//	yaml:"name"       the key in the file
//	env:"NAME"        the environment variable that overrides it (an empty value counts as unset)
//	doc:"…"           its description
//	default:"…"       what applies when neither the file nor the environment sets it
//	enum:"a|b"        the values it accepts
//	format:"url"      url, duration, hostport, s3url or path
//
// Fields of type Secret hold a reference, never a secret: vault:MOUNT/PATH#FIELD (a KV v2
// secret read at startup) or env:NAME. A literal is still accepted so that chatops files
// written before firebreak.yaml keep working, but it is reported as a warning by the loader,
// `firebreak config validate` (an error with --strict) and `firebreak doctor`, and the JSON
// Schema rejects it.
//
// Only cmd/firebreak imports this package; it reads no environment itself (callers pass a
// lookup function) and talks to Vault only through the VaultKV function it is given.
package config

import (
	"github.com/firebreak-dev/firebreak/chatops"
)

// Config is the content of firebreak.yaml. Its zero value is valid and configures nothing:
// every setting then comes from the environment, as it did before the file existed.
type Config struct {
	Temporal     Temporal      `yaml:"temporal,omitempty" doc:"The Temporal cluster or Temporal Cloud namespace that workers, the front end and the tools connect to."`
	Vault        Vault         `yaml:"vault,omitempty" doc:"The Vault that playbooks act on and that vault: references are read from."`
	AWS          AWS           `yaml:"aws,omitempty" doc:"AWS, for IAM actions and the S3 evidence store. Credentials always come from the SDK's default chain (instance role, AWS_PROFILE, AWS_ACCESS_KEY_ID…), never from this file."`
	Slack        Slack         `yaml:"slack,omitempty" doc:"The Slack app: reports, slash commands and buttons."`
	PagerDuty    PagerDuty     `yaml:"pagerduty,omitempty" doc:"PagerDuty: notes on incidents, and incidents that start playbooks."`
	OIDC         OIDC          `yaml:"oidc,omitempty" doc:"The OpenID Connect provider whose tokens the oidc.* actions revoke. Unset: those actions are off."`
	Evidence     Evidence      `yaml:"evidence,omitempty" doc:"Where evidence snapshots are chained: a local append-only file, or S3 with Object Lock."`
	HTTPServices []HTTPService `yaml:"http_services,omitempty" env:"FIREBREAK_HTTP_SERVICES" doc:"The services the http.request action may call (its allow-list), and that rotate secrets marked firebreak-rotate: service:NAME/PATH. The environment variable holds the same list as JSON: [{\"name\":…,\"base_url\":…,\"headers\":{…}}]."`
	Codec        Codec         `yaml:"codec,omitempty" doc:"The key that encrypts every workflow payload before Temporal sees it. Everything attached to one namespace must share it."`
	Decision     Decision      `yaml:"decision,omitempty" doc:"The key that signs approvals, denials and manual-step answers. The front end holds the private key; workers trust its public half."`
	Playbooks    Playbooks     `yaml:"playbooks,omitempty" doc:"Playbooks beside the bundled library."`
	Logging      Logging       `yaml:"logging,omitempty" doc:"Logs on stderr."`
	Serve        Serve         `yaml:"serve,omitempty" doc:"The HTTP front end (firebreak serve)."`
	Metrics      Metrics       `yaml:"metrics,omitempty" doc:"Prometheus metrics."`
	Audit        Audit         `yaml:"audit,omitempty" doc:"Audit exports."`
	StateDir     string        `yaml:"state_dir,omitempty" env:"FIREBREAK_STATE_DIR" format:"path" default:"$XDG_STATE_HOME/firebreak or ~/.local/state/firebreak" doc:"Local state: the codec key file of firebreak dev, the audit signing key, the default evidence directory."`

	// The chatops keys stay at the top level, where chatops config files (FIREBREAK_CONFIG)
	// have always had them, so those files are valid firebreak.yaml files.

	Directory         []chatops.Person               `yaml:"directory,omitempty" doc:"People: the subject playbooks and slash commands name, where each is found in Vault (alias, entity or entity id) and AWS (IAM user, or none), and their Slack and PagerDuty ids. A person without an entry, or without vault/aws, is found by subject = Vault entity name = IAM user name."`
	Roles             map[string]chatops.RoleMembers `yaml:"roles,omitempty" doc:"Role name → the Slack users (U…) and user groups (S…) that hold it. Playbooks name the roles that may start and approve them."`
	DefaultStartRoles []string                       `yaml:"default_start_roles,omitempty" doc:"Roles that may start a playbook that names none." default:"[responder]"`
	TemporalUIURL     string                         `yaml:"temporal_ui_url,omitempty" env:"FIREBREAK_TEMPORAL_UI_URL" format:"url" doc:"Base of links to runs in the Temporal Web UI, e.g. https://temporal.example.com/namespaces/default."`

	file    string            // where it was read from
	pos     map[string]pos    // key path → position of its value in the file
	fromEnv map[string]string // key path → the environment variable that set it (Effective)
}

// Temporal is the Temporal connection.
type Temporal struct {
	Address   string      `yaml:"address,omitempty" env:"TEMPORAL_ADDRESS" format:"hostport" doc:"host:port of the Temporal frontend. Unset: commands that need Temporal start an embedded server; worker and serve refuse to start."`
	Namespace string      `yaml:"namespace,omitempty" env:"TEMPORAL_NAMESPACE" default:"default" doc:"Temporal namespace."`
	TLS       TemporalTLS `yaml:"tls,omitempty" doc:"TLS to the frontend (mTLS for a self-hosted cluster or Temporal Cloud)."`
	APIKey    Secret      `yaml:"api_key,omitempty" env:"TEMPORAL_API_KEY" doc:"Temporal Cloud API key (implies TLS)."`
}

// TemporalTLS is TLS to the Temporal frontend.
type TemporalTLS struct {
	Enabled    bool   `yaml:"enabled,omitempty" env:"TEMPORAL_TLS" default:"false" doc:"Use TLS with the system roots even without a certificate or CA file."`
	Cert       string `yaml:"cert,omitempty" env:"TEMPORAL_TLS_CERT" format:"path" doc:"PEM file of the mTLS client certificate (with key)."`
	Key        string `yaml:"key,omitempty" env:"TEMPORAL_TLS_KEY" format:"path" doc:"PEM file of the mTLS client key (with cert)."`
	CA         string `yaml:"ca,omitempty" env:"TEMPORAL_TLS_CA" format:"path" doc:"PEM bundle of CAs to trust instead of the system roots."`
	ServerName string `yaml:"server_name,omitempty" env:"TEMPORAL_TLS_SERVER_NAME" doc:"Server name to verify, when it differs from the address's host."`
}

// Vault is the Vault server and how firebreak logs in to it.
type Vault struct {
	Address    string          `yaml:"address,omitempty" env:"VAULT_ADDR" format:"url" default:"https://127.0.0.1:8200" doc:"Vault's address (the Vault SDK's own variable)."`
	Namespace  string          `yaml:"namespace,omitempty" env:"VAULT_NAMESPACE" doc:"Vault Enterprise namespace."`
	CACert     string          `yaml:"ca_cert,omitempty" env:"VAULT_CACERT" format:"path" doc:"PEM file of the CA that signed Vault's certificate."`
	Auth       string          `yaml:"auth,omitempty" env:"FIREBREAK_VAULT_AUTH" enum:"token|approle|kubernetes" doc:"The login method firebreak must use; checked against the settings below (token: VAULT_TOKEN in the environment). Unset: the first that is configured of token, approle, kubernetes."`
	AppRole    VaultAppRole    `yaml:"approle,omitempty" doc:"AppRole login."`
	Kubernetes VaultKubernetes `yaml:"kubernetes,omitempty" doc:"Kubernetes service-account login."`
}

// VaultAppRole is an AppRole login.
type VaultAppRole struct {
	RoleID   string `yaml:"role_id,omitempty" env:"VAULT_ROLE_ID" doc:"AppRole role id."`
	SecretID Secret `yaml:"secret_id,omitempty" env:"VAULT_SECRET_ID" doc:"AppRole secret id: env:NAME only (it cannot come from the Vault it logs in to)."`
	Mount    string `yaml:"mount,omitempty" env:"VAULT_APPROLE_MOUNT" default:"approle" doc:"Mount path of the AppRole auth method."`
}

// VaultKubernetes is a Kubernetes service-account login.
type VaultKubernetes struct {
	Role      string `yaml:"role,omitempty" env:"VAULT_K8S_ROLE" doc:"Vault role bound to the pod's service account."`
	Mount     string `yaml:"mount,omitempty" env:"VAULT_K8S_MOUNT" default:"kubernetes" doc:"Mount path of the Kubernetes auth method."`
	TokenPath string `yaml:"token_path,omitempty" env:"VAULT_K8S_TOKEN_PATH" format:"path" default:"/var/run/secrets/kubernetes.io/serviceaccount/token" doc:"The projected service-account token, re-read at each login."`
}

// AWS is where the AWS SDK's default chain is pointed; credentials are never in the file.
type AWS struct {
	Region    string       `yaml:"region,omitempty" env:"AWS_REGION" doc:"AWS region (the SDK's own variable)."`
	Profile   string       `yaml:"profile,omitempty" env:"AWS_PROFILE" doc:"Shared-config profile (the SDK's own variable)."`
	Endpoints AWSEndpoints `yaml:"endpoints,omitempty" doc:"Service endpoints, for an emulator or a VPC endpoint."`
	ProbeUser string       `yaml:"probe_user,omitempty" env:"FIREBREAK_AWS_PROBE_USER" doc:"An IAM user firebreak may read: firebreak doctor proves the credentials with iam:GetUser on it."`
}

// AWSEndpoints are per-service endpoint overrides.
type AWSEndpoints struct {
	IAM string `yaml:"iam,omitempty" env:"AWS_ENDPOINT_URL_IAM" format:"url" doc:"IAM endpoint (the SDK's own variable)."`
	S3  string `yaml:"s3,omitempty" env:"AWS_ENDPOINT_URL_S3" format:"url" doc:"S3 endpoint of the evidence store (the SDK's own variable)."`
}

// Slack is the Slack app.
type Slack struct {
	SigningSecret Secret `yaml:"signing_secret,omitempty" env:"SLACK_SIGNING_SECRET" doc:"Verifies every Slack request (firebreak serve). Without it every Slack request is refused."`
	BotToken      Secret `yaml:"bot_token,omitempty" env:"SLACK_BOT_TOKEN" doc:"Bot token (xoxb-…): reports, user lookups."`
	AppToken      Secret `yaml:"app_token,omitempty" env:"SLACK_APP_TOKEN" doc:"App-level token (xapp-…) for serve --socket-mode."`
	APIURL        string `yaml:"api_url,omitempty" env:"SLACK_API_URL" format:"url" default:"https://slack.com/api/" doc:"Slack Web API base URL."`
}

// PagerDuty is the PagerDuty account.
type PagerDuty struct {
	Token          Secret                `yaml:"token,omitempty" env:"PAGERDUTY_TOKEN" doc:"REST API token: notes, acknowledge, resolve, escalate, on-call lookups."`
	From           string                `yaml:"from,omitempty" env:"PAGERDUTY_FROM" doc:"Email of the PagerDuty user firebreak acts as (required by the REST API for changes)."`
	APIURL         string                `yaml:"api_url,omitempty" env:"PAGERDUTY_API_URL" format:"url" default:"https://api.pagerduty.com" doc:"REST API base URL."`
	WebhookSecret  Secret                `yaml:"webhook_secret,omitempty" env:"PAGERDUTY_WEBHOOK_SECRET" doc:"Verifies webhook v3 signatures (firebreak serve). Without it every webhook is refused."`
	Rules          []chatops.TriggerRule `yaml:"rules,omitempty" doc:"Which triggered incidents start which playbook; the first match wins, before the playbooks' own triggers.pagerduty."`
	ConfirmChannel string                `yaml:"confirm_channel,omitempty" env:"FIREBREAK_PAGERDUTY_CONFIRM_CHANNEL" doc:"Slack channel where a run whose inputs come from an incident's free text (title, description) waits for a responder to confirm it. Unset: such runs never start."`
}

// OIDC is the identity provider of the oidc.* actions.
type OIDC struct {
	Issuer       string `yaml:"issuer,omitempty" env:"OIDC_ISSUER" format:"url" doc:"Issuer URL; its discovery document names the revocation and introspection endpoints."`
	ClientID     string `yaml:"client_id,omitempty" env:"OIDC_CLIENT_ID" doc:"Client id firebreak authenticates as."`
	ClientSecret Secret `yaml:"client_secret,omitempty" env:"OIDC_CLIENT_SECRET" doc:"Client secret."`
}

// Evidence is the evidence store.
type Evidence struct {
	Dir string     `yaml:"dir,omitempty" env:"FIREBREAK_EVIDENCE_DIR" format:"path" default:"STATE_DIR/evidence" doc:"Directory of the append-only evidence file (--evidence-dir of worker, run and action run), used when s3.url is unset."`
	S3  EvidenceS3 `yaml:"s3,omitempty" doc:"S3 with Object Lock in COMPLIANCE mode; credentials from the AWS default chain."`
	// HeadKey signs the evidence chain's head after every snapshot.
	HeadKey Secret `yaml:"head_key,omitempty" env:"FIREBREAK_EVIDENCE_KEY" doc:"Base64 of the 32-byte Ed25519 seed that signs the evidence file's head (count and digest) after every snapshot, recorded in the run's history and in evidence.head.json; audit verify --evidence-key checks it. Held by workers. Unset: heads are recorded unsigned."`
}

// EvidenceS3 is the S3 evidence store.
type EvidenceS3 struct {
	URL       string `yaml:"url,omitempty" env:"FIREBREAK_EVIDENCE_S3" format:"s3url" doc:"s3://bucket/prefix of a bucket with Object Lock enabled."`
	Retain    string `yaml:"retain,omitempty" env:"FIREBREAK_EVIDENCE_RETAIN" format:"duration" default:"61320h" doc:"Object Lock retention of each record (default 7 years)."`
	PathStyle bool   `yaml:"path_style,omitempty" env:"FIREBREAK_S3_PATH_STYLE" default:"false" doc:"Path-style addressing, for S3-compatible stores."`
}

// HTTPService is one service the http.request action may call.
type HTTPService struct {
	Name          string            `yaml:"name" required:"true" doc:"The name playbooks use (with: {service: NAME})."`
	BaseURL       string            `yaml:"base_url" required:"true" format:"url" doc:"scheme://host[:port][/prefix]; requests never leave it."`
	Headers       map[string]string `yaml:"headers,omitempty" doc:"Headers sent with every request that are not secret."`
	SecretHeaders map[string]Secret `yaml:"secret_headers,omitempty" doc:"Headers that are secret (Authorization…), as references; never logged."`
}

// Codec is the payload encryption key.
type Codec struct {
	Key         Secret      `yaml:"key,omitempty" env:"FIREBREAK_CODEC_KEY" doc:"Base64 of 32 random bytes (AES-256-GCM). Unset: an embedded server gets a key for the process; a shared server needs the codec.key file firebreak dev made."`
	KeyID       string      `yaml:"key_id,omitempty" env:"FIREBREAK_CODEC_KEY_ID" default:"k1" doc:"Id recorded with each payload, so keys can be rotated."`
	ServerToken Secret      `yaml:"server_token,omitempty" env:"FIREBREAK_CODEC_SERVER_TOKEN" doc:"Static bearer token for scripts that call firebreak codec-server (the temporal CLI's --codec-auth). People use the Web UI with their own sign-in (codec.server.oidc_issuer or codec.server.proxy_user_header)."`
	Server      CodecServer `yaml:"server,omitempty" doc:"firebreak codec-server: who may read decrypted payloads in the Temporal Web UI."`
}

// CodecServer says who may read decrypted payloads through firebreak codec-server.
type CodecServer struct {
	Listen          string `yaml:"listen,omitempty" env:"FIREBREAK_CODEC_SERVER_LISTEN" format:"hostport" default:"127.0.0.1:8888" doc:"Listen address (--listen). Serve it behind TLS: the Web UI passes access tokens only to an https codec endpoint."`
	Namespaces      string `yaml:"namespaces,omitempty" env:"FIREBREAK_CODEC_SERVER_NAMESPACES" doc:"Comma-separated Temporal namespaces whose payloads it decodes; a request names its namespace in X-Namespace. Unset: temporal.namespace."`
	CORSOrigins     string `yaml:"cors_origins,omitempty" env:"FIREBREAK_CODEC_SERVER_CORS_ORIGINS" doc:"Comma-separated origins of the Temporal Web UI (e.g. https://temporal.example.com) allowed to call it from a browser."`
	OIDCIssuer      string `yaml:"oidc_issuer,omitempty" env:"FIREBREAK_CODEC_SERVER_OIDC_ISSUER" format:"url" doc:"Issuer of the access tokens the Web UI passes (its codec setting \"pass access token\"); tokens are checked for issuer, audience, expiry and signature against the issuer's JWKS. They must be JWTs."`
	OIDCAudience    string `yaml:"oidc_audience,omitempty" env:"FIREBREAK_CODEC_SERVER_OIDC_AUDIENCE" doc:"Audience the access tokens must carry (the Web UI's client id or API audience). Required with oidc_issuer."`
	GroupsClaim     string `yaml:"groups_claim,omitempty" env:"FIREBREAK_CODEC_SERVER_GROUPS_CLAIM" default:"groups" doc:"Claim of the access token that lists the user's groups."`
	AllowedGroups   string `yaml:"allowed_groups,omitempty" env:"FIREBREAK_CODEC_SERVER_ALLOWED_GROUPS" doc:"Comma-separated groups whose members may decode (OIDC or proxy users)."`
	AllowedEmails   string `yaml:"allowed_emails,omitempty" env:"FIREBREAK_CODEC_SERVER_ALLOWED_EMAILS" doc:"Comma-separated emails of people who may decode whatever their groups (OIDC or proxy users)."`
	ProxyUserHeader string `yaml:"proxy_user_header,omitempty" env:"FIREBREAK_CODEC_SERVER_PROXY_USER_HEADER" doc:"Trust an authenticating proxy (oauth2-proxy…) in front of the server: the header carrying the signed-in user's email, e.g. X-Forwarded-Email. The Web UI's \"include cross-origin credentials\" sends the proxy's cookie."`
	ProxyGroups     string `yaml:"proxy_groups_header,omitempty" env:"FIREBREAK_CODEC_SERVER_PROXY_GROUPS_HEADER" doc:"The proxy's header with the user's groups, comma-separated, e.g. X-Forwarded-Groups."`
	ProxyTrusted    string `yaml:"proxy_trusted,omitempty" env:"FIREBREAK_CODEC_SERVER_PROXY_TRUSTED" doc:"Comma-separated addresses or CIDRs of the proxy; identity headers from anywhere else are ignored. Unset: loopback only."`
	AllowEncode     bool   `yaml:"allow_encode,omitempty" env:"FIREBREAK_CODEC_SERVER_ALLOW_ENCODE" default:"false" doc:"Serve /encode (--allow-encode). Off: nobody can use the server to make ciphertext that workers would accept."`
}

// Decision is the decision key: firebreak serve (and people deciding with firebreak approve)
// hold Key; workers hold only PublicKeys.
type Decision struct {
	Key        Secret `yaml:"key,omitempty" env:"FIREBREAK_DECISION_KEY" doc:"Base64 of the 32-byte Ed25519 seed that signs decisions. Only firebreak serve and the people who decide with firebreak approve hold it, never workers. Unset: firebreak dev uses decision.key in the state dir, created on first use; serve signs nothing."`
	PublicKeys string `yaml:"public_keys,omitempty" env:"FIREBREAK_DECISION_PUBLIC_KEYS" doc:"Comma-separated Ed25519 public keys (base64 of 32 bytes; the public halves of the decision keys) whose signed decisions workers count. Unset: a worker counts no decision."`
	Approvers  string `yaml:"approvers,omitempty" env:"FIREBREAK_DECISION_APPROVERS" doc:"People who decide with firebreak approve and their own key, on the workers: entries NAME=PUBLICKEY:ROLE+ROLE separated by semicolons. A decision signed with one counts only as NAME with those roles. Unset: only the decision keys decide."`
	// ApproverKey is a person's own key, for firebreak approve.
	ApproverKey Secret `yaml:"approver_key,omitempty" env:"FIREBREAK_APPROVER_KEY" doc:"Base64 of the 32-byte Ed25519 seed of your own approver key: firebreak approve signs with it, as you only (its public half is in the workers' decision.approvers). Unset: firebreak approve uses the decision key."`
}

// Playbooks are extra playbooks.
type Playbooks struct {
	Dir string `yaml:"dir,omitempty" env:"FIREBREAK_PLAYBOOKS" format:"path" doc:"Directory of extra playbooks (*.yaml) that override bundled ones of the same name (--playbooks of serve, run and drill)."`
}

// Logging is how firebreak logs.
type Logging struct {
	Format string `yaml:"format,omitempty" env:"FIREBREAK_LOG_FORMAT" enum:"text|json" default:"text" doc:"text, or JSON lines for log pipelines."`
	Level  string `yaml:"level,omitempty" env:"FIREBREAK_LOG_LEVEL" enum:"debug|info|warn|error" default:"info" doc:"Level of worker, serve and dev (--log-level); other commands keep their own default."`
}

// Serve is the HTTP front end.
type Serve struct {
	Listen string `yaml:"listen,omitempty" env:"FIREBREAK_LISTEN" format:"hostport" default:"127.0.0.1:8080" doc:"Listen address of firebreak serve (--listen)."`
}

// Metrics is the Prometheus endpoint.
type Metrics struct {
	Listen string `yaml:"listen,omitempty" env:"FIREBREAK_METRICS_LISTEN" format:"hostport" doc:"Listen address of a separate /metrics endpoint for workers. Unset: serve and dev expose /metrics on their own listener."`
}

// Audit is audit export settings.
type Audit struct {
	KeyID string `yaml:"key_id,omitempty" env:"FIREBREAK_AUDIT_KEY_ID" doc:"Id (fingerprint) of the audit signing key audit verify trusts (--key-id)."`
	// EvidenceKey is the public half of evidence.head_key.
	EvidenceKey string `yaml:"evidence_key,omitempty" env:"FIREBREAK_EVIDENCE_PUBLIC_KEY" doc:"Base64 Ed25519 public key of the workers' evidence key (evidence.head_key): audit verify --evidence requires the evidence heads to be signed by it (--evidence-key)."`
}
