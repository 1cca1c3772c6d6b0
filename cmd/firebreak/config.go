package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/spf13/cobra"

	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// firebreak.yaml (package config) is read once per command, before it runs, from --config or
// FIREBREAK_CONFIG, into that command's settings, which are then passed to whatever needs
// them. A setting is the environment variable NAME when it is set and non-empty, else the
// file's value for the key NAME overrides, with secret references already resolved. Without
// a file, a setting is the environment variable: every variable works exactly as it did
// before the file existed.

// loadedConfig is the configuration file of the running command.
type loadedConfig struct {
	file     *config.Config // as written
	eff      *config.Config // with the environment applied
	values   *config.Values // the file's settings, secrets resolved, by variable name
	warnings []config.Problem
}

// settings is one command's configuration, resolved once before the command runs
// (applyConfig) and passed to the constructors and functions that need it. The zero value
// and nil read the environment alone.
type settings struct {
	lc *loadedConfig // nil without a file
}

// envSettings are the settings of a command without a configuration file: the environment.
// Flag defaults use them, because flags are made before the file is read.
func envSettings() *settings { return &settings{} }

// get is the value of the setting environment variable name overrides: the variable when set
// and non-empty, else the configuration file's value, else "".
func (s *settings) get(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	if s != nil && s.lc != nil {
		return s.lc.values.Get(name)
	}
	return ""
}

// getOr is get, or def when the setting is empty.
func (s *settings) getOr(name, def string) string {
	if v := s.get(name); v != "" {
		return v
	}
	return def
}

// file is the loaded configuration file; nil without one.
func (s *settings) file() *loadedConfig {
	if s == nil {
		return nil
	}
	return s.lc
}

// settingsKey keys a command's settings in its context.
type settingsKey struct{}

// withSettings is ctx carrying s, the way a cobra command hands its settings to RunE.
func withSettings(ctx context.Context, s *settings) context.Context {
	return context.WithValue(ctx, settingsKey{}, s)
}

// settingsFrom is the settings ctx carries; the environment's when it carries none.
func settingsFrom(ctx context.Context) *settings {
	if ctx != nil {
		if s, ok := ctx.Value(settingsKey{}).(*settings); ok && s != nil {
			return s
		}
	}
	return envSettings()
}

// settingsOf is the settings applyConfig resolved for cmd.
func settingsOf(cmd *cobra.Command) *settings { return settingsFrom(cmd.Context()) }

// How far loadConfig goes with secret references.
type resolveMode int

const (
	resolveAll     resolveMode = iota // env: and vault: references
	resolveNoVault                    // drills and dev: never read production's Vault (rule 5)
)

// configPath is the file a command reads: its --config flag, else FIREBREAK_CONFIG.
func configPath(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("config"); f != nil {
		return f.Value.String()
	}
	return os.Getenv("FIREBREAK_CONFIG")
}

