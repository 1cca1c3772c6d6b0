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

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	fbpagerduty "github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/preflight"
	fbslack "github.com/firebreak-dev/firebreak/activities/slack"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/config"
)

// Statuses of a doctor check. Only failed makes the command exit 1.
const (
	checkOK         = preflight.OK
	checkFailed     = preflight.Failed
	checkWarning    = preflight.Warning
	checkUnverified = preflight.Unverified
	checkSkipped    = preflight.Skipped
)

// DoctorCheck is one finding of `firebreak doctor`: an integration's preflight result.
type DoctorCheck = preflight.Result

// DoctorReport is the whole of `firebreak doctor --json`.
type DoctorReport struct {
	Passed bool          `json:"passed"`
	Checks []DoctorCheck `json:"checks"`
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
					rep.Checks = append(rep.Checks, doctorCheck(c.name, "all", checkSkipped, "--skip "+c.name))
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

// doctorCheck is a finding of doctor's own checks (config, temporal, oidc, evidence).
func doctorCheck(integration, check, status, detail string) DoctorCheck {
	return DoctorCheck{Integration: integration, Check: check, Status: status, Detail: detail}
}

func doctorFail(integration, check, format string, args ...any) DoctorCheck {
	return preflight.Fail(integration, check, format, args...)
}

// doctorVault logs in as the worker does and runs Vault's preflight checks.
func doctorVault(ctx context.Context, st *settings, logger *slog.Logger) []DoctorCheck {
	// The login's renewal stops with ctx: the doctor only needs the token for a moment.
	c, method, err := vaultClient(ctx, st, logger)
	if err != nil {
		return []DoctorCheck{doctorFail("vault", "login", "%v", err)}
	}
	if method == vaultAuthNone {
		return []DoctorCheck{doctorFail("vault", "login", "no credential: set VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_K8S_ROLE")}
	}
	var dir []fbvault.DirectoryEntry
	for _, p := range st.directory() {
		if p.Vault == nil {
			continue
		}
		id := &fbvault.VaultIdentity{Entity: p.Vault.Entity, EntityID: p.Vault.EntityID}
		if p.Vault.Alias != nil {
			id.Alias = &fbvault.VaultAlias{Mount: p.Vault.Alias.Mount, Name: p.Vault.Alias.Name}
		}
		dir = append(dir, fbvault.DirectoryEntry{Subject: p.Subject, Vault: id})
	}
	return fbvault.Preflight(ctx, c, method, dir)
}

// doctorAWS runs AWS's preflight checks with the worker's AWS configuration.
func doctorAWS(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	load := func(ctx context.Context) (aws.Config, error) {
		return awsconfig.LoadDefaultConfig(ctx, st.awsLoadOptions()...)
	}
	return awsiam.Preflight(ctx, load, st.get("FIREBREAK_AWS_PROBE_USER"), st.iamEndpoint)
}

// doctorSlack runs Slack's preflight checks with the worker's bot token.
func doctorSlack(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	return fbslack.Preflight(ctx, st.get("SLACK_BOT_TOKEN"), st.get("SLACK_API_URL"))
}

// doctorPagerDuty runs PagerDuty's preflight checks with the worker's token.
func doctorPagerDuty(ctx context.Context, st *settings, _ *slog.Logger) []DoctorCheck {
	return fbpagerduty.Preflight(ctx, st.get("PAGERDUTY_TOKEN"), st.get("PAGERDUTY_API_URL"), st.get("PAGERDUTY_FROM"))
}

func doctorTemporal(ctx context.Context, st *settings, logger *slog.Logger) []DoctorCheck {
	var out []DoctorCheck
	addr := st.get("TEMPORAL_ADDRESS")
	if err := doctorCodec(st, addr != ""); err != nil {
		out = append(out, doctorFail("temporal", "codec", "%v", err))
	} else {
		out = append(out, doctorCheck("temporal", "codec", checkOK, "payload codec key loads"))
	}
	if addr == "" {
		return append(out, doctorCheck("temporal", "health", checkSkipped, "TEMPORAL_ADDRESS is not set: each command starts an embedded server"))
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
	return append(out, doctorCheck("temporal", "health", checkOK, "frontend at "+addr+" is serving"))
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
		return []DoctorCheck{doctorCheck("oidc", "discovery", checkSkipped, "OIDC_ISSUER not set: the oidc.* actions are off")}
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
	return []DoctorCheck{doctorCheck("oidc", "discovery", checkOK, "revocation and introspection endpoints found at "+issuer)}
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
	return []DoctorCheck{doctorCheck("evidence", "chain", checkOK, where+" opens and its chain verifies")}
}

// doctorConfig checks the configuration file first: it decodes and validates (each problem
// with its line and column is a failed check; a literal secret is a warning), and every
// secret reference in it resolves. When it loads, the checks after it use it: it returns
// the settings they read.
func doctorConfig(ctx context.Context, path string, logger *slog.Logger) ([]DoctorCheck, *settings) {
	st := envSettings()
	if path == "" {
		return []DoctorCheck{doctorCheck("config", "file", checkSkipped, "no --config or FIREBREAK_CONFIG: every setting comes from the environment")}, st
	}
	lc, err := loadConfig(ctx, path, resolveAll, logger)
	if err != nil {
		var out []DoctorCheck
		check := "references"
		if isConfigError(err) {
			check = "file"
		}
		for _, p := range problemStrings(err) {
			out = append(out, doctorCheck("config", check, checkFailed, p))
		}
		return out, st
	}
	st.lc = lc
	out := []DoctorCheck{doctorCheck("config", "file", checkOK, describeConfig(lc))}
	for _, w := range lc.warnings {
		out = append(out, doctorCheck("config", "secrets", checkWarning, w.String()))
	}
	if n := config.VaultReferences(lc.file, os.LookupEnv); n > 0 {
		out = append(out, doctorCheck("config", "references", checkOK, fmt.Sprintf("%d vault: references read", n)))
	}
	return out, st
}
