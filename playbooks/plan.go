// Package playbooks owns firebreak's playbook language: the YAML schema, parsing with line and
// column, validation, and compilation to a Plan — plain data that the interpreter workflow runs.
// It never imports the Temporal SDK or a vendor SDK.
package playbooks

import (
	"fmt"
	"slices"
	"time"
)

// CompilerVersion is recorded in every Plan so a run says which compiler produced it.
const CompilerVersion = "firebreak-compiler/1"

// Plan is a compiled playbook: plain data with a stable JSON encoding, the input of the
// interpreter workflow. Steps are in a topological order of their needs.
type Plan struct {
	Name            string        `json:"name"`
	Title           string        `json:"title"`
	Description     string        `json:"description,omitempty"`
	Severity        string        `json:"severity"`
	Version         string        `json:"version,omitempty"`
	SourceFile      string        `json:"source_file"`
	SourceSHA256    string        `json:"source_sha256"`
	CompilerVersion string        `json:"compiler_version"`
	Inputs          []Input       `json:"inputs"`
	Steps           []Step        `json:"steps"`
	Expect          []Expectation `json:"expect,omitempty"`
	Owners          []string      `json:"owners,omitempty"`
	Roles           Roles         `json:"roles,omitzero"`
	// Approval is the playbook's approval rule; approval.request steps default to it.
	Approval *ApprovalRule `json:"approval,omitempty"`
	// TwoPersonOptOut is set by approval: {two_person: false}: irreversible steps run without
	// the default second-person approval (the compiler warns).
	TwoPersonOptOut bool     `json:"two_person_opt_out,omitempty"`
	Triggers        Triggers `json:"triggers,omitzero"`
	// Outputs are named expressions evaluated when the run ends, recorded in its result.
	Outputs []NamedExpr `json:"outputs,omitempty"`
	// Notify are message templates for stakeholders, sent when their event happens.
	Notify []Notify `json:"notify,omitempty"`
	// Warnings are problems that do not stop the playbook from compiling; they are not part
	// of the workflow input.
	Warnings []Diagnostic `json:"-"`
	// Unverified lists the steps that change systems when no step verifies anything and no
	// expect checks the end state (one of the Warnings); a drill of such a playbook fails.
	Unverified []string `json:"-"`
}

// Roles says who may start a playbook and who may approve its approval steps. Role names
// are resolved to people by configuration (chatops), never by the playbook.
type Roles struct {
	Start   []string `json:"start,omitempty"`
	Approve []string `json:"approve,omitempty"`
}

// What happens when an approval is not granted in time.
const (
	OnTimeoutAbort    = "abort"    // the approval step fails and the run aborts
	OnTimeoutContinue = "continue" // the run goes on without approval; the step records timed_out
	OnTimeoutEscalate = "escalate" // the run escalates and waits one more timeout, then aborts
)

// ApprovalRule is how many people with which roles must approve, and within how long.
type ApprovalRule struct {
	Count     int      `json:"count"`
	Roles     []string `json:"roles"`
	Timeout   Duration `json:"timeout"`
	OnTimeout string   `json:"on_timeout"` // abort | continue | escalate
	// OnCall requires each approver to be on call in PagerDuty, now, for the run's incident
	// (its escalation policy); the workflow asks PagerDuty before counting a decision.
	OnCall bool `json:"on_call,omitempty"`
}

// Triggers are the ways a playbook starts besides the CLI.
type Triggers struct {
	Slash     *SlashTrigger    `json:"slash,omitempty"`
	PagerDuty []PagerDutyMatch `json:"pagerduty,omitempty"`
	Schedule  []Schedule       `json:"schedule,omitempty"`
}

// SlashTrigger maps a Slack slash command's words onto inputs: each name in Args takes one
// word, in order, and the last takes the rest of the text.
type SlashTrigger struct {
	Command string   `json:"command"`
	Args    []string `json:"args,omitempty"`
}

// PagerDutyMatch starts a playbook for an incident whose service, priority and urgency match
// (empty fields match anything) and for which Condition, a CEL bool over `incident`, holds.
// Inputs maps playbook inputs to CEL expressions over the incident.
type PagerDutyMatch struct {
	Service   string `json:"service,omitempty"`
	Priority  string `json:"priority,omitempty"`
	Urgency   string `json:"urgency,omitempty"`
	Condition string `json:"condition,omitempty"`
	Inputs    []Arg  `json:"inputs,omitempty"`
}

