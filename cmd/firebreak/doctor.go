package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/oidc"
	fbpagerduty "github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/preflight"
	fbslack "github.com/firebreak-dev/firebreak/activities/slack"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/config"
)

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
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			st := envSettings() // the file's too, once its check has loaded it
			var probes []preflight.Probe
			for _, p := range []struct {
				name string
				run  func(context.Context, *settings, *slog.Logger) []preflight.Result
			}{
				{"vault", doctorVault}, {"aws", doctorAWS}, {"slack", doctorSlack},
				{"pagerduty", doctorPagerDuty}, {"temporal", doctorTemporal},
				{"oidc", doctorOIDC}, {"evidence", doctorEvidence},
			} {
				probes = append(probes, preflight.Probe{Name: p.name, Run: func(ctx context.Context) []preflight.Result { return p.run(ctx, st, logger) }})
			}
			names := append([]string{"config"}, preflight.Names(probes)...)
			for _, s := range skip {
				if !slices.Contains(names, s) {
					return usagef("--skip %q: expected %s or %s", s, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
				}
			}
			ctx := contextOf(cmd)
			var done []preflight.Result
			if !slices.Contains(skip, "config") {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				done, st = doctorConfig(cctx, configPath(cmd), logger)
				cancel()
			}
			rep := preflight.Run(ctx, done, probes, skip, timeout)
			if asJSON {
				if err := writeJSONOut(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(cmd.OutOrStdout())
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

// doctorVault logs in as the worker does and runs Vault's preflight checks.
func doctorVault(ctx context.Context, st *settings, logger *slog.Logger) []preflight.Result {
	// The login's renewal stops with ctx: the doctor only needs the token for a moment.
	c, method, err := vaultClient(ctx, st, logger)
	if err != nil {
		return []preflight.Result{preflight.Fail("vault", "login", "%v", err)}
	}
	if method == vaultAuthNone {
		return []preflight.Result{preflight.Fail("vault", "login", "no credential: set VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_K8S_ROLE")}
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
func doctorAWS(ctx context.Context, st *settings, _ *slog.Logger) []preflight.Result {
	load := func(ctx context.Context) (aws.Config, error) {
		return awsconfig.LoadDefaultConfig(ctx, st.awsLoadOptions()...)
	}
	return awsiam.Preflight(ctx, load, st.get("FIREBREAK_AWS_PROBE_USER"), st.iamEndpoint)
}

// doctorSlack runs Slack's preflight checks with the worker's bot token.
func doctorSlack(ctx context.Context, st *settings, _ *slog.Logger) []preflight.Result {
	return fbslack.Preflight(ctx, st.get("SLACK_BOT_TOKEN"), st.get("SLACK_API_URL"))
}

// doctorPagerDuty runs PagerDuty's preflight checks with the worker's token.
func doctorPagerDuty(ctx context.Context, st *settings, _ *slog.Logger) []preflight.Result {
	return fbpagerduty.Preflight(ctx, st.get("PAGERDUTY_TOKEN"), st.get("PAGERDUTY_API_URL"), st.get("PAGERDUTY_FROM"))
}

func doctorTemporal(ctx context.Context, st *settings, logger *slog.Logger) []preflight.Result {
	var out []preflight.Result
	addr := st.get("TEMPORAL_ADDRESS")
	if err := doctorCodec(st, addr != ""); err != nil {
		out = append(out, preflight.Fail("temporal", "codec", "%v", err))
	} else {
		out = append(out, preflight.Result{Integration: "temporal", Check: "codec", Status: preflight.OK, Detail: "payload codec key loads"})
	}
	if addr == "" {
		return append(out, preflight.Result{Integration: "temporal", Check: "health", Status: preflight.Skipped, Detail: "TEMPORAL_ADDRESS is not set: each command starts an embedded server"})
	}
	opts := client.Options{HostPort: addr, Namespace: st.getOr("TEMPORAL_NAMESPACE", "default"), Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))} // no connection chatter in the report
	if err := clusterAuth(st, &opts); err != nil {
		return append(out, preflight.Fail("temporal", "tls", "%v", err))
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return append(out, preflight.Fail("temporal", "health", "cannot reach Temporal at %s: %v", addr, err))
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return append(out, preflight.Fail("temporal", "health", "Temporal at %s is not serving: %v", addr, err))
	}
	return append(out, preflight.Result{Integration: "temporal", Check: "health", Status: preflight.OK, Detail: "frontend at " + addr + " is serving"})
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

// doctorOIDC checks the identity provider the oidc actions revoke tokens at (oidc.Preflight).
func doctorOIDC(ctx context.Context, st *settings, _ *slog.Logger) []preflight.Result {
	return oidc.Preflight(ctx, st.get("OIDC_ISSUER"), st.get("OIDC_CLIENT_ID"), st.get("OIDC_CLIENT_SECRET"))
}

// doctorEvidence opens the evidence store the worker would use and checks its chain.
func doctorEvidence(ctx context.Context, st *settings, _ *slog.Logger) []preflight.Result {
	dir := st.get("FIREBREAK_EVIDENCE_DIR")
	if dir == "" {
		dir = filepath.Join(st.stateDir(), "evidence")
	}
	where := dir
	if s3 := st.get("FIREBREAK_EVIDENCE_S3"); s3 != "" {
		where = s3
	}
	if _, err := openEvidenceStore(ctx, st, dir); err != nil {
		return []preflight.Result{preflight.Fail("evidence", "chain", "%s: %v", where, err)}
	}
	return []preflight.Result{{Integration: "evidence", Check: "chain", Status: preflight.OK, Detail: where + " opens and its chain verifies"}}
}

// doctorConfig checks the configuration file first: it decodes and validates (each problem
// with its line and column is a failed check; a literal secret is a warning), and every
// secret reference in it resolves. When it loads, the checks after it use it: it returns
// the settings they read.
func doctorConfig(ctx context.Context, path string, logger *slog.Logger) ([]preflight.Result, *settings) {
	st := envSettings()
	if path == "" {
		return []preflight.Result{{Integration: "config", Check: "file", Status: preflight.Skipped, Detail: "no --config or FIREBREAK_CONFIG: every setting comes from the environment"}}, st
	}
	lc, err := loadConfig(ctx, path, resolveAll, logger)
	if err != nil {
		var out []preflight.Result
		check := "references"
		if isConfigError(err) {
			check = "file"
		}
		for _, p := range problemStrings(err) {
			out = append(out, preflight.Result{Integration: "config", Check: check, Status: preflight.Failed, Detail: p})
		}
		return out, st
	}
	st.lc = lc
	out := []preflight.Result{{Integration: "config", Check: "file", Status: preflight.OK, Detail: describeConfig(lc)}}
	for _, w := range lc.warnings {
		out = append(out, preflight.Result{Integration: "config", Check: "secrets", Status: preflight.Warning, Detail: w.String()})
	}
	if n := config.VaultReferences(lc.file, os.LookupEnv); n > 0 {
		out = append(out, preflight.Result{Integration: "config", Check: "references", Status: preflight.OK, Detail: fmt.Sprintf("%d vault: references read", n)})
	}
	return out, st
}
