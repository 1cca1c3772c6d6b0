package workflows

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// RunInput is the input of the interpreter workflow: the compiled plan itself, so a run never
// reads files, and the bound inputs.
type RunInput struct {
	Plan    playbooks.Plan `json:"plan"`
	Inputs  map[string]any `json:"inputs"`
	Trigger Trigger        `json:"trigger"`
	Drill   bool           `json:"drill"`
	Report  Report         `json:"report"`
	// AutoApprove (drills only) has approvals, manual steps and escalations granted at once
	// by DrillApprover; their response time is recorded.
	AutoApprove bool `json:"auto_approve"`
	// Directory holds the directory entries (firebreak.yaml's directory, resolved by whoever
	// starts the run) of the people the run's inputs name: where each is found in Vault and
	// IAM. The interpreter hands a step the entry of its subject through the action's
	// internal identity argument. A person without an entry is found by the default rule
	// (subject = Vault entity name = IAM user name).
	Directory []playbooks.Identity `json:"directory,omitempty"`
	// BatchSize, when positive, splits a run whose longest list input is longer into child
	// runs of at most that many elements each (SplitBatches); a list too long for one history
	// is split whatever it says.
	BatchSize int `json:"batch_size,omitempty"`
	// Action is the single action and raw arguments a one-step action plan was compiled
	// from; the worker recompiles the plan from it before running it (trust rule 6).
	Action *playbooks.ActionRequest `json:"action,omitempty"`
}

// Trigger says who or what started a run, and when.
type Trigger struct {
	Kind   string    `json:"kind"` // cli | slack | pagerduty | drill | schedule
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"` // when the trigger happened; time to contain counts from here
	// ConfirmedBy is the responder who confirmed a run that was held for confirmation (a
	// PagerDuty incident whose inputs came from free text). They chose to act, so like the
	// requester they may not also approve the run's gates.
	ConfirmedBy string `json:"confirmed_by,omitempty"`
	// ByAuth says how By was established: "slack" or "pagerduty" (verified requests and the
	// directory), "mtls:<subject>" (the command line's Temporal client certificate), or
	// "claimed" (the command line's --requested-by, with nothing that authenticates it).
	ByAuth string `json:"by_auth,omitempty"`
	// Signature is the front end's signature over the trigger (trigger.go); without a valid
	// one the requester is recorded as claimed.
	Signature *TriggerSignature `json:"signature,omitempty"`
}

// Report says where a run reports progress. Empty fields turn that channel off.
type Report struct {
	SlackChannel      string `json:"slack_channel,omitempty"`
	PagerDutyIncident string `json:"pagerduty_incident,omitempty"`
	// TemporalUIURL, when set, links the status message to the run in the Temporal Web UI
	// (e.g. http://127.0.0.1:8233/namespaces/default).
	TemporalUIURL string `json:"temporal_ui_url,omitempty"`
}

// Step statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
	StatusWaiting   = "waiting" // for a person: an approval, a manual step or an escalation
)

// Run outcomes.
const (
	OutcomeRunning   = "running"
	OutcomeContained = "contained"
	OutcomeFailed    = "failed"
)

// StepResult is what happened to one step.
type StepResult struct {
	ID          string         `json:"id"`
	Name        string         `json:"name,omitempty"`
	Action      string         `json:"action"`
	Status      string         `json:"status"`
	Contains    bool           `json:"contains,omitempty"`
	Cuts        bool           `json:"cuts,omitempty"` // cuts a whole system at once: part of the first cut
	StartedAt   time.Time      `json:"started_at,omitzero"`
	EndedAt     time.Time      `json:"ended_at,omitzero"`
	DurationMS  int64          `json:"duration_ms"`
	Error       string         `json:"error,omitempty"`
	SkipReason  string         `json:"skip_reason,omitempty"`
	Outputs     map[string]any `json:"outputs,omitempty"`
	Checks      []Check        `json:"checks,omitempty"`
	ErrorKind   string         `json:"error_kind,omitempty"`
	Destructive bool           `json:"destructive,omitempty"`
	// Irreversible steps cannot be undone; by default a two-person gate precedes them.
	Irreversible bool `json:"irreversible,omitempty"`
	// Guards, on a two-person gate, lists the irreversible steps it holds back.
	Guards []string `json:"guards,omitempty"`
	// FanOut summarises a foreach step: how many items, how many failed and the first
	// failures. Its Outputs hold only a sample of the items (see Truncated).
	FanOut *FanOut `json:"fan_out,omitempty"`
	// Truncated lists the output lists this record shortens to keep a run's result and status
	// query within Temporal's payload limit; expressions in the run saw them whole.
	Truncated []Truncation `json:"truncated,omitempty"`
	// Waiting says, while a step that changes a system keeps failing and retrying, how long it
	// has been trying and until when it will (see watchRetries); cleared when it ends.
	Waiting string `json:"waiting,omitempty"`
}

// FanOut is the summary of a foreach step.
type FanOut struct {
	Items  int `json:"items"`
	Failed int `json:"failed"`
	// FailedItems are the first failures (at most ResultListSample), in list order.
	FailedItems []FailedItem `json:"failed_items,omitempty"`
}

// FailedItem is one failed element of a foreach step.
type FailedItem struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// Truncation says that an output list is shortened in a run's record: it has Total
// elements, and the record keeps the first Kept.
type Truncation struct {
	Path  string `json:"path"` // e.g. items, or items[0].accessors
	Total int    `json:"total"`
	Kept  int    `json:"kept"`
}

