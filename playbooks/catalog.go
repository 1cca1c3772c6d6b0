package playbooks

import (
	"sort"
	"time"
)

// Type is the type of an action argument, an action output or an input, as playbook authors
// write it. Each maps to a CEL type for compile-time checking.
type Type string

// The types of the playbook language.
const (
	TypeString     Type = "string"
	TypeInt        Type = "int"
	TypeBool       Type = "bool"
	TypeStringList Type = "list<string>"
	TypeIntList    Type = "list<int>"
	TypeMapList    Type = "list<map>"
	TypeMap        Type = "map"
	TypeAny        Type = "any"
)

// Param is one argument or output of an action.
type Param struct {
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Required bool   `json:"required,omitempty"`
	Doc      string `json:"doc"`
	// Internal arguments are filled in by the interpreter (idempotency keys); playbooks may not set them.
	Internal bool `json:"internal,omitempty"`
	// Literal arguments must be written as plain values, not expressions, so the compiler can
	// check them (a role name, a duration).
	Literal bool `json:"literal,omitempty"`
	// URLPath arguments are URL paths: each ${{ }} value interpolated into one is
	// path-escaped (pathEscape), so an input cannot add segments, a query or a fragment.
	URLPath bool `json:"url_path,omitempty"`
}

// Action describes one entry of the closed action catalog. The compiler, the JSON Schema and
// `firebreak actions` are all generated from this table.
type Action struct {
	Name        string  `json:"name"`
	Summary     string  `json:"summary"`
	Args        []Param `json:"args"`
	Outputs     []Param `json:"outputs"`
	Destructive bool    `json:"destructive"` // changes a system; needs evidence first
	Contains    bool    `json:"contains"`    // it cuts the subject off; see Step.Contains
	// Cuts actions cut off everything the subject holds in one system in one call, whatever
	// they hold (disabling the identity entity fails every token bound to it; deactivating the
	// keys; denying older sessions): the first cut. See Step.Cuts.
	Cuts bool `json:"cuts,omitempty"`
	// Irreversible actions cannot be undone (deleting keys, users, logins or MFA secrets,
	// rotating shared secrets others depend on): by default a playbook step that runs one
	// waits for a second person's approval (the two-person rule), while reversible
	// containment runs at once.
	Irreversible bool `json:"irreversible,omitempty"`
	// IrreversibleWith names a bool argument that makes the action irreversible when it is
	// not the literal false (awsiam.deactivate_mfa_devices deletes virtual devices with
	// delete_virtual).
	IrreversibleWith string        `json:"irreversible_with,omitempty"`
	Verifies         bool          `json:"verifies"` // outputs.passed must be true or the run fails
	Retry            RetryPolicy   `json:"retry"`
	Timeout          time.Duration `json:"timeout"`
	// Heartbeat, when set, is how long the activity may go without recording progress before
	// Temporal counts the attempt lost: actions that work through something as large as Vault's
	// token store record progress, and a retry resumes from it (see Step.Heartbeat).
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
	// Preflight names an action that takes a subset of this one's arguments and checks,
	// changing nothing, what would make it fail; `action run` runs it before the two-person
	// gate, so nobody is asked to approve what cannot happen.
	Preflight string `json:"preflight,omitempty"`
	// Builtin actions are carried out by the interpreter (timers, human decisions), not by an
	// activity.
	Builtin bool `json:"builtin,omitempty"`
}

// DefaultRetryFor is how long a step that changes a system keeps retrying unless its playbook
// says otherwise (retry.for).
const DefaultRetryFor = 10 * time.Minute

// MaxRetryFor is the longest retry.for a playbook may ask.
const MaxRetryFor = 24 * time.Hour

// Built-in actions.
const (
	ActionApproval = "approval.request"
	ActionManual   = "manual"
	ActionWait     = "wait"
	ActionAssert   = "assert"
)

// IdentityArg and IdentitiesArg are the internal arguments through which the interpreter
// hands an action the directory entry of its subject (or user), or of each of its subjects,
// from RunInput.Directory: where the person is found in each system.
const (
	IdentityArg   = "identity"
	IdentitiesArg = "identities"
)

// IdempotencyKeyArg is the internal argument through which the interpreter hands an action a
// key that is stable across retries and replays of the same step.
const IdempotencyKeyArg = "idempotency_key"

var (
	// fastRetry is for steps that change systems, containment first: the first retry comes
	// quickly, and a vendor outage of minutes is waited out (the run reports the wait) rather
	// than failing containment after a few seconds. retry.for in a playbook changes the bound.
	fastRetry = RetryPolicy{MaxAttempts: 100, For: Duration(DefaultRetryFor), Initial: Duration(100 * time.Millisecond), Backoff: 2, MaxInterval: Duration(15 * time.Second), NonRetryable: []string{"UnknownSubject", "AccessDenied", "InvalidInput"}}
	readRetry = RetryPolicy{MaxAttempts: 5, Initial: Duration(200 * time.Millisecond), Backoff: 2, MaxInterval: Duration(5 * time.Second), NonRetryable: []string{"UnknownSubject", "AccessDenied", "InvalidInput"}}
	// planRetry is for reads that gate remediation rather than containment (vault.plan_rotation):
	// they wait out a vendor outage of a minute, with a bounded count of attempts so that the last
	// one knows it is the last and reports what it could not check instead of failing the step.
	planRetry = RetryPolicy{MaxAttempts: 11, Initial: Duration(200 * time.Millisecond), Backoff: 2, MaxInterval: Duration(15 * time.Second), NonRetryable: []string{"UnknownSubject", "AccessDenied", "InvalidInput"}}
	// chatRetry is patient: reporting may lag, it must not give up quickly nor block containment.
	chatRetry = RetryPolicy{MaxAttempts: 10, Initial: Duration(500 * time.Millisecond), Backoff: 2, MaxInterval: Duration(30 * time.Second), NonRetryable: []string{"UnknownUser", "UnknownIncident", "InvalidInput", "AccessDenied"}}
)

