package chatops

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// DefaultStartRole is the role required to start a playbook that names no roles of its own.
const DefaultStartRole = "responder"

// Config is the chatops part of firebreak's configuration file (YAML, loaded by cmd). Its zero
// value serves no Slack or PagerDuty request: with no signing secret every request fails
// verification.
type Config struct {
	// Slack holds the Slack app's credentials. cmd fills them from SLACK_SIGNING_SECRET and
	// SLACK_BOT_TOKEN when the file leaves them empty.
	Slack SlackConfig `yaml:"slack"`
	// PagerDuty holds the webhook secret and the incident → playbook rules.
	PagerDuty PagerDutyConfig `yaml:"pagerduty"`
	// Directory maps people to the identities playbooks act on.
	Directory []Person `yaml:"directory"`
	// Roles maps a role name to the Slack users and user groups that hold it.
	Roles map[string]RoleMembers `yaml:"roles"`
	// DefaultStartRoles may start a playbook whose Plan names no start roles; empty means
	// [DefaultStartRole].
	DefaultStartRoles []string `yaml:"default_start_roles"`
	// TemporalUIURL, when set, is the base of links to runs in the Temporal Web UI
	// (e.g. http://127.0.0.1:8233/namespaces/default).
	TemporalUIURL string `yaml:"temporal_ui_url"`
}

// SlackConfig holds the Slack app's credentials.
type SlackConfig struct {
	// SigningSecret verifies every Slack request (v0 HMAC-SHA256). Never logged.
	SigningSecret string `yaml:"signing_secret"`
	// BotToken calls users.info, users.lookupByEmail and usergroups.users.list. Never logged.
	BotToken string `yaml:"bot_token"`
	// AppToken (xapp-…) opens a Socket Mode connection (firebreak serve --socket-mode) for
	// teams without a public URL; cmd fills it from SLACK_APP_TOKEN. Never logged.
	AppToken string `yaml:"app_token"`
}

// PagerDutyConfig holds the PagerDuty webhook secret and trigger rules.
type PagerDutyConfig struct {
	// WebhookSecret verifies X-PagerDuty-Signature. Never logged.
	WebhookSecret string `yaml:"webhook_secret"`
	// Rules say which incidents start which playbook; the first match wins. They come before
	// the playbooks' own triggers.pagerduty, which match when no rule does.
	Rules []TriggerRule `yaml:"rules"`
	// ConfirmChannel is the Slack channel where a run whose inputs come from an incident's
	// free text (title, description) waits for a responder to confirm it; empty means such
	// runs never start (see the webhook). Needs the bot token.
	ConfirmChannel string `yaml:"confirm_channel"`
}

// TriggerRule matches a triggered PagerDuty incident to a playbook. Empty match fields match
// anything. Rules are an operator's addition to (and override of) the playbooks' own
// triggers.pagerduty: they are tried first.
type TriggerRule struct {
	// Service is a PagerDuty service id (e.g. PSVC001).
	Service string `yaml:"service"`
	// Urgency is high or low.
	Urgency string `yaml:"urgency"`
	// Priority is a priority summary such as P1.
	Priority string `yaml:"priority"`
	// TitlePattern is a regular expression the incident title must match.
	TitlePattern string `yaml:"title_pattern"`
	// Playbook is the playbook to start.
	Playbook string `yaml:"playbook"`
	// Inputs bind playbook inputs from the incident.
	Inputs map[string]InputSource `yaml:"inputs"`
}

// InputSource says where one playbook input comes from: a literal Value, or an incident field
// (From: id, title, description, service, urgency, priority, or details.KEY — a scalar of the
// structured details sent with the incident) optionally narrowed by Pattern, whose first
// capture group (or whole match) is the value.
//
// PagerDuty sets id, service, urgency and priority. Everything else is written by whoever
// raises the incident: title and description by anyone who can open one, and details.KEY by
// anyone holding the service's Events API v2 routing key (custom_details are whatever the
// event says). So title, description and details are all free text: a run with any input
// (other than reason) from them starts only once a responder confirms it in
// PagerDutyConfig.ConfirmChannel. Trusted, allowed only on a details.KEY input, says the
// operator vouches for that key — the routing key is held only by an integration they
// control, which fills it in — and the run starts without confirmation.
type InputSource struct {
	// Value is a literal value; From, when set, wins over it.
	Value string `yaml:"value"`
	// From is the incident field the value is read from.
	From string `yaml:"from"`
	// Pattern narrows the field's value: its first capture group, or its whole match.
	Pattern string `yaml:"pattern"`
	// Trusted (details.KEY only) exempts the input from a responder's confirmation.
	Trusted bool `yaml:"trusted"`
}