// ResultListSample is the most elements of any output list that a run's result, its status
// query and its progress messages carry. A run's result is one Temporal payload (at most
// 2 MB), so it must not grow with a foreach over a thousand people; the full outputs stay in
// the workflow's state, where the playbook's expressions and expectations read them.
const ResultListSample = 20

// maxTruncations bounds the Truncated records of one step.
const maxTruncations = 2 * ResultListSample

// Check is one verification or expectation result.
type Check struct {
	Step   string `json:"step,omitempty"`
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// RunResult is the record of a run: the scorecard of a drill, the summary of an incident.
type RunResult struct {
	WorkflowID     string `json:"workflow_id"`
	RunID          string `json:"run_id"`
	Playbook       string `json:"playbook"`
	PlaybookSHA256 string `json:"playbook_sha256"`
	// PlanSHA256 is the digest of the plan the run interpreted (playbooks.PlanSHA256),
	// computed by the workflow, and PlanCheck says how the worker checked it.
	PlanSHA256 string `json:"plan_sha256,omitempty"`
	PlanCheck  string `json:"plan_check,omitempty"`
	// TriggerCheck says how the workflow checked who asked for the run: signed by the front
	// end's decision key, or claimed (Trigger.ByAuth "claimed"), in which case every approval
	// gate needed one more approver than the playbook says.
	TriggerCheck string    `json:"trigger_check,omitempty"`
	Drill        bool      `json:"drill"`
	Subject      string    `json:"subject,omitempty"`
	Trigger      Trigger   `json:"trigger"`
	Outcome      string    `json:"outcome"`
	StartedAt    time.Time `json:"started_at"`
	// ContainedAt is when the subject's access was cut: the end of the last containment step
	// that can be undone (revoke, deactivate, disable, deny policy). Irreversible remediation
	// (deleting keys or logins, rotating shared secrets) waits for a second person and is
	// not part of it, so time to contain never includes time spent waiting for a person
	// unless the playbook puts an approval before reversible containment itself. A playbook
	// whose only containment is irreversible (a leaked secret's rotation) counts that.
	// Set as soon as it happens, while the run goes on.
	ContainedAt     time.Time `json:"contained_at,omitzero"`
	EndedAt         time.Time `json:"ended_at,omitzero"`
	TimeToContainMS int64     `json:"time_to_contain_ms"`
	// FirstCutAt is when the first cut was made: every step of a Cuts action (disabling the
	// identity entity, deactivating the keys, denying older sessions: each cuts everything the
	// subject holds in a system at once) had succeeded or been skipped by its condition, at
	// least one having succeeded. Unset for a plan without such steps. TimeToFirstCutMS counts
	// it from the trigger.
	FirstCutAt       time.Time `json:"first_cut_at,omitzero"`
	TimeToFirstCutMS int64     `json:"time_to_first_cut_ms,omitempty"`
	// RemediatedAt is when every containment step, irreversible ones included, had
	// succeeded; TimeToRemediateMS counts it from the trigger like time to contain.
	RemediatedAt      time.Time    `json:"remediated_at,omitzero"`
	TimeToRemediateMS int64        `json:"time_to_remediate_ms,omitempty"`
	Steps             []StepResult `json:"steps"`
	Verifications     []Check      `json:"verifications"`
	Expectations      []Check      `json:"expectations"`
	Error             string       `json:"error,omitempty"`
	// ReportErrors lists progress messages that could not be delivered; they never fail a run.
	ReportErrors []string `json:"report_errors,omitempty"`
	// Pending lists the decisions the run is waiting for now.
	Pending []PendingApproval `json:"pending,omitempty"`
	// Decisions records every approval, denial and timeout: who, when, why.
	Decisions   []Decision   `json:"decisions,omitempty"`
	Escalations []Escalation `json:"escalations,omitempty"`
	// Compensations are the undos run after the run aborted, latest step first.
	Compensations []StepResult `json:"compensations,omitempty"`
	// Outputs are the playbook's outputs, evaluated at the end.
	Outputs map[string]any `json:"outputs,omitempty"`
	// OutputsTruncated lists the lists among Outputs cut to ResultListSample elements.
	OutputsTruncated []Truncation `json:"outputs_truncated,omitempty"`
	// RemediationPending lists the secrets firebreak did not rotate because a person must
	// (marked manual, or not marked at all), each once. A contained run with any is
	// "contained, remediation pending", not a pass: nothing checked that they were rotated.
	RemediationPending []PendingRotation `json:"remediation_pending,omitempty"`
	// Batches, for a run split into child runs (runBatches), lists them in order. Its Steps
	// then merge theirs; each step's Outputs are the first batch's, as a sample.
	Batches []Batch `json:"batches,omitempty"`
}

// PendingRotation is a secret left for its owner to rotate.
type PendingRotation struct {
	Step  string `json:"step"`
	Mount string `json:"mount"`
	Path  string `json:"path"`
	Owner string `json:"owner,omitempty"`
}

// pendingRotationOutputs names, per action, the output listing secrets left for a person.
var pendingRotationOutputs = []struct{ action, output string }{
	{"vault.plan_rotation", "manual"},
	{"vault.rotate_secrets", "pending_manual"},
}

// Run interprets a compiled Plan: steps run as soon as their needs have succeeded, in
// parallel where the plan allows; each step's action is one activity with the step's retry
// policy and timeout; progress is reported without ever holding up containment. Run
// registered on its own trusts no decision key, so no person's decision counts; workers
// register it with Register and their configuration.
func Run(ctx workflow.Context, in RunInput) (RunResult, error) {
	return run(ctx, in, trust{})
}

func run(ctx workflow.Context, in RunInput, t trust) (RunResult, error) {
	info := workflow.GetInfo(ctx)
	if drillQueue := IsDrillQueue(info.TaskQueueName); in.Drill != drillQueue {
		what := "a drill input on the production task queue " + info.TaskQueueName
		if !in.Drill {
			what = "a production input on the drill task queue"
		}
		return RunResult{}, temporal.NewNonRetryableApplicationError("refusing "+what+": drills run only on "+DrillTaskQueue+" against the sandbox", ErrDrillIsolation, nil)
	}
	if in.AutoApprove && !in.Drill {
		return RunResult{}, temporal.NewNonRetryableApplicationError("refusing auto_approve outside a drill: production approvals come from people", ErrDrillIsolation, nil)
	}
	claimed, triggerCheck := checkTrigger(ctx, in, t)
	if claimed {
		// Child runs of a batch read the verdict from here (checkTrigger).
		in.Trigger.ByAuth = ByAuthClaimed
	}
	if input, size := SplitBatches(in.Plan, in.Inputs, in.BatchSize); size > 0 &&
		workflow.GetVersion(ctx, versionBatches, workflow.DefaultVersion, 1) == 1 {
		// Too long for one history (or for the batch asked for): child runs take it in turns.
		return runBatches(ctx, in, input, size)
	}
	r := newRunner(ctx, in)
	r.claimedTrigger = claimed
	if claimed {
		r.res.Trigger.ByAuth = ByAuthClaimed
	}
	r.res.TriggerCheck = triggerCheck
	r.decisionKeys = t.keysFor(in.Drill)
	r.approvers = t.approvers
	// Runs recorded before decisions were signed took the approver's word for who they were.
	r.signedDecisions = workflow.GetVersion(ctx, changeSignedDecisions, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	r.runScopedKeys = workflow.GetVersion(ctx, changeRunScopedKeys, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	r.boundDecisions = workflow.GetVersion(ctx, changeBoundDecisions, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	if err := r.checkPlan(ctx, t); err != nil {
		return RunResult{}, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (RunResult, error) { return r.snapshot(), nil }); err != nil {
		return RunResult{}, err
	}
	if err := r.registerApprovals(ctx); err != nil {
		return RunResult{}, err
	}
	for _, decl := range in.Plan.Inputs {
		if _, ok := in.Inputs[decl.Name]; decl.Required && !ok {
			return RunResult{}, temporal.NewNonRetryableApplicationError("input "+decl.Name+" is required by playbook "+in.Plan.Name, ErrInvalidInput, nil)
		}
	}
	// The command line and chatops bind inputs before they start a run; a run started
	// straight through Temporal did not, so the workflow holds its inputs to the playbook's
	// declarations itself (types, patterns, enums, nothing undeclared).
	if workflow.GetVersion(ctx, changeCheckInputs, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		if err := checkBoundInputs(in.Plan, in.Inputs); err != nil {
			return RunResult{}, temporal.NewNonRetryableApplicationError("refusing the run: "+err.Error(), ErrInvalidInput, nil)
		}
	}

	if err := CheckHistoryBudget(in.Plan, in.Inputs); err != nil {
		// Refused before anything happened: a run that would outgrow its history would be
		// stopped by Temporal half way through a deprovisioning.
		return RunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrInputTooLarge, nil)
	}

	rep := startReporter(ctx, r)
	rep.send(ctx, event{kind: eventStarted})

	done := map[string]workflow.Future{}
	for i := range in.Plan.Steps {
		st := in.Plan.Steps[i]
		f, set := workflow.NewFuture(ctx)
		done[st.ID] = f
		needs := make([]workflow.Future, len(st.Needs))
		for j, n := range st.Needs {
			needs[j] = done[n] // plan steps are topologically ordered
		}
		workflow.Go(ctx, func(ctx workflow.Context) {
			for _, nf := range needs {
				_ = nf.Get(ctx, nil)
			}
			r.runStep(ctx, st, rep)
			r.markContained()
			rep.send(ctx, event{kind: eventStep, step: st.ID})
			if sr := &r.res.Steps[r.index[st.ID]]; sr.Status == StatusFailed && st.OnFailure == playbooks.OnFailureEscalate && r.aborted == "" {
				r.escalate(ctx, st, sr, rep)
			}
			set.Set(nil, nil)
		})
	}
	for _, st := range in.Plan.Steps {
		_ = done[st.ID].Get(ctx, nil)
	}
	if r.aborted != "" {
		r.compensate(ctx)
	}
	r.finish(ctx)
	rep.send(ctx, event{kind: eventFinished})
	rep.close(ctx)

	res := r.snapshot()
	if res.Outcome != OutcomeContained && ctx.Err() != nil &&
		workflow.GetVersion(ctx, changeCancelledEnds, workflow.DefaultVersion, 1) == 1 {
		// Cancelled before it contained (a drill's Ctrl-C, `temporal workflow cancel`): Temporal
		// closes the run as cancelled, not failed, and the record of how far it got goes with
		// it. A run that contained completes as such, cancelled or not.
		res.Error = strings.TrimSuffix("the run was cancelled; "+res.Error, "; ")
		return RunResult{}, temporal.NewCanceledError(res)
	}
	if res.Outcome != OutcomeContained {
		return RunResult{}, temporal.NewNonRetryableApplicationError(res.Error, ErrRunFailed, nil, res)
	}
	return res, nil
}

// changeCancelledEnds versions how a cancelled run ends: as cancelled, with its record as the
// cancellation's details. Runs recorded before ended as failed (ErrRunFailed).
const changeCancelledEnds = "cancelled-ends-cancelled"

// runner holds a run's state. Workflow coroutines run one at a time, so it needs no lock.
type runner struct {
	in      RunInput
	res     RunResult
	index   map[string]int // step id → position in res.Steps
	outputs map[string]map[string]any
	aborted string // the step whose failure aborted the run
	ev      playbooks.Evaluator
	pending []*pending // every decision asked for, in order
	// carriedOn holds failed steps whose escalation a person approved: they count as continue.
	carriedOn map[string]bool
	// read holds the steps whose outputs some expression of the plan may read; a foreach
	// step that is not among them keeps only a sample of its items.
	read map[string]bool
	// decisionKeys are the decision keys the worker trusts for this run; signedDecisions says
	// whether decisions must be signed by one (every run recorded since signing began).
	decisionKeys    []ed25519.PublicKey
	signedDecisions bool
	// approvers are the people who decide with their own keys, as themselves only.
	approvers []Approver
	// runScopedKeys: idempotency keys name the run, not only the workflow id (rule 3).
	runScopedKeys bool
	// seq counts the decisions asked for (PendingApproval.Seq); boundDecisions says whether
	// a decision's signature must name the one it answers (runs recorded since).
	seq            int
	boundDecisions bool
	// claimedTrigger: the run's trigger is not signed by a decision key (checkTrigger), so
	// its requester is only claimed and approval gates need one more approver.
	claimedTrigger bool
}

// changeCheckInputs versions the workflow's own check of its inputs against the playbook's
// declarations (playbooks.Plan.CheckBound).
const changeCheckInputs = "check-inputs"

// changeCompiledPlans versions the check that a production plan is one the worker compiled.
const changeCompiledPlans = "compiled-plans"

// ErrPlanNotCompiled is the error type of a run refused because the worker did not compile
// its plan.
const ErrPlanNotCompiled = "PlanNotCompiled"

// checkPlan refuses a production plan the worker's library does not compile byte for byte
// (trust rule 6: a worker runs only plans it compiled itself), and records the plan's digest
// and what was checked. The verdict is taken once, as a side effect recorded in the history,
// so a run replays the same way after the library changes. Drills run on the sandbox and
// may replay a plan pinned before (drill replay): they are not checked.
//
//workflowcheck:ignore json.Marshal of the plain-data Plan (map keys sorted), as in readSteps
func (r *runner) checkPlan(ctx workflow.Context, t trust) error {
	r.res.PlanSHA256 = playbooks.PlanSHA256(r.in.Plan)
	switch {
	case r.in.Drill:
		r.res.PlanCheck = "not checked: a drill, on the sandbox"
		return nil
	case t.library == nil:
		r.res.PlanCheck = "not checked: this worker has no library configured"
		return nil
	}
	if workflow.GetVersion(ctx, changeCompiledPlans, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	type verdict struct{ Checked, Refused string }
	var v verdict
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		what, err := t.library.Verify(r.in.Plan, r.in.Action)
		if err != nil {
			return verdict{Refused: err.Error()}
		}
		return verdict{Checked: what}
	}).Get(&v)
	if err != nil {
		return err
	}
	if v.Refused != "" {
		return temporal.NewNonRetryableApplicationError("refusing the plan: "+v.Refused, ErrPlanNotCompiled, nil)
	}
	r.res.PlanCheck = v.Checked
	return nil
}

// changeRunScopedKeys versions idempotency keys that include the run id: runs recorded
// before it keyed their steps by workflow id alone, so a later run with the same id (the same
// person compromised again weeks later) found the first run's rotation and evidence.
const changeRunScopedKeys = "run-scoped-keys"

// idempotencyKey is the key an idempotent step's activity is handed: the same for every
// retry and re-run within this run, and different for every other run, even one with the
// same workflow id.
func (r *runner) idempotencyKey(parts ...string) string {
	base := r.res.WorkflowID
	if r.runScopedKeys {
		base += "/" + r.res.RunID
	}
	return base + "/" + strings.Join(parts, "/")
}

func newRunner(ctx workflow.Context, in RunInput) *runner {
	info := workflow.GetInfo(ctx)
	trig := in.Trigger
	if trig.At.IsZero() {
		trig.At = info.WorkflowStartTime
	}
	r := &runner{in: in, index: map[string]int{}, outputs: map[string]map[string]any{}, carriedOn: map[string]bool{}}
	r.res = RunResult{
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Playbook: in.Plan.Name, PlaybookSHA256: in.Plan.SourceSHA256, Drill: in.Drill,
		Trigger: trig, Outcome: OutcomeRunning, StartedAt: workflow.Now(ctx),
	}
	if s, ok := in.Inputs["subject"].(string); ok {
		r.res.Subject = s
	}
	r.read = readSteps(in.Plan)
	for i, st := range in.Plan.Steps {
		r.index[st.ID] = i
		r.res.Steps = append(r.res.Steps, StepResult{ID: st.ID, Name: st.Name, Action: st.Action, Status: StatusPending, Contains: st.Contains, Cuts: st.Cuts, Destructive: st.Destructive, Irreversible: st.Irreversible, Guards: st.Guards})
	}
	return r
}

func (r *runner) scope() playbooks.Scope {
	return playbooks.Scope{
		Inputs:  r.in.Inputs,
		Outputs: r.outputs,
		Run: map[string]any{
			"id": r.res.RunID, "workflow_id": r.res.WorkflowID, "drill": r.in.Drill, "playbook": r.in.Plan.Name,
			"slack_channel": r.in.Report.SlackChannel, "incident": r.in.Report.PagerDutyIncident, "started_by": r.in.Trigger.By,
		},
	}
}

// fullScope is scope with typed empty outputs for every step that has none (failed, skipped
// or not run), for end-of-run expressions that must not fail on a partial run.
func (r *runner) fullScope() playbooks.Scope {
	sc := r.scope()
	outs := map[string]map[string]any{}
	//workflowcheck:ignore a copy into a new map; order does not matter
	for id, o := range r.outputs {
		outs[id] = o
	}
	for _, st := range r.in.Plan.Steps {
		if outs[st.ID] == nil {
			outs[st.ID] = zeroOutputs(st.Outputs)
		}
	}
	sc.Outputs = outs
	return sc
}

// evidenceBefore reports whether an evidence.snapshot among the step's needs, direct or
// indirect, succeeded: the compiler requires one on every path, but a snapshot skipped by its
// condition recorded nothing (trust rule 7).
func (r *runner) evidenceBefore(st playbooks.Step) bool {
	seen := map[string]bool{}
	queue := append([]string(nil), st.Needs...)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		anc := r.in.Plan.Steps[r.index[id]]
		if anc.Action == "evidence.snapshot" && r.res.Steps[r.index[id]].Status == StatusSucceeded {
			return true
		}
		queue = append(queue, anc.Needs...)
	}
	return false
}

func zeroOutputs(outs []playbooks.Output) map[string]any {
	zero := map[string]any{}
	for _, o := range outs {
		zero[o.Name] = o.Zero()
	}
	return zero
}

type stepKey struct{}

// StepOf returns the id of the plan step whose work ctx carries, or "" outside a step, so
// interceptors can name the step on activity log lines and spans. It adds no command.
func StepOf(ctx workflow.Context) string {
	id, _ := ctx.Value(stepKey{}).(string)
	return id
}

func (r *runner) runStep(ctx workflow.Context, st playbooks.Step, rep *reporter) {
	ctx = workflow.WithValue(ctx, stepKey{}, st.ID)
	sr := &r.res.Steps[r.index[st.ID]]
	skip := func(reason string) {
		sr.Status, sr.SkipReason = StatusSkipped, reason
	}
	for _, n := range st.Needs {
		if s := r.res.Steps[r.index[n]].Status; s == StatusFailed || (s == StatusSkipped && r.outputs[n] == nil) {
			skip("needs " + n + ", which " + s)
			return
		}
	}
	if r.aborted != "" {
		skip("run aborted after " + r.aborted + " failed")
		return
	}
	if st.If != "" {
		v, err := r.ev.Eval(st.If, r.scope())
		if err != nil {
			r.fail(st, sr, err)
			return
		}
		b, isBool := v.(bool)
		if !isBool {
			r.fail(st, sr, temporal.NewNonRetryableApplicationError(fmt.Sprintf("if: expected true or false, found %T %v", v, v), ErrInvalidInput, nil))
			return
		}
		if !b {
			skip("condition is false: " + st.If)
			r.outputs[st.ID] = zeroOutputs(st.Outputs)
			return
		}
	}
	if st.Destructive && !r.evidenceBefore(st) {
		r.fail(st, sr, temporal.NewNonRetryableApplicationError("no evidence snapshot that this step needs succeeded, so it changes nothing (evidence before change)", ErrNoEvidence, nil))
		return
	}
	if r.refuseUnapproved(ctx, st, sr) { // two-person rule (approval.go)
		return
	}
	if st.Foreach != "" {
		r.runForeach(ctx, st, sr)
		return
	}
	b, ok := bindings[st.Action]
	if !ok && !st.Builtin {
		r.fail(st, sr, temporal.NewNonRetryableApplicationError("no activity bound to action "+st.Action, ErrInvalidPlan, nil))
		return
	}
	args := map[string]any{}
	for _, a := range st.With {
		v, err := r.ev.Eval(a.Expr, r.scope())
		if err != nil {
			r.fail(st, sr, fmt.Errorf("argument %s: %w", a.Name, err))
			return
		}
		args[a.Name] = v
	}
	if st.Idempotent {
		args[playbooks.IdempotencyKeyArg] = r.idempotencyKey(st.ID)
	}
	r.addIdentity(st, args)
	sr.Status, sr.StartedAt = StatusRunning, workflow.Now(ctx)
	var out map[string]any
	var err error
	switch {
	case st.Action == playbooks.ActionApproval:
		sr.Status = StatusWaiting
		out, err = r.runApproval(ctx, st, args, rep)
	case st.Action == playbooks.ActionManual:
		sr.Status = StatusWaiting
		out, err = r.runManual(ctx, st, args, rep)
	case st.Action == playbooks.ActionWait:
		out, err = r.runWait(ctx, st, args)
	case st.Action == playbooks.ActionAssert:
		out, err = runAssert(args)
	case st.Builtin:
		err = temporal.NewNonRetryableApplicationError("no interpreter support for built-in action "+st.Action, ErrInvalidPlan, nil)
	default:
		stopWatching := r.watchRetries(ctx, st, sr, rep)
		out, err = b.run(workflow.WithActivityOptions(ctx, activityOptions(st)), args)
		stopWatching()
	}
	sr.EndedAt = workflow.Now(ctx)
	sr.DurationMS = sr.EndedAt.Sub(sr.StartedAt).Milliseconds()
	if err != nil {
		r.fail(st, sr, err)
		return
	}
	for _, o := range st.Outputs { // an empty list may arrive as null; expressions expect its type
		if out[o.Name] == nil {
			out[o.Name] = o.Zero()
		}
	}
	sr.Outputs = out
	r.outputs[st.ID] = out
	if st.Verifies {
		sr.Checks = checksOf(st.ID, out)
		r.res.Verifications = append(r.res.Verifications, sr.Checks...)
		if passed, _ := out["passed"].(bool); !passed {
			var failed []string
			for _, c := range sr.Checks {
				if !c.Passed {
					failed = append(failed, c.Name+": "+c.Detail)
				}
			}
			r.fail(st, sr, errors.New("verification failed: "+strings.Join(failed, "; ")))
			return
		}
	}
	sr.Status = StatusSucceeded
}

func (r *runner) fail(st playbooks.Step, sr *StepResult, err error) {
	sr.Status = StatusFailed
	sr.Error = err.Error()
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		sr.Error, sr.ErrorKind = appErr.Message(), appErr.Type()
	}
	// escalate decides later, in escalate, once a person has answered.
	if st.OnFailure != playbooks.OnFailureContinue && st.OnFailure != playbooks.OnFailureEscalate && r.aborted == "" {
		r.aborted = st.ID
	}
}

