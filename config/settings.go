package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// A command's configuration is read once, before it runs, from --config or FIREBREAK_CONFIG,
// into its Settings, which are then passed to whatever needs them. A setting is the
// environment variable NAME when it is set and non-empty, else the file's value for the key
// NAME overrides, with secret references already resolved. Without a file, a setting is the
// environment variable: every variable works exactly as it did before the file existed.

// Settings are one command's configuration, resolved once before the command runs and passed
// to the constructors that need it. The zero value (and nil) read nothing.
type Settings struct {
	// Env looks up an environment variable; cmd passes os.LookupEnv. nil: no environment.
	Env func(string) (string, bool)
	// File is the configuration file as written; nil without one.
	File *Config
	// Values are the file's settings, secrets resolved, by environment variable name.
	Values *Values
}

// env is the environment variable name; "" when unset or when s has no environment.
func (s *Settings) env(name string) string {
	if s == nil || s.Env == nil {
		return ""
	}
	v, _ := s.Env(name)
	return v
}

// Get is the value of the setting the environment variable name overrides: the variable when
// set and non-empty, else the configuration file's value, else "".
func (s *Settings) Get(name string) string {
	if v := s.env(name); v != "" {
		return v
	}
	if s != nil {
		return s.Values.Get(name)
	}
	return ""
}

// GetOr is Get, or def when the setting is empty.
func (s *Settings) GetOr(name, def string) string {
	if v := s.Get(name); v != "" {
		return v
	}
	return def
}

// FileOnly is the file's value of a setting that an SDK reads from the environment itself:
// "" when the variable is set (the SDK has it) or the file leaves it unset.
func (s *Settings) FileOnly(name string) string {
	if s == nil || s.env(name) != "" {
		return ""
	}
	return s.Values.Get(name)
}

// StateDir is FIREBREAK_STATE_DIR, else $XDG_STATE_HOME/firebreak, else
// ~/.local/state/firebreak.
func (s *Settings) StateDir() string {
	if d := s.Get("FIREBREAK_STATE_DIR"); d != "" {
		return d
	}
	if d := s.env("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "firebreak")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "firebreak")
	}
	return ".firebreak"
}

// Directory is the file's directory as identities, for the runs a command starts (nil
// without a file).
func (s *Settings) Directory() []playbooks.Identity {
	if s == nil || s.File == nil {
		return nil
	}
	return chatops.Identities(s.File.Chatops().Directory)
}

// People names people in audit records from the file's directory: any of a person's
// identities (Slack or PagerDuty user id, email, subject) gives "subject <email>". nil
// without a file.
func (s *Settings) People() func(string) string {
	if s == nil || s.File == nil {
		return nil
	}
	dir := s.File.Chatops().Directory
	return func(id string) string {
		for _, p := range dir {
			if id != "" && (id == p.SlackID || id == p.PagerDutyID || strings.EqualFold(id, p.Email) || id == p.Subject) {
				if p.Email == "" {
					return p.Subject
				}
				return p.Subject + " <" + p.Email + ">"
			}
		}
		return ""
	}
}

// Logger logs at level to w, as text, or as JSON lines when FIREBREAK_LOG_FORMAT=json (for
// log pipelines in production).
func (s *Settings) Logger(w io.Writer, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch f := s.Get("FIREBREAK_LOG_FORMAT"); f {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, Usagef("FIREBREAK_LOG_FORMAT: expected text or json, found %q", f)
	}
}

// Chatops is the file's chatops configuration with its secrets: each from its environment
// variable when set, else from the file's resolved reference. nil settings or no file give
// the zero configuration.
func (s *Settings) Chatops() chatops.Config {
	if s == nil || s.File == nil {
		return chatops.Config{}
	}
	cfg := s.File.Chatops()
	cfg.Slack = chatops.SlackConfig{SigningSecret: s.Get("SLACK_SIGNING_SECRET"), BotToken: s.Get("SLACK_BOT_TOKEN"), AppToken: s.Get("SLACK_APP_TOKEN")}
	cfg.PagerDuty.WebhookSecret = s.Get("PAGERDUTY_WEBHOOK_SECRET")
	if v := s.Get("FIREBREAK_TEMPORAL_UI_URL"); v != "" {
		cfg.TemporalUIURL = v
	}
	if v := s.Get("FIREBREAK_PAGERDUTY_CONFIRM_CHANNEL"); v != "" {
		cfg.PagerDuty.ConfirmChannel = v
	}
	return cfg
}

