package service

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
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

// Probes are doctor's checks of each integration with the worker's configuration, in
// order: vault, aws, slack, pagerduty, temporal, oidc, evidence. Each reads the settings st
// returns when it runs (doctor's configuration check may load the file first).
func Probes(st func() *config.Settings, logger *slog.Logger) []preflight.Probe {
	var probes []preflight.Probe
	for _, p := range []struct {
		name string
		run  func(context.Context, *config.Settings, *slog.Logger) []preflight.Result
	}{
		{"vault", preflightVault}, {"aws", preflightAWS}, {"slack", preflightSlack},
		{"pagerduty", preflightPagerDuty}, {"temporal", preflightTemporal},
		{"oidc", PreflightOIDC}, {"evidence", PreflightEvidence},
	} {
		probes = append(probes, preflight.Probe{Name: p.name, Run: func(ctx context.Context) []preflight.Result { return p.run(ctx, st(), logger) }})
	}
	return probes
}

// preflightVault logs in as the worker does and runs Vault's preflight checks.
func preflightVault(ctx context.Context, st *config.Settings, logger *slog.Logger) []preflight.Result {
	// The login's renewal stops with ctx: the doctor only needs the token for a moment.
	c, method, err := VaultClient(ctx, st, logger)
	if err != nil {
		return []preflight.Result{preflight.Fail("vault", "login", "%v", err)}
	}
	if method == VaultAuthNone {
		return []preflight.Result{preflight.Fail("vault", "login", "no credential: set VAULT_TOKEN, VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_K8S_ROLE")}
	}
	var dir []fbvault.DirectoryEntry
	for _, p := range st.Directory() {
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

// preflightAWS runs AWS's preflight checks with the worker's AWS configuration.
func preflightAWS(ctx context.Context, st *config.Settings, _ *slog.Logger) []preflight.Result {
	load := func(ctx context.Context) (aws.Config, error) {
		return awsconfig.LoadDefaultConfig(ctx, AWSLoadOptions(st)...)
	}
	return awsiam.Preflight(ctx, load, st.Get("FIREBREAK_AWS_PROBE_USER"), IAMEndpoint(st))
}

// preflightSlack runs Slack's preflight checks with the worker's bot token.
func preflightSlack(ctx context.Context, st *config.Settings, _ *slog.Logger) []preflight.Result {
	return fbslack.Preflight(ctx, st.Get("SLACK_BOT_TOKEN"), st.Get("SLACK_API_URL"))
}

// preflightPagerDuty runs PagerDuty's preflight checks with the worker's token.
func preflightPagerDuty(ctx context.Context, st *config.Settings, _ *slog.Logger) []preflight.Result {
	return fbpagerduty.Preflight(ctx, st.Get("PAGERDUTY_TOKEN"), st.Get("PAGERDUTY_API_URL"), st.Get("PAGERDUTY_FROM"))
}

// preflightTemporal checks the payload codec key and, when TEMPORAL_ADDRESS is set, the
// cluster's health.
func preflightTemporal(ctx context.Context, st *config.Settings, _ *slog.Logger) []preflight.Result {
	var out []preflight.Result
	addr := st.Get("TEMPORAL_ADDRESS")
	if err := checkCodec(st, addr != ""); err != nil {
		out = append(out, preflight.Fail("temporal", "codec", "%v", err))
	} else {
		out = append(out, preflight.Result{Integration: "temporal", Check: "codec", Status: preflight.OK, Detail: "payload codec key loads"})
	}
	if addr == "" {
		return append(out, preflight.Result{Integration: "temporal", Check: "health", Status: preflight.Skipped, Detail: "TEMPORAL_ADDRESS is not set: each command starts an embedded server"})
	}
	opts := client.Options{HostPort: addr, Namespace: st.GetOr("TEMPORAL_NAMESPACE", "default"), Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))} // no connection chatter in the report
	if err := ClusterAuth(st, &opts); err != nil {
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

// checkCodec checks the codec key without creating one: FIREBREAK_CODEC_KEY, else the key
// file a shared server uses, if it exists yet.
func checkCodec(st *config.Settings, shared bool) error {
	if st.Get("FIREBREAK_CODEC_KEY") != "" {
		_, err := LoadCodec(st, st.StateDir(), KeyEphemeral)
		return err
	}
	if !shared {
		return nil
	}
	path := filepath.Join(st.StateDir(), "codec.key")
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

// PreflightOIDC checks the identity provider the oidc actions revoke tokens at (oidc.Preflight).
func PreflightOIDC(ctx context.Context, st *config.Settings, _ *slog.Logger) []preflight.Result {
	return oidc.Preflight(ctx, st.Get("OIDC_ISSUER"), st.Get("OIDC_CLIENT_ID"), st.Get("OIDC_CLIENT_SECRET"))
}

// PreflightEvidence opens the evidence store the worker would use and checks its chain.
func PreflightEvidence(ctx context.Context, st *config.Settings, _ *slog.Logger) []preflight.Result {
	dir := st.Get("FIREBREAK_EVIDENCE_DIR")
	if dir == "" {
		dir = filepath.Join(st.StateDir(), "evidence")
	}
	where := dir
	if s3 := st.Get("FIREBREAK_EVIDENCE_S3"); s3 != "" {
		where = s3
	}
	if _, err := OpenEvidenceStore(ctx, st, dir); err != nil {
		return []preflight.Result{preflight.Fail("evidence", "chain", "%s: %v", where, err)}
	}
	return []preflight.Result{{Integration: "evidence", Check: "chain", Status: preflight.OK, Detail: where + " opens and its chain verifies"}}
}

// LoadConfig reads, validates and resolves the configuration file at path with the
// environment env; vault: references are read unless noVault (drills and dev never read
// production's Vault, rule 5). Decoding and validation problems are usage errors; a
// reference that cannot be resolved is not.
func LoadConfig(ctx context.Context, path string, env func(string) (string, bool), noVault bool, logger *slog.Logger) (*config.Loaded, error) {
	l, err := config.Open(ctx, path, env)
	if err != nil {
		return nil, err
	}
	if noVault || config.VaultReferences(l.File, env) == 0 {
		return l, nil
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel() // also ends the login's renewal: the token was only needed to read
	// The Vault client is built from the file's vault settings, resolved so far.
	vc, method, err := VaultClient(vctx, &config.Settings{Env: env, File: l.File, Values: l.Values}, logger)
	if err != nil {
		return nil, fmt.Errorf("%s: reading vault: references: %w", path, err)
	}
	if method == VaultAuthNone {
		return nil, fmt.Errorf("%s: vault: references need a Vault login: set VAULT_TOKEN, vault.approle or vault.kubernetes", path)
	}
	if err := l.ResolveVault(vctx, env, VaultKV(vc)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// CheckConfig is doctor's check of the configuration file at path: it decodes and validates
// (each problem with its line and column is a failed check; a literal secret is a warning),
// and every secret reference in it resolves. It returns the file when it loads, for the
// checks after it; nil without one or when it does not load.
func CheckConfig(ctx context.Context, path string, env func(string) (string, bool), logger *slog.Logger) ([]preflight.Result, *config.Loaded) {
	if path == "" {
		return []preflight.Result{{Integration: "config", Check: "file", Status: preflight.Skipped, Detail: "no --config or FIREBREAK_CONFIG: every setting comes from the environment"}}, nil
	}
	l, err := LoadConfig(ctx, path, env, false, logger)
	if err != nil {
		var out []preflight.Result
		check := "references"
		if errors.As(err, new(*config.Error)) {
			check = "file"
		}
		for _, p := range config.ProblemStrings(err) {
			out = append(out, preflight.Result{Integration: "config", Check: check, Status: preflight.Failed, Detail: p})
		}
		return out, nil
	}
	out := []preflight.Result{{Integration: "config", Check: "file", Status: preflight.OK, Detail: fmt.Sprintf("%s: valid, %d settings from the file", l.File.File(), l.Values.Len())}}
	for _, w := range l.Warnings {
		out = append(out, preflight.Result{Integration: "config", Check: "secrets", Status: preflight.Warning, Detail: w.String()})
	}
	if n := config.VaultReferences(l.File, env); n > 0 {
		out = append(out, preflight.Result{Integration: "config", Check: "references", Status: preflight.OK, Detail: fmt.Sprintf("%d vault: references read", n)})
	}
	return out, l
}