// loadConfig reads, validates and resolves the file at path. Decoding and validation
// problems are usage errors; a reference that cannot be resolved is not.
func loadConfig(ctx context.Context, path string, mode resolveMode, logger *slog.Logger) (*loadedConfig, error) {
	file, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	eff, err := file.Effective(os.LookupEnv)
	if err != nil {
		return nil, usageError{err}
	}
	warnings, err := eff.Validate()
	if err != nil {
		return nil, usageError{err}
	}
	// First everything but vault: references, so that the Vault client below is built from
	// the file's vault settings.
	pre, err := config.Resolve(ctx, file, config.ResolveOptions{Lookup: os.LookupEnv, SkipVault: true})
	if err != nil {
		return nil, usageError{err}
	}
	lc := &loadedConfig{file: file, eff: eff, values: pre, warnings: warnings}
	if mode == resolveNoVault || config.VaultReferences(file, os.LookupEnv) == 0 {
		return lc, nil
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel() // also ends the login's renewal: the token was only needed to read
	// The Vault client is built from the file's vault settings, resolved so far.
	vc, method, err := vaultClient(vctx, &settings{lc: lc}, logger)
	if err != nil {
		return nil, fmt.Errorf("%s: reading vault: references: %w", path, err)
	}
	if method == vaultAuthNone {
		return nil, fmt.Errorf("%s: vault: references need a Vault login: set VAULT_TOKEN, vault.approle or vault.kubernetes", path)
	}
	lc.values, err = config.Resolve(vctx, file, config.ResolveOptions{Lookup: os.LookupEnv, Vault: vaultKV(vc)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lc, nil
}

// vaultKV reads KV v2 secrets with c, for vault: references.
func vaultKV(c *vaultapi.Client) config.VaultKV {
	return func(ctx context.Context, mount, path string) (map[string]any, error) {
		s, err := c.KVv2(mount).Get(ctx, path)
		if errors.Is(err, vaultapi.ErrSecretNotFound) {
			return nil, config.ErrSecretNotFound
		}
		if err != nil {
			return nil, errors.New(fbvault.DescribeError(err))
		}
		return s.Data, nil
	}
}

// wireConfig adds --config to the commands that run firebreak (worker, serve, dev, run,
// action run, doctor, drill…), the `config` command group, and the hook that loads the file
// before each command.
func wireConfig(root *cobra.Command) {
	root.AddCommand(newConfigCmd())
	var add func(c *cobra.Command)
	add = func(c *cobra.Command) {
		switch c.Name() {
		case "worker", "run", "doctor", "drill", "action", "serve", "dev":
			if c.Flags().Lookup("config") == nil && c.PersistentFlags().Lookup("config") == nil {
				c.PersistentFlags().String("config", os.Getenv("FIREBREAK_CONFIG"), "configuration file, firebreak.yaml (FIREBREAK_CONFIG); environment variables override it")
			}
		}
	}
	for _, c := range root.Commands() {
		add(c)
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyConfig(cmd) }
}

// applyConfig loads the command's configuration file, hands the settings to the command
// through its context, and applies them to its flags.
func applyConfig(cmd *cobra.Command) error {
	top := topCommand(cmd)
	st := envSettings()
	cmd.SetContext(withSettings(contextOf(cmd), st))
	switch top {
	case "config", "doctor", "help", "completion", "__complete", "__completeNoDesc":
		return nil // they read the file themselves and report on it
	}
	if path := configPath(cmd); path != "" {
		mode := resolveAll
		if top == "drill" || top == "dev" {
			mode = resolveNoVault
		}
		logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
		lc, err := loadConfig(contextOf(cmd), path, mode, logger)
		if err != nil {
			return err
		}
		for _, w := range lc.warnings {
			fmt.Fprintf(cmd.ErrOrStderr(), "firebreak: warning: %s\n", w)
		}
		st.lc = lc
	}
	return syncFlags(cmd, top, st)
}

// topCommand is the name of cmd's ancestor just below the root (cmd itself at that level).
func topCommand(cmd *cobra.Command) string {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd.Name()
}

// configFlags are the flags whose default a setting provides when the flag is not given.
var configFlags = []struct {
	flag, env string
	commands  []string // top-level commands it applies to; nil: every command with the flag
}{
	{"listen", "FIREBREAK_LISTEN", []string{"serve"}},
	{"playbooks", "FIREBREAK_PLAYBOOKS", nil},
	{"evidence-dir", "FIREBREAK_EVIDENCE_DIR", []string{"worker", "run", "action"}},
	{"state-dir", "FIREBREAK_STATE_DIR", []string{"dev"}},
	{"log-level", "FIREBREAK_LOG_LEVEL", []string{"worker", "serve", "dev"}},
	{"metrics-listen", "FIREBREAK_METRICS_LISTEN", nil},
}

// syncFlags sets each flag of configFlags that was not given from its setting.
func syncFlags(cmd *cobra.Command, top string, st *settings) error {
	for _, cf := range configFlags {
		f := cmd.Flags().Lookup(cf.flag)
		if f == nil || f.Changed || (cf.commands != nil && !slices.Contains(cf.commands, top)) {
			continue
		}
		v := st.get(cf.env)
		if v == "" && cf.flag == "evidence-dir" && st.get("FIREBREAK_STATE_DIR") != "" {
			v = filepath.Join(st.get("FIREBREAK_STATE_DIR"), "evidence")
		}
		if v == "" || v == f.Value.String() {
			continue
		}
		if err := f.Value.Set(v); err != nil {
			return usagef("%s (--%s): %v", cf.env, cf.flag, err)
		}
	}
	return nil
}

// chatopsConfigFile is the chatops configuration of the file at path, with its secrets: each
// from its environment variable when set, else from the file's resolved reference. The file
// is normally loaded already for the running command (serve resolves vault: references, dev
// does not); loaded here, its vault: references are left unread, as dev's are.
func chatopsConfigFile(st *settings, path string) (chatops.Config, error) {
	lc := st.file()
	if lc == nil || lc.file.File() != path {
		var err error
		if lc, err = loadConfig(context.Background(), path, resolveNoVault, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			return chatops.Config{}, err
		}
	}
	get := func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return lc.values.Get(name)
	}
	cfg := lc.file.Chatops()
	cfg.Slack = chatops.SlackConfig{SigningSecret: get("SLACK_SIGNING_SECRET"), BotToken: get("SLACK_BOT_TOKEN"), AppToken: get("SLACK_APP_TOKEN")}
	cfg.PagerDuty.WebhookSecret = get("PAGERDUTY_WEBHOOK_SECRET")
	if v := get("FIREBREAK_TEMPORAL_UI_URL"); v != "" {
		cfg.TemporalUIURL = v
	}
	if v := get("FIREBREAK_PAGERDUTY_CONFIRM_CHANNEL"); v != "" {
		cfg.PagerDuty.ConfirmChannel = v
	}
	return cfg, nil
}

// awsLoadOptions are the AWS SDK's load options: adaptive retries, and the file's region and
// profile where the SDK's own variables do not set them.
func (s *settings) awsLoadOptions() []func(*awsconfig.LoadOptions) error {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMode(aws.RetryModeAdaptive)}
	if lc := s.file(); lc != nil {
		if r := lc.values.Get("AWS_REGION"); r != "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, awsconfig.WithRegion(r))
		}
		if p := lc.values.Get("AWS_PROFILE"); p != "" && os.Getenv("AWS_PROFILE") == "" && os.Getenv("AWS_DEFAULT_PROFILE") == "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(p))
		}
	}
	return opts
}