func checksOf(step string, out map[string]any) []Check {
	var cs []Check
	list, _ := out["checks"].([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		name, _ := m["name"].(string)
		passed, _ := m["passed"].(bool)
		detail, _ := m["detail"].(string)
		cs = append(cs, Check{Step: step, Name: name, Passed: passed, Detail: detail})
	}
	return cs
}

func activityOptions(st playbooks.Step) workflow.ActivityOptions {
	rp := st.Retry
	return workflow.ActivityOptions{
		StartToCloseTimeout:    time.Duration(st.Timeout),
		HeartbeatTimeout:       time.Duration(st.Heartbeat),
		ScheduleToCloseTimeout: time.Duration(rp.For), // 0 (plans compiled before retry.for): attempts alone bound it
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Duration(rp.Initial),
			BackoffCoefficient:     rp.Backoff,
			MaximumInterval:        time.Duration(rp.MaxInterval),
			MaximumAttempts:        int32(rp.MaxAttempts),
			NonRetryableErrorTypes: rp.NonRetryable,
		},
	}
}

// finish evaluates expectations and settles the outcome and time to contain.
func (r *runner) finish(ctx workflow.Context) {
	res := &r.res
	res.EndedAt = workflow.Now(ctx)
	var failed []string
	contained := true
	for i, s := range res.Steps {
		st := r.in.Plan.Steps[i]
		tolerated := st.OnFailure == playbooks.OnFailureContinue || r.carriedOn[st.ID]
		if s.Status == StatusFailed && (!tolerated || st.Contains || st.Verifies) {
			failed = append(failed, s.ID+": "+s.Error)
		}
		if s.Contains && !r.containmentDone(i) {
			contained = false
		}
	}
	r.markContained()
	r.collectPendingRotations()
	var incomplete, unmet []string
	for _, s := range res.Steps {
		if r.outputs[s.ID] == nil {
			incomplete = append(incomplete, s.ID)
		}
	}
	if len(r.in.Plan.Outputs) > 0 {
		res.Outputs = map[string]any{}
		for _, o := range r.in.Plan.Outputs {
			v, err := r.ev.Eval(o.Expr, r.fullScope())
			if err != nil {
				res.ReportErrors = append(res.ReportErrors, "output "+o.Name+": "+err.Error())
				continue
			}
			res.Outputs[o.Name] = v
		}
	}
	for _, e := range r.in.Plan.Expect {
		c := Check{Name: e.Name}
		v, err := r.ev.Eval(e.That, r.scope())
		switch {
		case err != nil && len(readsOf(e.That, incomplete)) > 0:
			c.Detail = "not evaluated: " + strings.Join(readsOf(e.That, incomplete), ", ") + " did not complete"
		case err != nil:
			c.Detail = "could not be evaluated: " + err.Error()
		default:
			c.Passed, _ = v.(bool)
			if !c.Passed {
				c.Detail = "false: " + e.That
			}
		}
		if !c.Passed {
			unmet = append(unmet, "expectation "+e.Name+": "+c.Detail)
		}
		res.Expectations = append(res.Expectations, c)
	}
	// The cause comes first: failed steps, in plan order; expectations left unmet because a
	// step failed say so in the scorecard and would only repeat it here.
	if len(failed) == 0 {
		failed = unmet
	}
	if len(failed) == 0 && contained {
		res.Outcome = OutcomeContained
		return
	}
	res.Outcome = OutcomeFailed
	if len(failed) == 0 {
		failed = append(failed, "containment steps did not all complete")
	}
	res.Error = "run failed: " + strings.Join(failed, "; ")
}

