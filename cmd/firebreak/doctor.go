package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	vaultapi "github.com/hashicorp/vault/api"
	slackapi "github.com/slack-go/slack"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// Statuses of a doctor check. Only failed makes the command exit 1.
const (
	checkOK         = "ok"
	checkFailed     = "failed"
	checkWarning    = "warning"    // works, but should be fixed (a literal secret in the file)
	checkUnverified = "unverified" // configured, but there is no harmless call that proves it works
	checkSkipped    = "skipped"
)

// DoctorCheck is one finding of `firebreak doctor`.
type DoctorCheck struct {
	Integration string `json:"integration"`
	Check       string `json:"check"`
	Status      string `json:"status"`
	Detail      string `json:"detail"`
}

// DoctorReport is the whole of `firebreak doctor --json`.
type DoctorReport struct {
	Passed bool          `json:"passed"`
	Checks []DoctorCheck `json:"checks"`
}

// vaultNeed is a Vault path firebreak's token must reach with capabilities. Path patterns
// of deploy/vault-policy.hcl are probed at a concrete path they cover (a test keeps this
// table and the policy file in step).
type vaultNeed struct {
	Pattern      string   // as written in deploy/vault-policy.hcl
	Probe        string   // a concrete path the pattern covers
	Capabilities []string // sorted
}

var vaultNeeds = []vaultNeed{
	{"auth/token/accessors", "auth/token/accessors", []string{"list", "sudo"}},
	{"auth/token/lookup-accessor", "auth/token/lookup-accessor", []string{"update"}},
	{"auth/token/revoke-accessor", "auth/token/revoke-accessor", []string{"update"}},
	{"identity/entity/id/*", "identity/entity/id/firebreak-doctor", []string{"read", "update"}},
	{"identity/entity/name/*", "identity/entity/name/firebreak-doctor", []string{"read"}},
	{"secret/data/*", "secret/data/shared/firebreak-doctor", []string{"create", "read", "update"}},
	{"secret/metadata/*", "secret/metadata/shared/firebreak-doctor", []string{"list", "read", "update"}},
	{"sys/auth", "sys/auth", []string{"read"}},
	{"identity/lookup/entity", "identity/lookup/entity", []string{"update"}},
	{"sys/mounts", "sys/mounts", []string{"read"}},
	{"sys/capabilities-accessor", "sys/capabilities-accessor", []string{"update"}},
	{"auth/token/create/firebreak-probe", "auth/token/create/firebreak-probe", []string{"update"}},
	{"identity/entity-alias", "identity/entity-alias", []string{"update"}},
	{"identity/entity-alias/id/*", "identity/entity-alias/id/firebreak-doctor", []string{"delete"}},
	{"auth/+/users/*", "auth/userpass/users/firebreak-doctor", []string{"read"}},
	{"secret/metadata", "secret/metadata", []string{"list"}},
	{"sys/leases/revoke-prefix/*", "sys/leases/revoke-prefix/database/creds/firebreak-doctor", []string{"sudo", "update"}},
	{"identity/mfa/method/totp/admin-destroy", "identity/mfa/method/totp/admin-destroy", []string{"update"}},
	{"database/static-roles/*", "database/static-roles/firebreak-doctor", []string{"read"}},
	{"database/rotate-role/*", "database/rotate-role/firebreak-doctor", []string{"update"}},
	{"database/static-creds/*", "database/static-creds/firebreak-doctor", []string{"read"}},
}

