package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/service"
)

// firebreak.yaml is read once per command, before it runs, from --config or FIREBREAK_CONFIG
// (applyConfig), into that command's settings (config.Settings: the environment over the
// file), which are then passed to whatever needs them.

// loadedConfig is the configuration file of the running command.
type loadedConfig struct {
	file     *config.Config // as written
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

// conf is s as packages take it: the process environment over the file.
func (s *settings) conf() *config.Settings {
	c := &config.Settings{Env: os.LookupEnv}
	if lc := s.file(); lc != nil {
		c.File, c.Values = lc.file, lc.values
	}
	return c
}

// get is the setting environment variable name overrides (config.Settings.Get).
func (s *settings) get(name string) string { return s.conf().Get(name) }

// getOr is get, or def when the setting is empty.
func (s *settings) getOr(name, def string) string { return s.conf().GetOr(name, def) }

// stateDir is FIREBREAK_STATE_DIR, else $XDG_STATE_HOME/firebreak, else ~/.local/state/firebreak.
func (s *settings) stateDir() string { return s.conf().StateDir() }

// directory is the loaded firebreak.yaml's directory as identities, for the runs this
// command starts (nil without a file).
func (s *settings) directory() []playbooks.Identity { return s.conf().Directory() }

// logger logs at level to w, as text or JSON lines (FIREBREAK_LOG_FORMAT).
func (s *settings) logger(w io.Writer, level string) (*slog.Logger, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	return s.conf().Logger(w, l)
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

// configPath is the file a command reads: its --config flag, else FIREBREAK_CONFIG.
func configPath(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("config"); f != nil {
		return f.Value.String()
	}
	return os.Getenv("FIREBREAK_CONFIG")
}

// loadConfig reads, validates and resolves the file at path, with vault: references unless
// noVault (service.LoadConfig).
func loadConfig(ctx context.Context, path string, noVault bool, logger *slog.Logger) (*loadedConfig, error) {
	l, err := service.LoadConfig(ctx, path, os.LookupEnv, noVault, logger)
	if err != nil {
		return nil, err
	}
	return &loadedConfig{file: l.File, values: l.Values, warnings: l.Warnings}, nil
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
		logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
		lc, err := loadConfig(contextOf(cmd), path, top == "drill" || top == "dev", logger) // drills and dev never read production's Vault (rule 5)
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
	if lc := st.file(); lc == nil || lc.file.File() != path {
		lc, err := loadConfig(context.Background(), path, true, slog.New(slog.DiscardHandler))
		if err != nil {
			return chatops.Config{}, err
		}
		st = &settings{lc: lc}
	}
	return st.conf().Chatops(), nil
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
			var env func(string) (string, bool)
			if withEnv {
				env = os.LookupEnv
			}
			rep, err := config.Check(path, env, strict)
			if err != nil {
				return err
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
			b, err := config.Show(path, os.LookupEnv)
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