// Schedule runs the playbook as a drill on a cron schedule (five fields, UTC) with Inputs.
type Schedule struct {
	Cron   string            `json:"cron"`
	Inputs map[string]string `json:"inputs,omitempty"`
}

// NamedExpr is a named CEL expression.
type NamedExpr struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// Notification events.
const (
	NotifyStarted   = "started"
	NotifyFinished  = "finished"
	NotifyFailed    = "failed"
	NotifyEscalated = "escalated"
	NotifyApproval  = "approval"
	NotifyContained = "contained"
)

// Notify is a message template for stakeholders: Text (a CEL string expression) is sent to
// the run's Slack thread and PagerDuty incident when one of On happens.
type Notify struct {
	Name     string   `json:"name"`
	On       []string `json:"on"`
	Audience string   `json:"audience,omitempty"` // who it is for, e.g. "executives", shown by explain
	Text     string   `json:"text"`
	// Template is the text as written, for people reading the playbook (explain).
	Template string `json:"template,omitempty"`
}

// Input is a declared playbook input.
type Input struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // string, int, bool, duration, email, user, list
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Default     string   `json:"default,omitempty"` // as written; converted by BindInputs
	Pattern     string   `json:"pattern,omitempty"`
	Enum        []string `json:"enum,omitempty"`
}