// Loaded is a configuration file read, validated and resolved for a command.
type Loaded struct {
	File     *Config   // as written
	Values   *Values   // its settings, secrets resolved (all but vault: ones until ResolveVault)
	Warnings []Problem // literal secrets and the like
}

// Open reads the file at path, applies the environment env to validate it, and resolves
// every secret reference but vault: ones, so that a Vault client for those can be built from
// the file's own vault settings. Every error is a UsageError: the file is the operator's.
func Open(ctx context.Context, path string, env func(string) (string, bool)) (*Loaded, error) {
	file, err := Load(path)
	if err != nil {
		return nil, UsageError{err}
	}
	eff, err := file.Effective(env)
	if err != nil {
		return nil, UsageError{err}
	}
	warnings, err := eff.Validate()
	if err != nil {
		return nil, UsageError{err}
	}
	pre, err := Resolve(ctx, file, ResolveOptions{Lookup: env, SkipVault: true})
	if err != nil {
		return nil, UsageError{err}
	}
	return &Loaded{File: file, Values: pre, Warnings: warnings}, nil
}

// ResolveVault resolves the file's references again, vault: ones too, reading them with kv.
func (l *Loaded) ResolveVault(ctx context.Context, env func(string) (string, bool), kv VaultKV) error {
	v, err := Resolve(ctx, l.File, ResolveOptions{Lookup: env, Vault: kv})
	if err != nil {
		return err
	}
	l.Values = v
	return nil
}

// UsageError marks the operator's mistake — a bad setting, file, flag or argument — which a
// command reports as bad usage (exit code 2) rather than as a failure.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef is a UsageError with a formatted message.
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Report is what `firebreak config validate` says of a file.
type Report struct {
	File            string   `json:"file"`
	Valid           bool     `json:"valid"`
	Errors          []string `json:"errors,omitempty"`
	Warnings        []string `json:"warnings,omitempty"`
	VaultReferences int      `json:"vault_references"`
}

// Check decodes the file at path strictly and checks every value, with the overrides of env
// applied (nil: none). A literal secret is a warning, which makes the file invalid when
// strict. The error is a UsageError when the file cannot be read at all.
func Check(path string, env func(string) (string, bool), strict bool) (Report, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	rep := Report{File: path, Valid: true}
	c, err := Load(path)
	if err == nil {
		c, err = c.Effective(env)
	}
	var warnings []Problem
	if err == nil {
		warnings, err = c.Validate()
	}
	if err != nil {
		if !errors.As(err, new(*Error)) {
			return rep, UsageError{err} // the file cannot be read
		}
		rep.Valid = false
		rep.Errors = ProblemStrings(err)
	}
	for _, w := range warnings {
		rep.Warnings = append(rep.Warnings, w.String())
	}
	if strict && len(warnings) > 0 {
		rep.Valid = false
	}
	if c != nil && err == nil {
		rep.VaultReferences = VaultReferences(c, env)
	}
	return rep, nil
}

// Show is the effective configuration of the file at path (none: "") with the overrides of
// env, secrets redacted. A file that cannot be read or decoded is a UsageError.
func Show(path string, env func(string) (string, bool)) ([]byte, error) {
	c := &Config{}
	if path != "" {
		var err error
		if c, err = Load(path); err != nil {
			return nil, UsageError{err}
		}
	}
	eff, err := c.Effective(env)
	if err != nil {
		return nil, UsageError{err}
	}
	return eff.Redacted()
}

// ProblemStrings are the problems of a configuration error, one a line; any other error is
// its own line.
func ProblemStrings(err error) []string {
	var ce *Error
	if !errors.As(err, &ce) {
		return []string{err.Error()}
	}
	out := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		out[i] = p.String()
	}
	return out
}