func newDoctorCmd() *cobra.Command {
	var (
		asJSON  bool
		skip    []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that every integration is reachable and permitted, from the worker's configuration",
		Long: `Checks each integration with the same configuration the worker uses and says what is reachable
and permitted:

  config     the configuration file (--config or FIREBREAK_CONFIG) decodes and validates,
             and every secret reference in it resolves (vault: references are read)
  vault      login (VAULT_TOKEN, AppRole or Kubernetes), token lookup-self, and
             sys/capabilities-self on every path of deploy/vault-policy.hcl
  aws        credentials from the default chain; iam:GetUser on FIREBREAK_AWS_PROBE_USER
             (without a probe user the credentials are "unverified": IAM has no harmless
             call that proves them)
  slack      auth.test with SLACK_BOT_TOKEN
  pagerduty  a harmless GET (on-calls) with PAGERDUTY_TOKEN; PAGERDUTY_FROM is set
  temporal   health check of TEMPORAL_ADDRESS (skipped when unset: commands then start an
             embedded server); the payload codec key loads

Exit 0 when nothing failed, 1 when a check failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range skip {
				if !slices.Contains([]string{"config", "vault", "aws", "slack", "pagerduty", "temporal", "oidc", "evidence"}, s) {
					return usagef("--skip %q: expected config, vault, aws, slack, pagerduty, temporal, oidc or evidence", s)
				}
			}
			ctx := contextOf(cmd)
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			rep := DoctorReport{Passed: true}
			st := envSettings() // the file's too, once its check has loaded it
			if !slices.Contains(skip, "config") {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				var checks []DoctorCheck
				checks, st = doctorConfig(cctx, configPath(cmd), logger)
				rep.Checks = append(rep.Checks, checks...)
				cancel()
			}
			for _, c := range []struct {
				name string
				run  func(context.Context, *settings, *slog.Logger) []DoctorCheck
			}{
				{"vault", doctorVault}, {"aws", doctorAWS}, {"slack", doctorSlack},
				{"pagerduty", doctorPagerDuty}, {"temporal", doctorTemporal},
				{"oidc", doctorOIDC}, {"evidence", doctorEvidence},
			} {
				if slices.Contains(skip, c.name) {
					rep.Checks = append(rep.Checks, DoctorCheck{c.name, "all", checkSkipped, "--skip " + c.name})
					continue
				}
				cctx, cancel := context.WithTimeout(ctx, timeout)
				rep.Checks = append(rep.Checks, c.run(cctx, st, logger)...)
				cancel()
			}
			for _, c := range rep.Checks {
				if c.Status == checkFailed {
					rep.Passed = false
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSONOut(out, rep); err != nil {
					return err
				}
			} else {
				for _, c := range rep.Checks {
					fmt.Fprintf(out, "%-10s %-10s %-14s %s\n", strings.ToUpper(c.Status), c.Integration, c.Check, c.Detail)
				}
			}
			if !rep.Passed {
				return errCheckFailed
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as JSON")
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "integrations not to check (config, vault, aws, slack, pagerduty, temporal, oidc, evidence)")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "time allowed for each integration")
	return cmd
}

func doctorFail(integration, check, format string, args ...any) DoctorCheck {
	return DoctorCheck{integration, check, checkFailed, fmt.Sprintf(format, args...)}
}

func doctorVault(ctx context.Context, st *settings, logger *slog.Logger) []DoctorCheck {
	// The login's renewal stops with ctx: the doctor only needs the token for a moment.
	c, method, err := vaultClient(ctx, st, logger)
	if err != nil {
		return []DoctorCheck{doctorFail("vault", "login", "%v", err)}
	}
	if method == vaultAuthNone {
		return []DoctorCheck{doctorFail("vault", "login", "no credential: set VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_K8S_ROLE")}
	}
	out := []DoctorCheck{}
	self, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return append(out, doctorFail("vault", "token", "token lookup-self at %s (login %s): %s", c.Address(), method, vaultErr(err)))
	}
	name, _ := self.Data["display_name"].(string)
	pols, _ := self.TokenPolicies()
	ttl, _ := self.TokenTTL()
	ttlText := "no expiry"
	if ttl > 0 {
		ttlText = "ttl " + ttl.String()
	}
	out = append(out, DoctorCheck{"vault", "token", checkOK, fmt.Sprintf("%s via %s login as %q, policies %s, %s", c.Address(), method, name, strings.Join(pols, ","), ttlText)})
	var missing []string
	for _, need := range vaultNeeds {
		caps, err := c.Sys().CapabilitiesSelfWithContext(ctx, need.Probe)
		if err != nil {
			return append(out, doctorFail("vault", "capabilities", "sys/capabilities-self for %s: %s", need.Probe, vaultErr(err)))
		}
		if slices.Contains(caps, "root") {
			continue
		}
		var lack []string
		for _, want := range need.Capabilities {
			if !slices.Contains(caps, want) {
				lack = append(lack, want)
			}
		}
		if len(lack) > 0 {
			missing = append(missing, fmt.Sprintf("%s on %s (has %s)", strings.Join(lack, ","), need.Pattern, strings.Join(caps, ",")))
		}
	}
	if len(missing) > 0 {
		return append(out, doctorFail("vault", "capabilities", "the token lacks what deploy/vault-policy.hcl grants: %s", strings.Join(missing, "; ")))
	}
	out = append(out, DoctorCheck{"vault", "capabilities", checkOK, fmt.Sprintf("all %d paths of deploy/vault-policy.hcl permitted", len(vaultNeeds))})
	return append(out, doctorDirectory(ctx, c, st.directory())...)
}

// doctorDirectory checks the probe role and that every directory entry's Vault identity
// exists: an alias on a mounted auth method, an entity id Vault knows.
func doctorDirectory(ctx context.Context, c *vaultapi.Client, directory []playbooks.Identity) []DoctorCheck {
	var out []DoctorCheck
	role, err := c.Logical().ReadWithContext(ctx, "auth/token/roles/"+fbvault.DefaultProbeRole)
	switch {
	case err != nil:
		out = append(out, doctorFail("vault", "probe role", "reading auth/token/roles/%s: %s", fbvault.DefaultProbeRole, vaultErr(err)))
	case role == nil:
		out = append(out, doctorFail("vault", "probe role", "no token role %s: inventories fall back to firebreak's own policy evaluation and verifications cannot probe a new login (docs/configuration.md shows how to create it)", fbvault.DefaultProbeRole))
	default:
		out = append(out, DoctorCheck{"vault", "probe role", checkOK, "token role " + fbvault.DefaultProbeRole + " exists"})
	}
	acts := &fbvault.Activities{Client: c.Logical()}
	var bad []string
	checked := 0
	for _, p := range directory {
		if p.Vault == nil {
			continue
		}
		id := &fbvault.VaultIdentity{Entity: p.Vault.Entity, EntityID: p.Vault.EntityID}
		if p.Vault.Alias != nil {
			id.Alias = &fbvault.VaultAlias{Mount: p.Vault.Alias.Mount, Name: p.Vault.Alias.Name}
		}
		checked++
		entity, err := acts.FindEntity(ctx, p.Subject, id)
		switch {
		case err != nil:
			bad = append(bad, p.Subject+": "+err.Error())
		case entity == "":
			bad = append(bad, p.Subject+": no entity found (they may not have logged in yet)")
		}
	}
	if len(bad) > 0 {
		return append(out, doctorFail("vault", "directory", "%s", strings.Join(bad, "; ")))
	}
	if checked > 0 {
		out = append(out, DoctorCheck{"vault", "directory", checkOK, fmt.Sprintf("all %d directory entries with vault: found in Vault", checked)})
	}
	return out
}

func vaultErr(err error) string {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("Vault answered %d %s", re.StatusCode, strings.Join(re.Errors, "; "))
	}
	return err.Error()
}

func doctorAWS(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, st.awsLoadOptions()...)
	if err != nil {
		return []DoctorCheck{doctorFail("aws", "config", "loading the default configuration: %v", err)}
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return []DoctorCheck{doctorFail("aws", "credentials", "no credentials from the default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, roles…): %v", err)}
	}
	out := []DoctorCheck{{"aws", "credentials", checkOK, fmt.Sprintf("key %s from %s, region %q", maskKeyID(creds.AccessKeyID), creds.Source, cfg.Region)}}
	probe := st.get("FIREBREAK_AWS_PROBE_USER")
	if probe == "" {
		return append(out, DoctorCheck{"aws", "iam", checkUnverified, "set FIREBREAK_AWS_PROBE_USER to an IAM user firebreak may read, to check iam:GetUser against IAM"})
	}
	res, err := iam.NewFromConfig(cfg, st.iamEndpoint).GetUser(ctx, &iam.GetUserInput{UserName: aws.String(probe)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return append(out, doctorFail("aws", "iam", "iam:GetUser on %s: %s: %s", probe, ae.ErrorCode(), ae.ErrorMessage()))
		}
		return append(out, doctorFail("aws", "iam", "iam:GetUser on %s: %v", probe, err))
	}
	return append(out, DoctorCheck{"aws", "iam", checkOK, "iam:GetUser permitted on " + aws.ToString(res.User.Arn)})
}

// maskKeyID shows only the start of an access key id, enough to tell keys apart.
func maskKeyID(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return id[:8] + "…"
}

func doctorSlack(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	token := st.get("SLACK_BOT_TOKEN")
	if token == "" {
		return []DoctorCheck{doctorFail("slack", "auth.test", "SLACK_BOT_TOKEN is not set")}
	}
	var opts []slackapi.Option
	if u := st.get("SLACK_API_URL"); u != "" {
		opts = append(opts, slackapi.OptionAPIURL(u))
	}
	res, err := slackapi.New(token, opts...).AuthTestContext(ctx)
	if err != nil {
		return []DoctorCheck{doctorFail("slack", "auth.test", "auth.test: %v", err)}
	}
	return []DoctorCheck{{"slack", "auth.test", checkOK, fmt.Sprintf("bot %s (%s) in team %s", res.User, res.UserID, res.Team)}}
}

func doctorPagerDuty(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	token := st.get("PAGERDUTY_TOKEN")
	if token == "" {
		return []DoctorCheck{doctorFail("pagerduty", "api", "PAGERDUTY_TOKEN is not set")}
	}
	var opts []pagerduty.ClientOptions
	if u := st.get("PAGERDUTY_API_URL"); u != "" {
		opts = append(opts, pagerduty.WithAPIEndpoint(u))
	}
	res, err := pagerduty.NewClient(token, opts...).ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{Limit: 1})
	if err != nil {
		return []DoctorCheck{doctorFail("pagerduty", "api", "GET /oncalls: %v", err)}
	}
	out := []DoctorCheck{{"pagerduty", "api", checkOK, fmt.Sprintf("GET /oncalls answered (%d on call)", len(res.OnCalls))}}
	if st.get("PAGERDUTY_FROM") == "" {
		return append(out, doctorFail("pagerduty", "from", "PAGERDUTY_FROM is not set: notes and status changes need the email of a PagerDuty user"))
	}
	return out
}

func doctorTemporal(ctx context.Context, st *settings, logger *slog.Logger) []DoctorCheck {
	var out []DoctorCheck
	addr := st.get("TEMPORAL_ADDRESS")
	if err := doctorCodec(st, addr != ""); err != nil {
		out = append(out, doctorFail("temporal", "codec", "%v", err))
	} else {
		out = append(out, DoctorCheck{"temporal", "codec", checkOK, "payload codec key loads"})
	}
	if addr == "" {
		return append(out, DoctorCheck{"temporal", "health", checkSkipped, "TEMPORAL_ADDRESS is not set: each command starts an embedded server"})
	}
	opts := client.Options{HostPort: addr, Namespace: st.getOr("TEMPORAL_NAMESPACE", "default"), Logger: nopTemporalLogger{}}
	if err := clusterAuth(st, &opts); err != nil {
		return append(out, doctorFail("temporal", "tls", "%v", err))
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return append(out, doctorFail("temporal", "health", "cannot reach Temporal at %s: %v", addr, err))
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return append(out, doctorFail("temporal", "health", "Temporal at %s is not serving: %v", addr, err))
	}
	return append(out, DoctorCheck{"temporal", "health", checkOK, "frontend at " + addr + " is serving"})
}

// doctorCodec checks the codec key without creating one: FIREBREAK_CODEC_KEY, else the key
// file a shared server uses, if it exists yet.
func doctorCodec(st *settings, shared bool) error {
	if st.get("FIREBREAK_CODEC_KEY") != "" {
		_, err := loadCodec(st, st.stateDir(), keyEphemeral)
		return err
	}
	if !shared {
		return nil
	}
	path := filepath.Join(st.stateDir(), "codec.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // created on first use
	}
	if err != nil {
		return fmt.Errorf("codec key: %w", err)
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err != nil || len(k) != 32 {
		return fmt.Errorf("codec key %s: expected the base64 encoding of 32 bytes", path)
	}
	return nil
}

// nopTemporalLogger keeps the SDK's connection chatter out of the doctor's report.
type nopTemporalLogger struct{}

func (nopTemporalLogger) Debug(string, ...any) {}
func (nopTemporalLogger) Info(string, ...any)  {}
func (nopTemporalLogger) Warn(string, ...any)  {}
func (nopTemporalLogger) Error(string, ...any) {}

// doctorOIDC checks the identity provider the oidc actions revoke tokens at: its discovery
// document names revocation and introspection endpoints. Not configured is not a failure.
func doctorOIDC(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	issuer := st.get("OIDC_ISSUER")
	if issuer == "" {
		return []DoctorCheck{{"oidc", "discovery", checkSkipped, "OIDC_ISSUER not set: the oidc.* actions are off"}}
	}
	if st.get("OIDC_CLIENT_ID") == "" || st.get("OIDC_CLIENT_SECRET") == "" {
		return []DoctorCheck{doctorFail("oidc", "client", "OIDC_ISSUER is set but OIDC_CLIENT_ID or OIDC_CLIENT_SECRET is not")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return []DoctorCheck{doctorFail("oidc", "discovery", "OIDC_ISSUER %q: %v", issuer, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return []DoctorCheck{doctorFail("oidc", "discovery", "%v", err)}
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer        string `json:"issuer"`
		Revocation    string `json:"revocation_endpoint"`
		Introspection string `json:"introspection_endpoint"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc) != nil {
		return []DoctorCheck{doctorFail("oidc", "discovery", "%s answered %d without a discovery document", issuer, resp.StatusCode)}
	}
	if doc.Revocation == "" || doc.Introspection == "" {
		return []DoctorCheck{doctorFail("oidc", "discovery", "%s names no revocation_endpoint (RFC 7009) or introspection_endpoint (RFC 7662)", issuer)}
	}
	return []DoctorCheck{{"oidc", "discovery", checkOK, "revocation and introspection endpoints found at " + issuer}}
}