// Step is one compiled step. Every argument is a CEL expression; literals and ${{ }}
// templates in the YAML are compiled into equivalent expressions.
type Step struct {
	ID      string      `json:"id"`
	Name    string      `json:"name,omitempty"`
	Action  string      `json:"action"`
	With    []Arg       `json:"with,omitempty"` // sorted by name
	Needs   []string    `json:"needs,omitempty"`
	If      string      `json:"if,omitempty"` // CEL bool; "" means always
	Retry   RetryPolicy `json:"retry"`
	Timeout Duration    `json:"timeout"`
	// Heartbeat is the action's heartbeat timeout (catalog Action.Heartbeat); 0 for actions
	// that record no progress.
	Heartbeat   Duration `json:"heartbeat,omitempty"`
	OnFailure   string   `json:"on_failure"` // abort | continue | escalate
	Destructive bool     `json:"destructive,omitempty"`
	// Contains steps cut the subject off; the run is contained when all have succeeded.
	// Time to contain ends when the last reversible one has (see workflows.RunResult).
	Contains bool `json:"contains,omitempty"`
	// Cuts steps cut everything the subject holds in one system at once (catalog Action.Cuts);
	// the first cut is made when all of a run's have succeeded (workflows.RunResult.FirstCutAt).
	Cuts bool `json:"cuts,omitempty"`
	// Irreversible steps cannot be undone; unless the playbook opts out, each waits (through
	// its needs) for an approval.request step — the compiler adds a two-person gate when
	// none precedes it.
	Irreversible bool `json:"irreversible,omitempty"`
	// Guards lists the irreversible steps a compiler-added two-person gate (an
	// approval.request step) holds back; empty for every other step.
	Guards   []string `json:"guards,omitempty"`
	Verifies bool     `json:"verifies,omitempty"` // its outputs.passed must be true
	// Idempotent steps receive an idempotency key from the interpreter, stable across retries.
	Idempotent bool `json:"idempotent,omitempty"`
	// Identity names the internal argument (IdentityArg or IdentitiesArg) through which the
	// interpreter hands the step the directory entries of its subject(s); "" for none.
	Identity string `json:"identity,omitempty"`
	// Outputs lists the action's outputs with their types, so a step skipped by its if
	// condition still yields typed empty outputs for the steps and expectations after it.
	// A foreach step's outputs are items (one map of the action's outputs per item) and
	// failed (how many items failed).
	Outputs []Output `json:"outputs,omitempty"`
	// Foreach is a CEL list expression; the action runs once per element, with item and
	// item_index in scope, at most Concurrency at a time (0: all at once).
	Foreach     string `json:"foreach,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	// Builtin steps (approval.request, manual, wait) are run by the interpreter itself.
	Builtin bool `json:"builtin,omitempty"`
	// Approval is the effective rule of an approval.request step.
	Approval *ApprovalRule `json:"approval,omitempty"`
	// Assignee is the role that confirms a manual step.
	Assignee string `json:"assignee,omitempty"`
	// Instructions is the source text of a manual step's instructions or an approval's
	// message, for people reading the playbook (explain); the step uses its compiled argument.
	Instructions string `json:"instructions,omitempty"`
	// Compensate is the undo run when the run aborts after this step succeeded.
	Compensate *Compensation `json:"compensate,omitempty"`
}

// Compensation is the undo of a step: an action with arguments that may refer to the step's
// own outputs.
type Compensation struct {
	Action     string      `json:"action"`
	With       []Arg       `json:"with,omitempty"`
	Retry      RetryPolicy `json:"retry"`
	Timeout    Duration    `json:"timeout"`
	Idempotent bool        `json:"idempotent,omitempty"`
}

// Output is a declared output of a step's action.
type Output struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// Zero returns the empty value of an output's type.
func (o Output) Zero() any {
	switch o.Type {
	case TypeString:
		return ""
	case TypeInt:
		return int64(0)
	case TypeBool:
		return false
	case TypeStringList, TypeIntList, TypeMapList:
		return []any{}
	case TypeMap:
		return map[string]any{}
	}
	return nil
}

// Arg is one compiled argument of a step.
type Arg struct {
	Name string `json:"name"`
	Expr string `json:"expr"` // a CEL expression
}

// Expectation is an end-state assertion that a run (a drill in particular) checks at the end.
type Expectation struct {
	Name string `json:"name"`
	That string `json:"that"` // CEL bool over inputs and step outputs
}

// RetryPolicy says how often and how fast a step's action is retried.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts; 0 means as many as For allows.
	MaxAttempts int `json:"max_attempts"`
	// For bounds how long the step keeps retrying in all (its schedule-to-close time); 0
	// means only MaxAttempts bounds it.
	For          Duration `json:"for,omitempty"`
	Initial      Duration `json:"initial"`
	Backoff      float64  `json:"backoff"`
	MaxInterval  Duration `json:"max_interval"`
	NonRetryable []string `json:"non_retryable,omitempty"` // error types never retried
}

// Failure policies of a step.
const (
	OnFailureAbort    = "abort"
	OnFailureContinue = "continue"
	// OnFailureEscalate raises an escalation and waits for a person's decision: approve
	// carries on as continue would, deny (or no answer in time) aborts.
	OnFailureEscalate = "escalate"
)

// Duration is a time.Duration that encodes in JSON and YAML as a Go duration string ("30s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration: expected a value like 30s or 5m, found %q", b)
	}
	*d = Duration(v)
	return nil
}

// DrillInputs returns the inputs of the playbook's first drill schedule, which a drill run
// uses as defaults; nil when it has none.
func (p *Plan) DrillInputs() map[string]string {
	if len(p.Triggers.Schedule) == 0 {
		return nil
	}
	return p.Triggers.Schedule[0].Inputs
}

// HasInput reports whether the playbook declares an input called name.
func (p *Plan) HasInput(name string) bool {
	return slices.ContainsFunc(p.Inputs, func(in Input) bool { return in.Name == name })
}

// Step returns the step with the given id, or false.
func (p *Plan) Step(id string) (Step, bool) {
	for _, s := range p.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// Identity is one person of firebreak.yaml's directory, as a run carries it (RunInput's
// Directory): the subject that playbooks and slash commands name, and where that person is
// found in each system. It holds no secret.
type Identity struct {
	Subject string         `json:"subject"`
	Email   string         `json:"email,omitempty"`
	SlackID string         `json:"slack_id,omitempty"`
	Vault   *VaultIdentity `json:"vault,omitempty"`
	AWS     *AWSIdentity   `json:"aws,omitempty"`
}

// VaultIdentity says how the person's Vault identity entity is found: by an alias (their
// login name on an auth mount), by entity name, or by entity id; exactly one is set.
type VaultIdentity struct {
	Alias    *VaultAlias `json:"alias,omitempty"`
	Entity   string      `json:"entity,omitempty"`
	EntityID string      `json:"entity_id,omitempty"`
}

// VaultAlias is a login name on the auth method mounted at Mount (e.g. oidc).
type VaultAlias struct {
	Mount string `json:"mount"`
	Name  string `json:"name"`
}

// AWSIdentity is the person's IAM user, or None when they have none.
type AWSIdentity struct {
	IAMUser string `json:"iam_user,omitempty"`
	None    bool   `json:"none,omitempty"`
}