// collectPendingRotations fills RemediationPending from the outputs of the steps that say
// which secrets a person must rotate, in plan order, each secret once.
func (r *runner) collectPendingRotations() {
	seen := map[string]bool{}
	for _, st := range r.in.Plan.Steps {
		for _, po := range pendingRotationOutputs {
			if st.Action != po.action {
				continue
			}
			list, _ := r.outputs[st.ID][po.output].([]any)
			for _, it := range list {
				m, _ := it.(map[string]any)
				mount, _ := m["mount"].(string)
				path, _ := m["path"].(string)
				owner, _ := m["owner"].(string)
				if path == "" || seen[mount+"/"+path] {
					continue
				}
				seen[mount+"/"+path] = true
				r.res.RemediationPending = append(r.res.RemediationPending, PendingRotation{Step: st.ID, Mount: mount, Path: path, Owner: owner})
			}
		}
	}
}

// containmentDone reports whether the containment step at index i is settled as done:
// succeeded, or skipped by its own condition (nothing to contain).
func (r *runner) containmentDone(i int) bool {
	s := r.res.Steps[i]
	return s.Status == StatusSucceeded || (s.Status == StatusSkipped && r.outputs[s.ID] != nil)
}

// markContained sets ContainedAt (access cut: every reversible containment step done) and
// RemediatedAt (every containment step done) the first time each holds, with the times to
// them. Without reversible containment steps, the irreversible ones cut access.
func (r *runner) markContained() {
	res := &r.res
	reversible := false
	for _, s := range res.Steps {
		reversible = reversible || (s.Contains && !s.Irreversible)
	}
	var cut, all time.Time
	cutDone, allDone, some := true, true, false
	for i, s := range res.Steps {
		if !s.Contains {
			continue
		}
		done := r.containmentDone(i)
		counts := !reversible || !s.Irreversible
		if !done {
			allDone = false
			if counts {
				cutDone = false
			}
			continue
		}
		if s.Status != StatusSucceeded {
			continue
		}
		some = true
		if s.EndedAt.After(all) {
			all = s.EndedAt
		}
		if counts && s.EndedAt.After(cut) {
			cut = s.EndedAt
		}
	}
	r.markFirstCut()
	if !some {
		return
	}
	if cutDone && !cut.IsZero() && res.ContainedAt.IsZero() {
		res.ContainedAt = cut
		res.TimeToContainMS = cut.Sub(res.Trigger.At).Milliseconds()
	}
	if allDone && !all.IsZero() && res.RemediatedAt.IsZero() {
		res.RemediatedAt = all
		res.TimeToRemediateMS = all.Sub(res.Trigger.At).Milliseconds()
	}
}