// fileOnly is the file's value of a setting that an SDK reads from the environment itself:
// "" when the variable is set (the SDK has it) or the file leaves it unset.
func (s *settings) fileOnly(name string) string {
	if os.Getenv(name) != "" {
		return ""
	}
	if lc := s.file(); lc != nil {
		return lc.values.Get(name)
	}
	return ""
}

// iamEndpoint points the IAM client at aws.endpoints.iam when AWS_ENDPOINT_URL_IAM is unset.
func (s *settings) iamEndpoint(o *iam.Options) {
	if ep := s.fileOnly("AWS_ENDPOINT_URL_IAM"); ep != "" {
		o.BaseEndpoint = aws.String(ep)
	}
}

// s3Endpoint points the S3 client at aws.endpoints.s3 when AWS_ENDPOINT_URL_S3 is unset.
func (s *settings) s3Endpoint(o *s3.Options) {
	if ep := s.fileOnly("AWS_ENDPOINT_URL_S3"); ep != "" {
		o.BaseEndpoint = aws.String(ep)
	}
}

// vaultFileConfig applies the file's vault.address and vault.ca_cert to the SDK's
// configuration where VAULT_ADDR and VAULT_CACERT do not set them.
func (s *settings) vaultFileConfig(cfg *vaultapi.Config) error {
	if a := s.fileOnly("VAULT_ADDR"); a != "" {
		cfg.Address = a
	}
	if ca := s.fileOnly("VAULT_CACERT"); ca != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: ca}); err != nil {
			return usagef("vault.ca_cert %s: %v", ca, err)
		}
	}
	return nil
}