// doctorEvidence opens the evidence store the worker would use and checks its chain.
func doctorEvidence(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	dir := st.get("FIREBREAK_EVIDENCE_DIR")
	if dir == "" {
		dir = filepath.Join(st.stateDir(), "evidence")
	}
	where := dir
	if s3 := st.get("FIREBREAK_EVIDENCE_S3"); s3 != "" {
		where = s3
	}
	if _, err := openEvidenceStore(ctx, st, dir); err != nil {
		return []DoctorCheck{doctorFail("evidence", "chain", "%s: %v", where, err)}
	}
	return []DoctorCheck{{"evidence", "chain", checkOK, where + " opens and its chain verifies"}}
}

// doctorConfig checks the configuration file first: it decodes and validates (each problem
// with its line and column is a failed check; a literal secret is a warning), and every
// secret reference in it resolves. When it loads, the checks after it use it: it returns
// the settings they read.
func doctorConfig(ctx context.Context, path string, logger *slog.Logger) ([]DoctorCheck, *settings) {
	st := envSettings()
	if path == "" {
		return []DoctorCheck{{"config", "file", checkSkipped, "no --config or FIREBREAK_CONFIG: every setting comes from the environment"}}, st
	}
	lc, err := loadConfig(ctx, path, resolveAll, logger)
	if err != nil {
		var out []DoctorCheck
		check := "references"
		if isConfigError(err) {
			check = "file"
		}
		for _, p := range problemStrings(err) {
			out = append(out, DoctorCheck{"config", check, checkFailed, p})
		}
		return out, st
	}
	st.lc = lc
	out := []DoctorCheck{{"config", "file", checkOK, describeConfig(lc)}}
	for _, w := range lc.warnings {
		out = append(out, DoctorCheck{"config", "secrets", checkWarning, w.String()})
	}
	if n := config.VaultReferences(lc.file, os.LookupEnv); n > 0 {
		out = append(out, DoctorCheck{"config", "references", checkOK, fmt.Sprintf("%d vault: references read", n)})
	}
	return out, st
}