// freeText reports whether an input bound from src needs a responder's confirmation: its
// value comes from something whoever raised the incident wrote.
func (src InputSource) freeText() bool {
	if _, ok := strings.CutPrefix(src.From, "details."); ok {
		return !src.Trusted
	}
	return slices.Contains(freeTextFields, src.From)
}

// Person is one directory entry: the subject name is what playbooks and slash commands call
// the person; Vault and AWS say where they are found (without them, the subject is the Vault
// entity name and the IAM user name); Email links them to Slack (users.lookupByEmail,
// users.info).
type Person struct {
	Subject string `yaml:"subject"`
	Email   string `yaml:"email"`
	// SlackID is optional: when set, no Slack API call is needed to resolve the person.
	SlackID string `yaml:"slack_id"`
	// PagerDutyID is optional: their PagerDuty user id, so a run started by an incident they
	// raised is known to be theirs and they cannot approve it.
	PagerDutyID string `yaml:"pagerduty_id"`
	// Vault says how their identity entity is found; nil: the subject is its name.
	Vault *PersonVault `yaml:"vault"`
	// AWS is their IAM user, or none; nil: the subject is the IAM user name.
	AWS *PersonAWS `yaml:"aws"`
}

// RoleMembers lists who holds a role: Slack user ids (U…) and user-group ids (S…).
type RoleMembers struct {
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
}

// inputFields are the incident fields an InputSource may read.
var inputFields = []string{"id", "title", "description", "service", "urgency", "priority"}

// Validate checks the configuration for mistakes a person can fix: rules without a playbook,
// patterns that do not compile, directory entries without a subject.
func (c Config) Validate() error {
	var errs []error
	for i, r := range c.PagerDuty.Rules {
		if r.Playbook == "" {
			errs = append(errs, fmt.Errorf("pagerduty.rules[%d]: expected a playbook name, found none", i))
		}
		if r.TitlePattern != "" {
			if _, err := regexp.Compile(r.TitlePattern); err != nil {
				errs = append(errs, fmt.Errorf("pagerduty.rules[%d].title_pattern: %v", i, err))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(r.Inputs)) {
			src := r.Inputs[name]
			if key, ok := strings.CutPrefix(src.From, "details."); (ok && key == "") || (!ok && src.From != "" && !slices.Contains(inputFields, src.From)) {
				errs = append(errs, fmt.Errorf("pagerduty.rules[%d].inputs.%s.from: expected one of %s or details.KEY, found %q", i, name, strings.Join(inputFields, ", "), src.From))
			}
			if _, details := strings.CutPrefix(src.From, "details."); src.Trusted && !details {
				errs = append(errs, fmt.Errorf("pagerduty.rules[%d].inputs.%s.trusted: expected only on an input from details.KEY (an integration's custom details), found it on from %q, which is %s", i, name, src.From, map[bool]string{true: "free text whoever opens an incident types", false: "not read from the incident's details"}[slices.Contains(freeTextFields, src.From)]))
			}
			if src.Pattern != "" {
				if _, err := regexp.Compile(src.Pattern); err != nil {
					errs = append(errs, fmt.Errorf("pagerduty.rules[%d].inputs.%s.pattern: %v", i, name, err))
				}
			}
		}
	}
	subjects := map[string]int{}
	for i, p := range c.Directory {
		if p.Subject == "" {
			errs = append(errs, fmt.Errorf("directory[%d]: expected a subject (Vault entity / IAM user name), found none", i))
		} else if j, dup := subjects[p.Subject]; dup {
			errs = append(errs, fmt.Errorf("directory[%d]: subject %q is also directory[%d]; expected each person once", i, p.Subject, j))
		} else {
			subjects[p.Subject] = i
		}
		errs = append(errs, validatePerson(i, p)...)
		if p.Email == "" && p.SlackID == "" {
			errs = append(errs, fmt.Errorf("directory[%d] (%s): expected an email or a slack_id to link the person to Slack", i, p.Subject))
		}
	}
	return errors.Join(errs...)
}

func (c Config) startRoles() []string {
	if len(c.DefaultStartRoles) > 0 {
		return c.DefaultStartRoles
	}
	return []string{DefaultStartRole}
}