// markFirstCut sets FirstCutAt the first time every Cuts step is done, one having succeeded.
func (r *runner) markFirstCut() {
	res := &r.res
	if !res.FirstCutAt.IsZero() {
		return
	}
	var at time.Time
	for i, st := range r.in.Plan.Steps {
		if !st.Cuts {
			continue
		}
		if !r.containmentDone(i) {
			return
		}
		if s := res.Steps[i]; s.Status == StatusSucceeded && s.EndedAt.After(at) {
			at = s.EndedAt
		}
	}
	if !at.IsZero() {
		res.FirstCutAt = at
		res.TimeToFirstCutMS = at.Sub(res.Trigger.At).Milliseconds()
	}
}

// readsOf lists the step ids among ids whose outputs expr reads.
func readsOf(expr string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.Contains(expr, "steps."+id+".") {
			out = append(out, id)
		}
	}
	return out
}

// snapshot returns a copy of the current result, safe to hand to a query, with every
// output list cut to ResultListSample elements so that it stays bounded whatever a step
// fans out over.
func (r *runner) snapshot() RunResult {
	res := r.res
	res.Steps = append([]StepResult(nil), r.res.Steps...)
	for i := range res.Steps {
		res.Steps[i] = boundStep(res.Steps[i])
	}
	if res.Outputs != nil {
		var cuts []Truncation
		res.Outputs, _ = boundValue(res.Outputs, "", &cuts).(map[string]any)
		res.OutputsTruncated = cuts
	}
	res.Verifications = append([]Check(nil), r.res.Verifications...)
	res.Expectations = append([]Check(nil), r.res.Expectations...)
	res.Decisions = append([]Decision(nil), r.res.Decisions...)
	res.Escalations = append([]Escalation(nil), r.res.Escalations...)
	res.Compensations = append([]StepResult(nil), r.res.Compensations...)
	res.RemediationPending = append([]PendingRotation(nil), r.res.RemediationPending...)
	for i := range res.Compensations {
		res.Compensations[i] = boundStep(res.Compensations[i])
	}
	res.ReportErrors = append([]string(nil), r.res.ReportErrors...)
	if open := r.openPending(); len(open) > 0 {
		res.Pending = open
	}
	return res
}