// vaultFileNamespace applies the file's vault.namespace where VAULT_NAMESPACE does not.
func (s *settings) vaultFileNamespace(c *vaultapi.Client) {
	if ns := s.fileOnly("VAULT_NAMESPACE"); ns != "" {
		c.SetNamespace(ns)
	}
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "The configuration file, firebreak.yaml: schema, validate, show",
		Long: `firebreak.yaml configures Temporal, Vault, AWS, Slack, PagerDuty, OIDC, the evidence store,
HTTP services, the payload codec, logging, listen addresses, and the chatops directory, roles
and PagerDuty rules. Commands read it from --config or FIREBREAK_CONFIG; every key with an
environment variable is overridden by that variable. Secrets are references:
vault:MOUNT/PATH#FIELD (KV v2, read at startup) or env:NAME. See docs/configuration.md.`,
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of firebreak.yaml (for editors: yaml-language-server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := config.JSONSchema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
	docs := &cobra.Command{
		Use:   "keys",
		Short: "Print every key with its environment variable and default (the table of docs/configuration.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), config.Markdown())
			return err
		},
	}
	var strict, withEnv, asJSON bool
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a configuration file: keys, types, values, secret references (without reading them)",
		Long: `Decodes FILE (default: --config, else FIREBREAK_CONFIG) strictly and checks every value. Problems
name the file, line and column. A literal secret is a warning (an error with --strict). With
--env, the environment's overrides are checked too. Exit 0 valid, 1 invalid, 2 no file.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := configPath(cmd)
			if len(args) == 1 {
				path = args[0]
			}
			if path == "" {
				return usagef("no configuration file: name one, or set --config or FIREBREAK_CONFIG")
			}
			lookup := func(string) (string, bool) { return "", false }
			if withEnv {
				lookup = os.LookupEnv
			}
			rep := validateReport{File: path, Valid: true}
			c, err := config.Load(path)
			if err == nil {
				c, err = c.Effective(lookup)
			}
			var warnings []config.Problem
			if err == nil {
				warnings, err = c.Validate()
			}
			if err != nil {
				if !isConfigError(err) {
					return usageError{err} // the file cannot be read
				}
				rep.Valid = false
				rep.Errors = problemStrings(err)
			}
			for _, w := range warnings {
				rep.Warnings = append(rep.Warnings, w.String())
			}
			if strict && len(warnings) > 0 {
				rep.Valid = false
			}
			if c != nil && err == nil {
				rep.VaultReferences = config.VaultReferences(c, lookup)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSONOut(out, rep); err != nil {
					return err
				}
			} else {
				for _, e := range rep.Errors {
					fmt.Fprintln(out, "error:", e)
				}
				for _, w := range rep.Warnings {
					fmt.Fprintln(out, "warning:", w)
				}
				if rep.Valid {
					fmt.Fprintf(out, "%s: valid (%d vault references, read at startup)\n", path, rep.VaultReferences)
				}
			}
			if !rep.Valid {
				return errCheckFailed
			}
			return nil
		},
	}
	validate.Flags().BoolVar(&strict, "strict", false, "treat warnings (literal secrets) as errors")
	validate.Flags().BoolVar(&withEnv, "env", false, "apply and check the environment's overrides too")
	validate.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	show := &cobra.Command{
		Use:   "show [FILE]",
		Short: "Print the effective configuration (the file with the environment's overrides), secrets redacted",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := configPath(cmd)
			if len(args) == 1 {
				path = args[0]
			}
			c := &config.Config{}
			if path != "" {
				var err error
				if c, err = config.Load(path); err != nil {
					return usageError{err}
				}
			}
			eff, err := c.Effective(os.LookupEnv)
			if err != nil {
				return usageError{err}
			}
			b, err := eff.Redacted()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	for _, c := range []*cobra.Command{validate, show} {
		c.Flags().String("config", os.Getenv("FIREBREAK_CONFIG"), "configuration file (FIREBREAK_CONFIG)")
	}
	cmd.AddCommand(schema, validate, show, docs)
	return cmd
}

// validateReport is `firebreak config validate --json`.
type validateReport struct {
	File            string   `json:"file"`
	Valid           bool     `json:"valid"`
	Errors          []string `json:"errors,omitempty"`
	Warnings        []string `json:"warnings,omitempty"`
	VaultReferences int      `json:"vault_references"`
}

func isConfigError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}

func problemStrings(err error) []string {
	var ce *config.Error
	if !errors.As(err, &ce) {
		return []string{err.Error()}
	}
	out := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		out[i] = p.String()
	}
	return out
}

// describeConfig is a one-line summary of a loaded file for doctor.
func describeConfig(lc *loadedConfig) string {
	return fmt.Sprintf("%s: valid, %d settings from the file", lc.file.File(), lc.values.Len())
}

// directory is the loaded firebreak.yaml's directory as identities, for the runs this
// command starts (nil without a file).
func (s *settings) directory() []playbooks.Identity {
	lc := s.file()
	if lc == nil || lc.file == nil {
		return nil
	}
	return chatops.Identities(lc.file.Chatops().Directory)
}