func checks() []Param {
	return []Param{
		{Name: "passed", Type: TypeBool, Doc: "true when every check passed"},
		{Name: "checks", Type: TypeMapList, Doc: "each check: name, passed, detail"},
	}
}

var catalog = []Action{
	{
		Name: ActionApproval, Summary: "Wait until enough people with an approving role approve (a Temporal update); deny or timeout ends it as the playbook says.",
		Args: []Param{
			{Name: "message", Type: TypeString, Required: true, Doc: "what the approvers are asked to approve"},
			{Name: "count", Type: TypeInt, Literal: true, Doc: "approvals needed (default: the playbook's approval.count, else 1)"},
			{Name: "roles", Type: TypeStringList, Literal: true, Doc: "roles that may approve (default: approval.roles, else roles.approve)"},
			{Name: "timeout", Type: TypeString, Literal: true, Doc: "how long to wait, e.g. 15m (default: approval.timeout, else 1h)"},
			{Name: "on_timeout", Type: TypeString, Literal: true, Doc: "abort, continue or escalate (default: approval.on_timeout, else abort)"},
			{Name: "on_call", Type: TypeBool, Literal: true, Doc: "each approver must be on call in PagerDuty for the run's incident (default: approval.on_call)"},
		},
		Outputs: []Param{
			{Name: "granted", Type: TypeBool, Doc: "enough approvals arrived"},
			{Name: "approvers", Type: TypeStringList, Doc: "who approved"},
			{Name: "timed_out", Type: TypeBool, Doc: "the timeout passed first (on_timeout: continue)"},
		},
		Builtin: true, Timeout: time.Hour,
	},
	{
		Name: ActionManual, Summary: "A task for a person (the tabletop part of a drill): post the instructions and wait until someone with the assignee role confirms it.",
		Args: []Param{
			{Name: "instructions", Type: TypeString, Required: true, Doc: "what to do, step by step"},
			{Name: "assignee", Type: TypeString, Required: true, Literal: true, Doc: "the role that carries it out and confirms it"},
			{Name: "owners", Type: TypeStringList, Doc: "who else may confirm it: the owners of what is to be done (directory subjects, emails or role names; empty ones are ignored)"},
		},
		Outputs: []Param{
			{Name: "confirmed_by", Type: TypeString, Doc: "who confirmed it"},
			{Name: "note", Type: TypeString, Doc: "what they said"},
			{Name: "response_ms", Type: TypeInt, Doc: "milliseconds from request to confirmation"},
		},
		Builtin: true, Timeout: 4 * time.Hour,
	},
	{
		Name: ActionWait, Summary: "Wait for a duration on a durable timer (survives restarts), e.g. to monitor after containment.",
		Args:    []Param{{Name: "duration", Type: TypeString, Required: true, Doc: "how long, e.g. 10m"}},
		Outputs: []Param{{Name: "waited_ms", Type: TypeInt, Doc: "milliseconds waited"}},
		Builtin: true, Timeout: 7 * 24 * time.Hour,
	},
	{
		Name: ActionAssert, Summary: "Stop the run here, with the message, unless the condition holds (e.g. the subject was found in at least one system) — before any change.",
		Args: []Param{
			{Name: "that", Type: TypeBool, Required: true, Doc: "the condition that must hold"},
			{Name: "message", Type: TypeString, Required: true, Doc: "what failed, said to people, when it does not"},
		},
		Outputs: []Param{{Name: "passed", Type: TypeBool, Doc: "the condition held"}},
		Builtin: true, Timeout: time.Minute,
	},
	{
		Name: "evidence.snapshot", Summary: "Store a snapshot of what later steps will change, with a SHA-256 digest chained to the previous record.",
		Args: []Param{
			{Name: "subject", Type: TypeString, Required: true, Doc: "whose state this is"},
			{Name: "data", Type: TypeMap, Required: true, Doc: "the state to record (step outputs of inventories)"},
			{Name: "kind", Type: TypeString, Doc: "a label for the snapshot, e.g. pre-containment"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "stable per step"},
		},
		Outputs: []Param{
			{Name: "ref", Type: TypeString, Doc: "where the record is stored"},
			{Name: "sha256", Type: TypeString, Doc: "digest of the record's data"},
			{Name: "chain_sha256", Type: TypeString, Doc: "digest chaining this record to the previous one"},
			{Name: "seq", Type: TypeInt, Doc: "position in the evidence chain"},
		},
		Retry: readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "vault.inventory", Summary: "Find the subject's Vault identity entity (through the directory's alias, entity or entity id; else by name), their live tokens, and the KV v2 secrets Vault says a live token or their next login may read. Absent or unavailable is a result (present: false), so other systems are still contained.",
		Args: []Param{
			{Name: "subject", Type: TypeString, Required: true, Doc: "the person (entity name unless the directory says otherwise)"},
			{Name: "secret_mount", Type: TypeString, Doc: "narrow to one KV v2 mount (default every KV v2 mount)"},
			{Name: "secret_prefix", Type: TypeString, Doc: "narrow to a path prefix (default the whole mount)"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the subject's directory entry"},
		},
		Outputs: vaultInventoryOutputs(),
		Retry:   readRetry, Timeout: 10 * time.Minute, Heartbeat: 30 * time.Second,
	},
	{
		Name: "vault.read_entity", Summary: "Find the subject's Vault identity entity (through the directory's alias, entity or entity id; else by name) with its policies and aliases: a request or two, whatever Vault holds; what the first cut (disabling the entity) needs. Absent or unavailable is a result (present: false).",
		Args: []Param{
			{Name: "subject", Type: TypeString, Required: true, Doc: "the person (entity name unless the directory says otherwise)"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the subject's directory entry"},
		},
		Outputs: []Param{
			{Name: "subject", Type: TypeString, Doc: "the person"},
			{Name: "present", Type: TypeBool, Doc: "the entity was found"},
			{Name: "status", Type: TypeString, Doc: "found, absent or unavailable"},
			{Name: "detail", Type: TypeString, Doc: "what was found, or why not"},
			{Name: "looked_for", Type: TypeString, Doc: "where the subject was looked for"},
			{Name: "entity_id", Type: TypeString, Doc: "identity entity id"},
			{Name: "entity_name", Type: TypeString, Doc: "identity entity name"},
			{Name: "disabled", Type: TypeBool, Doc: "whether the entity was already disabled"},
			{Name: "policies", Type: TypeStringList, Doc: "entity policies"},
			{Name: "aliases", Type: TypeMapList, Doc: "logins bound to the entity: name, mount_accessor, mount_path, mount_type"},
		},
		Retry: readRetry, Timeout: 60 * time.Second,
	},
	{
		Name: "vault.readable_secrets", Summary: "Which KV v2 secrets the subject's next login may read, asked of Vault with a short-lived probe token bound to their identity entity (entity, group and templated policies evaluated by Vault), without looking up every token: a few requests whatever Vault holds. Run it before disabling the entity: Vault no longer answers for a disabled one. Absent or unavailable is a result (present: false).",
		Args: []Param{
			{Name: "subject", Type: TypeString, Required: true, Doc: "the person (entity name unless the directory says otherwise)"},
			{Name: "secret_mount", Type: TypeString, Doc: "narrow to one KV v2 mount (default every KV v2 mount)"},
			{Name: "secret_prefix", Type: TypeString, Doc: "narrow to a path prefix (default the whole mount)"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the subject's directory entry"},
		},
		Outputs: vaultInventoryOutputs(),
		Retry:   readRetry, Timeout: 2 * time.Minute,
	},
	{
		Name: "vault.inventory_many", Summary: "Inventory many subjects in one pass over Vault's tokens (each token looked up once, not once per subject): for a list of people.",
		Args: []Param{
			{Name: "subjects", Type: TypeStringList, Required: true, Doc: "the people, each once"},
			{Name: "secret_mount", Type: TypeString, Doc: "narrow to one KV v2 mount (default every KV v2 mount)"},
			{Name: "secret_prefix", Type: TypeString, Doc: "narrow to a path prefix (default the whole mount)"},
			{Name: IdentitiesArg, Type: TypeMapList, Internal: true, Doc: "the subjects' directory entries"},
		},
		Outputs: []Param{
			{Name: "items", Type: TypeMapList, Doc: "each subject's inventory, in input order, with the outputs of vault.inventory"},
			{Name: "accessors", Type: TypeStringList, Doc: "accessors of every subject's live tokens"},
			{Name: "readable_secrets", Type: TypeMapList, Doc: "secrets any subject could read, each once: mount, path, version"},
		},
		Retry: readRetry, Timeout: 30 * time.Minute, Heartbeat: 30 * time.Second,
	},
	{
		Name: "vault.revoke_tokens", Summary: "Revoke Vault tokens by accessor; already revoked counts as done.",
		Args:        []Param{{Name: "accessors", Type: TypeStringList, Required: true, Doc: "token accessors"}},
		Outputs:     []Param{{Name: "revoked", Type: TypeStringList, Doc: "accessors revoked now"}, {Name: "already_revoked", Type: TypeStringList, Doc: "accessors that were already gone"}},
		Destructive: true, Contains: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "vault.disable_entity", Summary: "Disable a Vault identity entity so none of its tokens can be used.",
		Args:        []Param{{Name: "entity_id", Type: TypeString, Required: true, Doc: "identity entity id"}},
		Outputs:     []Param{{Name: "entity_id", Type: TypeString, Doc: "entity id"}, {Name: "disabled", Type: TypeBool, Doc: "disabled now"}, {Name: "was_disabled", Type: TypeBool, Doc: "already disabled before"}},
		Destructive: true, Contains: true, Cuts: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "vault.enable_entity", Summary: "Re-enable a Vault identity entity (the undo of vault.disable_entity).",
		Args:    []Param{{Name: "entity_id", Type: TypeString, Required: true, Doc: "identity entity id"}},
		Outputs: []Param{{Name: "entity_id", Type: TypeString, Doc: "entity id"}, {Name: "disabled", Type: TypeBool, Doc: "disabled now"}, {Name: "was_disabled", Type: TypeBool, Doc: "disabled before"}},
		Retry:   fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "vault.rotate_secrets", Summary: "Rotate KV v2 secrets as each one's custom_metadata firebreak-rotate says: generate (new values for the named fields only), database (Vault's database engine changes the password in the database, then the copy), service (a configured service rotates it). Manual and unmarked secrets are not touched: they are reported pending for their owner. Check-and-set writes, previous version kept for rollback.",
		Args: []Param{
			{Name: "secrets", Type: TypeMapList, Required: true, Doc: "secrets to rotate: mount, path, version (vault.plan_rotation's rotatable)"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "stable per step"},
		},
		Outputs: []Param{
			{Name: "rotated", Type: TypeMapList, Doc: "rotated where the credential is checked and in Vault: mount, path, previous_version, new_version, strategy, fields, upstream"},
			{Name: "pending_manual", Type: TypeMapList, Doc: "not changed; a person must rotate them: mount, path, version, owner, marked, instructions"},
			{Name: "failed", Type: TypeMapList, Doc: "could not be rotated: mount, path, strategy, kind, error"},
		},
		Irreversible: true, Destructive: true, Contains: true, Retry: fastRetry, Timeout: 2 * time.Minute,
	},
	{
		Name: "vault.plan_rotation", Summary: "Check, before anyone approves, how each secret would be rotated and what would make it fail (unknown strategy, a missing field, a database role Vault lacks, a service not configured); changes nothing.",
		Args: []Param{
			{Name: "secrets", Type: TypeMapList, Required: true, Doc: "secrets to rotate: mount, path, version"},
		},
		Outputs: []Param{
			{Name: "rotatable", Type: TypeMapList, Doc: "secrets firebreak can rotate itself: mount, path, version, strategy"},
			{Name: "manual", Type: TypeMapList, Doc: "secrets marked manual or not marked, for their owners: mount, path, version, owner, marked, instructions"},
			{Name: "problems", Type: TypeMapList, Doc: "secrets whose rotation would fail: mount, path, strategy, kind, error"},
		},
		Retry: planRetry, Timeout: 60 * time.Second,
	},
	{
		Name: "vault.verify_revoked", Summary: "Check that each token accessor fails lookup and the entity reads disabled; with subject, look the person up afresh and check Vault refuses every live token of theirs and a new login.",
		Args: []Param{
			{Name: "accessors", Type: TypeStringList, Required: true, Doc: "accessors that must be revoked"},
			{Name: "entity_id", Type: TypeString, Doc: "entity that must be disabled"},
			{Name: "subject", Type: TypeString, Doc: "the person, looked up afresh (absent from Vault passes, saying so)"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the subject's directory entry"},
		},
		Outputs:  checks(),
		Verifies: true, Retry: readRetry, Timeout: 10 * time.Minute, Heartbeat: 30 * time.Second,
	},
	{
		Name: "vault.verify_rotated", Summary: "Check in Vault, after the change, that each secret's current version is newer than the one the inventory saw.",
		Args:     []Param{{Name: "secrets", Type: TypeMapList, Required: true, Doc: "secrets as the inventory saw them: mount, path, version"}},
		Outputs:  checks(),
		Verifies: true, Retry: readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.inventory", Summary: "Read an IAM user's access keys with last-used data, login profile, MFA devices, groups and inline policies. A person with no IAM user, or an IAM that cannot be asked, is a result (present: false).",
		Args: []Param{
			{Name: "user", Type: TypeString, Required: true, Doc: "the person (IAM user name unless the directory says otherwise)"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the user's directory entry"},
		},
		Outputs: []Param{
			{Name: "subject", Type: TypeString, Doc: "the person asked for"},
			{Name: "present", Type: TypeBool, Doc: "the IAM user exists"},
			{Name: "status", Type: TypeString, Doc: "found, absent or unavailable"},
			{Name: "detail", Type: TypeString, Doc: "what was found, or why not (e.g. not present in IAM: …)"},
			{Name: "looked_for", Type: TypeString, Doc: "which IAM user was looked for, and why"},
			{Name: "user_name", Type: TypeString, Doc: "IAM user name"},
			{Name: "arn", Type: TypeString, Doc: "user ARN"},
			{Name: "access_keys", Type: TypeMapList, Doc: "access_key_id, status, create_date, last_used_date, last_used_service, last_used_region"},
			{Name: "access_key_ids", Type: TypeStringList, Doc: "all access key ids"},
			{Name: "active_key_ids", Type: TypeStringList, Doc: "ids of Active keys"},
			{Name: "has_login_profile", Type: TypeBool, Doc: "console password exists"},
			{Name: "login_profile_created", Type: TypeString, Doc: "when the console password was created"},
			{Name: "mfa_devices", Type: TypeMapList, Doc: "serial_number, enable_date"},
			{Name: "groups", Type: TypeStringList, Doc: "group names"},
			{Name: "inline_policies", Type: TypeStringList, Doc: "inline policy names"},
		},
		Retry: readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.list_keys", Summary: "List an IAM user's access keys and whether a console login exists, both at once: what the first cut (deactivating the keys) needs. A person with no IAM user, or an IAM that cannot be asked, is a result (present: false).",
		Args: []Param{
			{Name: "user", Type: TypeString, Required: true, Doc: "the person (IAM user name unless the directory says otherwise)"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the user's directory entry"},
		},
		Outputs: []Param{
			{Name: "subject", Type: TypeString, Doc: "the person asked for"},
			{Name: "present", Type: TypeBool, Doc: "the IAM user exists"},
			{Name: "status", Type: TypeString, Doc: "found, absent or unavailable"},
			{Name: "detail", Type: TypeString, Doc: "what was found, or why not"},
			{Name: "looked_for", Type: TypeString, Doc: "which IAM user was looked for, and why"},
			{Name: "user_name", Type: TypeString, Doc: "IAM user name"},
			{Name: "access_keys", Type: TypeMapList, Doc: "access_key_id, status, create_date"},
			{Name: "access_key_ids", Type: TypeStringList, Doc: "all access key ids"},
			{Name: "active_key_ids", Type: TypeStringList, Doc: "ids of Active keys"},
			{Name: "has_login_profile", Type: TypeBool, Doc: "console password exists"},
		},
		Retry: readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.deactivate_keys", Summary: "Set IAM access keys Inactive; already inactive counts as done.",
		Args:        []Param{{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"}, {Name: "access_key_ids", Type: TypeStringList, Required: true, Doc: "keys to deactivate"}},
		Outputs:     []Param{{Name: "deactivated", Type: TypeStringList, Doc: "keys deactivated now"}, {Name: "already_inactive", Type: TypeStringList, Doc: "keys that were already inactive"}, {Name: "missing", Type: TypeStringList, Doc: "keys that no longer exist (nothing to deactivate)"}},
		Destructive: true, Contains: true, Cuts: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.revoke_sessions", Summary: "Attach an inline deny-all policy conditioned on aws:TokenIssueTime, revoking sessions already issued.",
		Args:        []Param{{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"}, {Name: "policy_name", Type: TypeString, Doc: "inline policy name (default firebreak-revoke-older-sessions)"}},
		Outputs:     []Param{{Name: "policy_name", Type: TypeString, Doc: "inline policy name"}, {Name: "not_before", Type: TypeString, Doc: "sessions issued before this instant are denied"}},
		Destructive: true, Contains: true, Cuts: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.verify_contained", Summary: "Check afresh that every key of the user reads Inactive and the session-revocation policy is attached (a person with no IAM user passes, saying so).",
		Args: []Param{
			{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"},
			{Name: "access_key_ids", Type: TypeStringList, Required: true, Doc: "keys that must be inactive (besides every key the user has now)"},
			{Name: "policy_name", Type: TypeString, Doc: "policy that must be attached"},
			{Name: IdentityArg, Type: TypeMap, Internal: true, Doc: "the user's directory entry"},
		},
		Outputs:  checks(),
		Verifies: true, Retry: readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.delete_login_profile", Summary: "Delete an IAM user's console password; no password counts as done.",
		Args:         []Param{{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"}},
		Outputs:      []Param{{Name: "deleted", Type: TypeBool, Doc: "deleted now"}, {Name: "already_absent", Type: TypeBool, Doc: "there was none"}},
		Irreversible: true, Destructive: true, Contains: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.deactivate_mfa_devices", Summary: "Unassign an IAM user's MFA devices (all when none are named) and optionally delete the virtual ones.",
		Args: []Param{
			{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"},
			{Name: "serial_numbers", Type: TypeStringList, Doc: "devices to deactivate (default: every device of the user)"},
			{Name: "delete_virtual", Type: TypeBool, Doc: "also delete deactivated virtual devices so they cannot be re-enabled"},
		},
		Outputs: []Param{
			{Name: "deactivated", Type: TypeStringList, Doc: "devices deactivated now"},
			{Name: "already_removed", Type: TypeStringList, Doc: "devices no longer assigned"},
			{Name: "deleted_virtual", Type: TypeStringList, Doc: "virtual devices deleted"},
			{Name: "already_deleted", Type: TypeStringList, Doc: "virtual devices that were already gone (e.g. deleted by an earlier attempt)"},
		},
		IrreversibleWith: "delete_virtual", Destructive: true, Contains: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.remove_from_groups", Summary: "Remove an IAM user from groups (all their groups when none are named).",
		Args:        []Param{{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"}, {Name: "groups", Type: TypeStringList, Doc: "groups to leave (default: all)"}},
		Outputs:     []Param{{Name: "removed", Type: TypeStringList, Doc: "groups left now"}, {Name: "not_member", Type: TypeStringList, Doc: "groups the user was not in"}},
		Destructive: true, Contains: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.tag_user", Summary: "Set tags on an IAM user (e.g. to require MFA re-registration); existing keys are overwritten.",
		Args:        []Param{{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"}, {Name: "tags", Type: TypeMap, Required: true, Doc: "tag key to string value"}},
		Outputs:     []Param{{Name: "tagged", Type: TypeStringList, Doc: "tag keys set"}},
		Destructive: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "pagerduty.acknowledge", Summary: "Acknowledge a PagerDuty incident; acknowledged or resolved counts as done.",
		Args:    []Param{{Name: "incident_id", Type: TypeString, Required: true, Doc: "PagerDuty incident id"}},
		Outputs: []Param{{Name: "incident_id", Type: TypeString, Doc: "incident id"}, {Name: "status", Type: TypeString, Doc: "status after the call"}},
		Retry:   chatRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "pagerduty.resolve", Summary: "Resolve a PagerDuty incident; resolved counts as done.",
		Args:    []Param{{Name: "incident_id", Type: TypeString, Required: true, Doc: "PagerDuty incident id"}},
		Outputs: []Param{{Name: "incident_id", Type: TypeString, Doc: "incident id"}, {Name: "status", Type: TypeString, Doc: "status after the call"}},
		Retry:   chatRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "pagerduty.oncall", Summary: "List who is on call now for an escalation policy or schedule, lowest level first.",
		Args:    []Param{{Name: "escalation_policy_id", Type: TypeString, Doc: "escalation policy (default: any)"}, {Name: "schedule_id", Type: TypeString, Doc: "schedule (default: any)"}},
		Outputs: []Param{{Name: "users", Type: TypeMapList, Doc: "id, name, email of each person on call"}},
		Retry:   readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "slack.lookup_user", Summary: "Find a Slack user by email address.",
		Args:    []Param{{Name: "email", Type: TypeString, Required: true, Doc: "email address"}},
		Outputs: []Param{{Name: "user_id", Type: TypeString, Doc: "Slack user id"}, {Name: "name", Type: TypeString, Doc: "Slack user name"}},
		Retry:   readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "slack.post", Summary: "Post a message to a Slack channel or thread, never twice for the same step.",
		Args: []Param{
			{Name: "channel", Type: TypeString, Required: true, Doc: "channel id or name"},
			{Name: "text", Type: TypeString, Required: true, Doc: "message text"},
			{Name: "thread_ts", Type: TypeString, Doc: "reply in this thread"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "stable per step"},
		},
		Outputs: []Param{{Name: "channel", Type: TypeString, Doc: "channel id"}, {Name: "ts", Type: TypeString, Doc: "message timestamp"}},
		Retry:   chatRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "pagerduty.note", Summary: "Add a note to a PagerDuty incident, never twice for the same step.",
		Args: []Param{
			{Name: "incident_id", Type: TypeString, Required: true, Doc: "PagerDuty incident id"},
			{Name: "content", Type: TypeString, Required: true, Doc: "note text"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "stable per step"},
		},
		Outputs: []Param{{Name: "note_id", Type: TypeString, Doc: "note id"}},
		Retry:   chatRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "vault.revoke_lease_prefix", Summary: "Revoke every Vault lease under a prefix (dynamic database and AWS credentials of a role); nothing left counts as done.",
		Args:        []Param{{Name: "prefix", Type: TypeString, Required: true, Doc: "lease prefix, e.g. database/creds/dev-alice/ (not under auth/ or sys/)"}},
		Outputs:     []Param{{Name: "prefix", Type: TypeString, Doc: "prefix revoked"}, {Name: "revoked", Type: TypeBool, Doc: "the revocation succeeded"}},
		Destructive: true, Contains: true, Retry: fastRetry, Timeout: 60 * time.Second,
	},
	{
		Name: "vault.destroy_totp", Summary: "Destroy an identity entity's TOTP MFA secret for a login-MFA method (the lost-device case); no secret counts as done.",
		Args:         []Param{{Name: "entity_id", Type: TypeString, Required: true, Doc: "identity entity id"}, {Name: "method_id", Type: TypeString, Required: true, Doc: "TOTP login-MFA method id"}},
		Outputs:      []Param{{Name: "entity_id", Type: TypeString, Doc: "entity id"}, {Name: "method_id", Type: TypeString, Doc: "method id"}, {Name: "destroyed", Type: TypeBool, Doc: "the secret is gone"}},
		Irreversible: true, Destructive: true, Contains: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "http.request", Summary: "Call an HTTP API that has no integration of its own (a WAF block list, a gateway). The playbook names a configured service, never a host: only configured services can be reached, and their credentials stay in configuration.",
		Args: []Param{
			{Name: "service", Type: TypeString, Required: true, Doc: "a service configured for the worker (base URL and credentials)"},
			{Name: "method", Type: TypeString, Doc: "GET, POST (default), PUT, PATCH or DELETE"},
			{Name: "path", Type: TypeString, Required: true, URLPath: true, Doc: "path on the service, e.g. /v1/blocklist/${{ inputs.ip }}; interpolated values are path-escaped, and ? and # are refused (use query)"},
			{Name: "query", Type: TypeMap, Doc: "query parameters, encoded by the action"},
			{Name: "json", Type: TypeMap, Doc: "JSON request body"},
			{Name: "expect_status", Type: TypeIntList, Doc: "statuses that mean success (default: any 2xx)"},
			{Name: "capture_body", Type: TypeBool, Doc: "return the first 4 KiB of the answer (it goes into the run's history)"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "sent as the Idempotency-Key header"},
		},
		Outputs: []Param{
			{Name: "status", Type: TypeInt, Doc: "HTTP status"},
			{Name: "content_type", Type: TypeString, Doc: "Content-Type of the answer"},
			{Name: "body_sha256", Type: TypeString, Doc: "digest of the answer"},
			{Name: "body", Type: TypeString, Doc: "the answer's first 4 KiB, with capture_body"},
		},
		Destructive: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "oidc.revoke_token", Summary: "Revoke a developer's token at the identity provider (RFC 7009, endpoint from OIDC discovery). The playbook names where the token is stored in Vault KV v2, never the token; already revoked counts as done.",
		Args: []Param{
			{Name: "subject", Type: TypeString, Doc: "whose token this is"},
			{Name: "mount", Type: TypeString, Doc: "KV v2 mount holding the token (default secret)"},
			{Name: "path", Type: TypeString, Required: true, Doc: "KV v2 path holding the token, e.g. portal/alice"},
			{Name: "field", Type: TypeString, Doc: "field holding the token (default token)"},
			{Name: "token_type_hint", Type: TypeString, Doc: "access_token or refresh_token (optional)"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "revocation is idempotent at the IdP; kept for the record"},
		},
		Outputs: []Param{
			{Name: "ref", Type: TypeString, Doc: "the token's reference, e.g. secret/portal/alice#token"},
			{Name: "fingerprint", Type: TypeString, Doc: "the first 12 hex digits of the token's SHA-256"},
			{Name: "revoked", Type: TypeBool, Doc: "the IdP answered 200: revoked now or already invalid"},
			{Name: "status", Type: TypeInt, Doc: "HTTP status of the revocation"},
			{Name: "endpoint", Type: TypeString, Doc: "the revocation endpoint"},
		},
		Destructive: true, Contains: true, Retry: fastRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "oidc.verify_revoked", Summary: "Check by token introspection (RFC 7662) that the IdP reports the referenced token inactive.",
		Args: []Param{
			{Name: "subject", Type: TypeString, Doc: "whose token this is"},
			{Name: "mount", Type: TypeString, Doc: "KV v2 mount holding the token (default secret)"},
			{Name: "path", Type: TypeString, Required: true, Doc: "KV v2 path holding the token, e.g. portal/alice"},
			{Name: "field", Type: TypeString, Doc: "field holding the token (default token)"},
		},
		Outputs:  checks(),
		Verifies: true, Retry: readRetry, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.delete_keys", Summary: "Delete Inactive IAM access keys; an Active key is refused (deactivate it first), a key already gone counts as done.",
		Args:         []Param{{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"}, {Name: "access_key_ids", Type: TypeStringList, Required: true, Doc: "Inactive keys to delete"}},
		Outputs:      []Param{{Name: "deleted", Type: TypeStringList, Doc: "keys deleted now"}, {Name: "missing", Type: TypeStringList, Doc: "keys that no longer existed"}},
		Irreversible: true, Destructive: true, Contains: true, Retry: RetryPolicy{MaxAttempts: 6, Initial: Duration(100 * time.Millisecond), Backoff: 2, MaxInterval: Duration(5 * time.Second), NonRetryable: []string{"UnknownSubject", "AccessDenied", "InvalidInput", "KeyActive", "KeyOwnerMismatch"}}, Timeout: 30 * time.Second,
	},
	{
		Name: "awsiam.rotate_key", Preflight: "awsiam.plan_rotate_key", Summary: "Rotate an IAM access key in AWS's order: create, store the secret in Vault KV v2, deactivate the old key, verify, delete the old. An inactive spare is removed first; two Active keys stop for a person.",
		Args: []Param{
			{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"},
			{Name: "access_key_id", Type: TypeString, Doc: "key to replace (default: the user's only Active key)"},
			{Name: "vault_mount", Type: TypeString, Doc: "KV v2 mount for the new key (default secret)"},
			{Name: "vault_path", Type: TypeString, Doc: "secret path for the new key (default aws/iam/<user>)"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "stable per step: a retry finishes the rotation instead of starting another"},
		},
		Outputs: []Param{
			{Name: "user", Type: TypeString, Doc: "IAM user name"},
			{Name: "old_access_key_id", Type: TypeString, Doc: "the key replaced (now deleted)"},
			{Name: "new_access_key_id", Type: TypeString, Doc: "the new Active key; its secret is only in Vault"},
			{Name: "vault_mount", Type: TypeString, Doc: "KV v2 mount holding the new key"},
			{Name: "vault_path", Type: TypeString, Doc: "secret path holding the new key"},
			{Name: "vault_version", Type: TypeInt, Doc: "secret version written"},
			{Name: "deleted_spare", Type: TypeString, Doc: "inactive key deleted to make room, if any"},
		},
		Irreversible: true, Destructive: true, Contains: true, Retry: RetryPolicy{MaxAttempts: 6, Initial: Duration(200 * time.Millisecond), Backoff: 2, MaxInterval: Duration(10 * time.Second), NonRetryable: []string{"UnknownSubject", "AccessDenied", "InvalidInput", "TwoActiveKeys", "KeyLimit", "RotationVerifyFailed", "PermissionDenied", "InvalidRequest"}}, Timeout: 60 * time.Second,
	},
	{
		Name: "awsiam.plan_rotate_key", Summary: "Check, before anyone approves, that awsiam.rotate_key can rotate the key (the user has it, AWS's two-keys-per-user limit leaves room); fails with rotate_key's own error otherwise; changes nothing.",
		Args: []Param{
			{Name: "user", Type: TypeString, Required: true, Doc: "IAM user name"},
			{Name: "access_key_id", Type: TypeString, Doc: "key to replace (default: the user's only Active key)"},
		},
		Outputs: []Param{
			{Name: "user", Type: TypeString, Doc: "IAM user name"},
			{Name: "access_key_id", Type: TypeString, Doc: "the key that would be rotated"},
			{Name: "spare", Type: TypeString, Doc: "the inactive key that would be deleted first to make room, if any"},
		},
		Retry: RetryPolicy{MaxAttempts: 5, Initial: Duration(200 * time.Millisecond), Backoff: 2, MaxInterval: Duration(5 * time.Second), NonRetryable: []string{"UnknownSubject", "AccessDenied", "InvalidInput", "TwoActiveKeys", "KeyLimit"}}, Timeout: 30 * time.Second,
	},
	{
		Name: "pagerduty.escalate", Summary: "Escalate a PagerDuty incident (set its escalation level or re-assign it to an escalation policy), or open one on a service when no incident is given, never twice for the same step.",
		Args: []Param{
			{Name: "incident_id", Type: TypeString, Doc: "incident to escalate (empty: open a new incident on service_id)"},
			{Name: "escalation_level", Type: TypeInt, Doc: "escalation level to move the incident to (1 or more)"},
			{Name: "escalation_policy_id", Type: TypeString, Doc: "escalation policy to re-assign the incident to, or to open it on"},
			{Name: "service_id", Type: TypeString, Doc: "service to open an incident on (without incident_id)"},
			{Name: "title", Type: TypeString, Doc: "title of the new incident"},
			{Name: "urgency", Type: TypeString, Doc: "urgency of the new incident: high (default) or low"},
			{Name: IdempotencyKeyArg, Type: TypeString, Internal: true, Doc: "stable per step; the new incident's incident_key derives from it"},
		},
		Outputs: []Param{
			{Name: "incident_id", Type: TypeString, Doc: "incident id"},
			{Name: "status", Type: TypeString, Doc: "status after the call"},
			{Name: "urgency", Type: TypeString, Doc: "urgency"},
			{Name: "escalation_policy_id", Type: TypeString, Doc: "escalation policy now assigned"},
			{Name: "created", Type: TypeBool, Doc: "the step opened the incident"},
			{Name: "changed", Type: TypeBool, Doc: "this call changed or created it"},
		},
		Retry: chatRetry, Timeout: 30 * time.Second,
	},
}

// Catalog returns the action catalog sorted by name.
func Catalog() []Action {
	out := append([]Action(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupAction returns the catalog entry for name, or false.
func LookupAction(name string) (Action, bool) {
	for _, a := range catalog {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}

// Arg returns the argument called name, or false.
func (a Action) Arg(name string) (Param, bool) { return a.arg(name) }

func (a Action) arg(name string) (Param, bool) {
	for _, p := range a.Args {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// HasIdempotencyKey reports whether the interpreter must pass this action an idempotency key.
func (a Action) HasIdempotencyKey() bool {
	_, ok := a.arg(IdempotencyKeyArg)
	return ok
}

// vaultInventoryOutputs are the outputs of vault.inventory.
func vaultInventoryOutputs() []Param {
	return []Param{
		{Name: "subject", Type: TypeString, Doc: "the person"},
		{Name: "present", Type: TypeBool, Doc: "their identity entity was found"},
		{Name: "status", Type: TypeString, Doc: "found, absent or unavailable"},
		{Name: "detail", Type: TypeString, Doc: "what was found, or why not (e.g. not present in Vault: …)"},
		{Name: "looked_for", Type: TypeString, Doc: "where the subject was looked for (directory alias, entity, entity id, or name)"},
		{Name: "entity_id", Type: TypeString, Doc: "identity entity id"},
		{Name: "entity_name", Type: TypeString, Doc: "identity entity name"},
		{Name: "entity_disabled", Type: TypeBool, Doc: "whether the entity was already disabled"},
		{Name: "policies", Type: TypeStringList, Doc: "entity and token policies"},
		{Name: "tokens", Type: TypeMapList, Doc: "token metadata (accessor, display_name, path, policies, times); never token ids"},
		{Name: "accessors", Type: TypeStringList, Doc: "accessors of the subject's live tokens"},
		{Name: "logins", Type: TypeMapList, Doc: "ways to log in next: via, policies the auth method grants"},
		{Name: "mounts", Type: TypeStringList, Doc: "KV v2 mounts considered"},
		{Name: "readable_secrets", Type: TypeMapList, Doc: "secrets Vault says a live token or the next login could read: mount, path, version"},
		{Name: "readable_paths", Type: TypeStringList, Doc: "the same as mount/path strings"},
		{Name: "readable_source", Type: TypeString, Doc: "vault-capabilities, or firebreak-acl when no probe token could be made"},
		{Name: "undetermined", Type: TypeStringList, Doc: "what could not be determined, and why"},
	}
}

// IdentityArgName returns the internal directory argument of the action ("identity",
// "identities") or "".
func (a Action) IdentityArgName() string {
	for _, n := range []string{IdentityArg, IdentitiesArg} {
		if p, ok := a.arg(n); ok && p.Internal {
			return n
		}
	}
	return ""
}