// boundStep returns s with its outputs' lists cut to ResultListSample elements, recording
// each cut in Truncated. It copies what it changes; s's own maps are left as they are.
func boundStep(s StepResult) StepResult {
	if s.Outputs == nil {
		return s
	}
	var cuts []Truncation
	s.Outputs, _ = boundValue(s.Outputs, "", &cuts).(map[string]any)
	if len(cuts) > 0 {
		s.Truncated = append(append([]Truncation(nil), s.Truncated...), cuts...)
	}
	return s
}

// boundValue copies v with every list longer than ResultListSample cut to its first
// ResultListSample elements, appending a Truncation for each cut (at most maxTruncations).
func boundValue(v any, path string, cuts *[]Truncation) any {
	switch x := v.(type) {
	case []any:
		kept := min(len(x), ResultListSample)
		if kept < len(x) && len(*cuts) < maxTruncations {
			*cuts = append(*cuts, Truncation{Path: path, Total: len(x), Kept: kept})
		}
		out := make([]any, kept)
		for i := range kept {
			out[i] = boundValue(x[i], path+"["+strconv.Itoa(i)+"]", cuts)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) { // sorted, so Truncated comes out in the same order every time
			p := k
			if path != "" {
				p = path + "." + k
			}
			out[k] = boundValue(x[k], p, cuts)
		}
		return out
	}
	return v
}

// sortedKeys is slices.Sorted(maps.Keys(m)) in a form workflowcheck can be told about:
// it flags maps.Keys, which iterates over the map, though the keys are sorted before use.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	//workflowcheck:ignore the keys are sorted before use
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// History limits. Temporal terminates a workflow whose history passes HistoryEventLimit
// events; firebreak refuses up front a run whose fan-out it expects to pass HistoryEventBudget,
// leaving room for approvals, reporting and the estimate's error.
const (
	HistoryEventLimit  = 51_200
	HistoryEventBudget = 46_000
	// eventsPerActivity is what one activity adds to a history: scheduled, started and
	// completed, plus a share of the workflow tasks that react to it (measured: about 3.4 per
	// foreach item at 1,000 items with concurrency 20; a retried attempt adds nothing).
	eventsPerActivity = 4
	// eventsPerStep is what a step adds besides its activities: its progress messages to
	// Slack and PagerDuty, timers, an approval's update.
	eventsPerStep = 12
)

// EstimateHistoryEvents estimates how many events a run of plan with inputs records: each
// step's own, plus one activity per element of each foreach. A foreach list that only the
// run can know (one over an earlier step's outputs) is taken to be as long as the longest
// list input, which is what the bundled playbooks fan out from. It also returns the events
// each element of that longest list costs.
func EstimateHistoryEvents(plan playbooks.Plan, inputs map[string]any) (events, perElement int) {
	longest := 0
	for _, d := range plan.Inputs {
		if l, ok := inputs[d.Name].([]any); ok {
			longest = max(longest, len(l))
		}
	}
	var ev playbooks.Evaluator
	events = 20 + len(plan.Steps)*eventsPerStep
	for _, st := range plan.Steps {
		if st.Foreach == "" {
			events += eventsPerActivity
			continue
		}
		n := longest
		if v, err := ev.Eval(st.Foreach, playbooks.Scope{Inputs: inputs, Outputs: map[string]map[string]any{}}); err == nil {
			if l, ok := v.([]any); ok {
				n = len(l)
			}
		}
		if n == longest {
			perElement += eventsPerActivity
		}
		events += n * eventsPerActivity
	}
	return events, perElement
}

// CheckHistoryBudget refuses inputs whose fan-out would make the run's history longer than
// HistoryEventBudget, saying how long a list may be. Run calls it before any step; a caller
// may call it before starting a run.
func CheckHistoryBudget(plan playbooks.Plan, inputs map[string]any) error {
	events, per := EstimateHistoryEvents(plan, inputs)
	if events <= HistoryEventBudget {
		return nil
	}
	name, longest := "", 0
	for _, d := range plan.Inputs {
		if l, ok := inputs[d.Name].([]any); ok && len(l) > longest {
			name, longest = d.Name, len(l)
		}
	}
	msg := fmt.Sprintf("playbook %s would record about %d history events, more than the %d a run may plan for (Temporal stops a run at %d)", plan.Name, events, HistoryEventBudget, HistoryEventLimit)
	if name != "" && per > 0 {
		most := longest - (events-HistoryEventBudget+per-1)/per
		msg = fmt.Sprintf("input %s has %d entries, expected at most %d: %s; split the list into several runs", name, longest, max(most, 0), msg)
	}
	return errors.New(msg)
}

// readSteps returns the steps whose outputs an expression of plan may read: those named as
// steps.<id> anywhere in it, or every step if an expression indexes steps[…] by a value.
//
//workflowcheck:ignore json.Marshal of the plain-data Plan (map keys sorted), flagged only through its type cache and the Go runtime
func readSteps(plan playbooks.Plan) map[string]bool {
	read := map[string]bool{}
	b, err := json.Marshal(plan)
	all := err != nil || strings.Contains(string(b), "steps[")
	for _, st := range plan.Steps {
		id := "steps." + st.ID
		for rest := string(b); !read[st.ID]; {
			i := strings.Index(rest, id)
			if i < 0 {
				break
			}
			rest = rest[i+len(id):]
			// steps.x must not be taken for steps.x_more
			read[st.ID] = rest == "" || !strings.ContainsAny(rest[:1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
		}
		read[st.ID] = read[st.ID] || all
	}
	return read
}

// addIdentity hands the step the directory entries of the people its arguments name (its
// subject or user, or each of its subjects), when the action takes them and the run has any.
func (r *runner) addIdentity(st playbooks.Step, args map[string]any) {
	if st.Identity == "" || len(r.in.Directory) == 0 {
		return
	}
	find := func(name string) (playbooks.Identity, bool) {
		for _, e := range r.in.Directory {
			if e.Subject == name {
				return e, true
			}
		}
		return playbooks.Identity{}, false
	}
	switch st.Identity {
	case playbooks.IdentityArg:
		name, _ := args["subject"].(string)
		if name == "" {
			name, _ = args["user"].(string)
		}
		if e, ok := find(name); ok {
			args[playbooks.IdentityArg] = e
		}
	case playbooks.IdentitiesArg:
		var entries []playbooks.Identity
		list, _ := args["subjects"].([]any)
		for _, x := range list {
			if name, ok := x.(string); ok {
				if e, ok := find(name); ok {
					entries = append(entries, e)
				}
			}
		}
		if len(entries) > 0 {
			args[playbooks.IdentitiesArg] = entries
		}
	}
}

// runAssert is the assert action: it fails the step, with the playbook's message, when the
// condition does not hold.
func runAssert(args map[string]any) (map[string]any, error) {
	that, _ := args["that"].(bool)
	if !that {
		msg, _ := args["message"].(string)
		return nil, temporal.NewNonRetryableApplicationError(msg, "AssertionFailed", nil)
	}
	return map[string]any{"passed": true}, nil
}

// checkBoundInputs is plan.CheckBound(inputs), which is pure: validation of a plain value
// against the playbook's declarations.
//
//workflowcheck:ignore net/mail.ParseAddress's debug printing (off) and regexp, flagged only through log and the Go runtime
func checkBoundInputs(plan playbooks.Plan, inputs map[string]any) error {
	return plan.CheckBound(inputs)
}
