package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// UpdateApprove is the Temporal Update through which a person approves or denies an
// approval step, confirms or declines a manual step, or decides an escalation.
const UpdateApprove = "approve"

// QueryPending is the query that returns the run's pending approvals ([]PendingApproval).
const QueryPending = "pending"

// DrillApprover is who grants approvals and manual steps in drills run with AutoApprove.
const DrillApprover = "drill-bot"

// Decisions an approver may give.
const (
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
	// DecisionRefused records a decision the workflow did not count (an approver who is not
	// on call, or whose on-call status could not be established); Reason says why.
	DecisionRefused = "refused"
	// DecisionTimeout records a decision nobody made in time.
	DecisionTimeout = "timeout"
)

// Kinds of pending decisions.
const (
	PendingKindApproval   = "approval"
	PendingKindManual     = "manual"
	PendingKindEscalation = "escalation"
)

// ApprovalRequest is the argument of the UpdateApprove update.
type ApprovalRequest struct {
	Step          string   `json:"step"`           // approval or manual step id; "" = the only pending one
	Approver      string   `json:"approver"`       // identity of the person (Slack user id or email)
	ApproverRoles []string `json:"approver_roles"` // roles the caller resolved for the approver from config
	Decision      string   `json:"decision"`       // "approve" | "deny"
	Reason        string   `json:"reason"`
	// ApproverEmail is the approver's email as the caller's directory knows it; an approval
	// rule with on_call matches it against who PagerDuty says is on call for the incident.
	ApproverEmail string `json:"approver_email,omitempty"`
	// Signature is the front end's signature over the decision (decision.go); without a
	// valid one the workflow counts nothing.
	Signature *DecisionSignature `json:"signature,omitempty"`
	// Kind and Seq, when a front end sets them (a Slack button made for one pending
	// decision), say which pending decision the person answered; runs.Client.Decide refuses
	// the decision if another is pending now. The signature binds the pending decision's own.
	Kind string `json:"kind,omitempty"`
	Seq  int    `json:"seq,omitempty"`
}

// ApprovalResult is the result of the UpdateApprove update.
type ApprovalResult struct {
	Step      string `json:"step"`
	Granted   bool   `json:"granted"`
	Approvals int    `json:"approvals"`
	Needed    int    `json:"needed"`
	Message   string `json:"message"`
}

// PendingApproval is a decision the run is waiting for.
type PendingApproval struct {
	Step        string    `json:"step"`
	Kind        string    `json:"kind"` // approval | manual | escalation
	Message     string    `json:"message"`
	Roles       []string  `json:"roles"` // any one of these may decide
	Needed      int       `json:"needed"`
	Approvals   int       `json:"approvals"`
	Approvers   []string  `json:"approvers,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	Deadline    time.Time `json:"deadline,omitzero"`
	// OnCall: each decider must be on call in PagerDuty for the run's incident.
	OnCall bool `json:"on_call,omitempty"`
	// Guards lists the irreversible steps a two-person gate holds back.
	Guards []string `json:"guards,omitempty"`
	// Owners, on a manual step, may decide it besides Roles: the owners of what is to be done
	// (a secret's custom_metadata owner), each a directory subject, an email or a role name.
	Owners []string `json:"owners,omitempty"`
	// Seq numbers the decisions the run has asked for, from 1 in the order asked: a signed
	// decision names the Seq (and Kind) it answers, so it counts for that occurrence only.
	Seq int `json:"seq,omitempty"`
	// ClaimedRequester: the run's requester is only claimed (its trigger is not signed by the
	// front end), so this gate needs one more approver than the playbook says.
	ClaimedRequester bool `json:"claimed_requester,omitempty"`
}

// Decision is one person's recorded decision: who, when, why.
type Decision struct {
	Step       string    `json:"step"`
	Kind       string    `json:"kind"`
	Approver   string    `json:"approver"`
	Roles      []string  `json:"roles,omitempty"`
	Decision   string    `json:"decision"` // approve | deny | timeout | refused
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
	ResponseMS int64     `json:"response_ms"`
	// Signature is the front end's signature the decision came with (absent for timeouts,
	// the drill bot and runs recorded before decisions were signed); with Email it lets an
	// auditor check the decision offline (VerifyDecision).
	Email     string             `json:"email,omitempty"`
	Signature *DecisionSignature `json:"signature,omitempty"`
}

// changeSignedDecisions versions the check that decisions are signed by a trusted decision
// key: runs recorded before it counted unsigned decisions.
const changeSignedDecisions = "signed-decisions"

// changeBoundDecisions versions the check that a decision's signature names the kind and
// occurrence (PendingApproval.Seq) of the pending decision it answers.
const changeBoundDecisions = "decisions-bind-pending"

// ErrDecisionSignature is the error type of a decision refused for its signature.
const ErrDecisionSignature = "DecisionSignature"

// Escalation records a step failure or an approval timeout that was put to people.
type Escalation struct {
	Step    string    `json:"step"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"` // continue | abort | pending
}

// pending is one open decision; the update handler changes it, the waiting step reads it.
type pending struct {
	PendingApproval
	decided  []string // approvers who decided, in order
	denied   bool
	deniedBy string
	reason   string // of the deny, or of the last approval
	done     bool
	// decidedBy and decidedAt are this decision's last decider and when, so a step reads its
	// own decision even when another step's was recorded in the same workflow task.
	decidedBy string
	decidedAt time.Time
}

func (p *pending) hasDecided(who string) bool {
	for _, d := range p.decided {
		if d == identity(who) {
			return true
		}
	}
	return false
}

// identity is the canonical form of a person's identity: one person, one decision, however
// the name is cased or padded.
func identity(who string) string { return strings.ToLower(strings.TrimSpace(who)) }

func (r *runner) findPending(step string) (*pending, error) {
	var open []*pending
	for _, p := range r.pending {
		if !p.done {
			open = append(open, p)
		}
	}
	ids := func() string {
		if len(open) == 0 {
			return "none"
		}
		var s []string
		for _, p := range open {
			s = append(s, p.Step+" ("+p.Kind+")")
		}
		return strings.Join(s, ", ")
	}
	if step == "" {
		if len(open) == 1 {
			return open[0], nil
		}
		return nil, fmt.Errorf("no step named and %d decisions are pending; name one of: %s", len(open), ids())
	}
	for _, p := range open {
		if p.Step == step {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no pending approval or manual step %q in this run; pending: %s", step, ids())
}

// validateApproval refuses a request that must not count; it changes nothing.
func (r *runner) validateApproval(ctx workflow.Context, req ApprovalRequest) error {
	return r.checkApproval(ctx, req, false)
}

// validateSigned is the update's validator: validateApproval and, for runs recorded since
// decisions are signed, the signature. The signature is checked here only: the validator
// decides whether the update is accepted, and it does not run again when an accepted update
// is replayed — so a worker whose trusted keys have changed since still replays the run as it
// was decided, rather than refusing the decision the second time.
func (r *runner) validateSigned(ctx workflow.Context, req ApprovalRequest) error {
	return r.checkApproval(ctx, req, true)
}

func (r *runner) checkApproval(ctx workflow.Context, req ApprovalRequest, signature bool) error {
	if req.Decision != DecisionApprove && req.Decision != DecisionDeny {
		return fmt.Errorf("decision: expected %q or %q, found %q", DecisionApprove, DecisionDeny, req.Decision)
	}
	if strings.TrimSpace(req.Approver) == "" {
		return errors.New("approver: expected the identity of the person deciding, found nothing")
	}
	p, err := r.findPending(req.Step)
	if err != nil {
		return err
	}
	if by := r.in.Trigger.By; by != "" && identity(req.Approver) == identity(by) {
		return fmt.Errorf("%s started this run and cannot decide %s: nobody approves their own request", req.Approver, p.Step)
	}
	if by := r.in.Trigger.ConfirmedBy; by != "" && identity(req.Approver) == identity(by) {
		return fmt.Errorf("%s confirmed this run and cannot decide %s: nobody approves their own request", req.Approver, p.Step)
	}
	if input, ok := r.subjectInput(req); ok && input == "subject" {
		return fmt.Errorf("%s is the subject of this run and cannot decide %s: nobody decides their own containment", req.Approver, p.Step)
	} else if ok {
		return fmt.Errorf("%s is a subject of this run (input %s) and cannot decide %s: nobody decides their own containment", req.Approver, input, p.Step)
	}
	allowed := false
	for _, have := range req.ApproverRoles {
		for _, want := range p.Roles {
			if have == want {
				allowed = true
			}
		}
	}
	for _, o := range p.Owners {
		who := identity(o)
		allowed = allowed || who == identity(req.Approver) || (req.ApproverEmail != "" && who == identity(req.ApproverEmail)) || slices.Contains(req.ApproverRoles, o)
	}
	if !allowed && len(p.Owners) > 0 {
		return fmt.Errorf("%s has roles [%s] and owns none of it; %s %s needs one of [%s] or an owner (%s)", req.Approver, strings.Join(req.ApproverRoles, ", "), p.Kind, p.Step, strings.Join(p.Roles, ", "), strings.Join(p.Owners, ", "))
	}
	if !allowed {
		return fmt.Errorf("%s has roles [%s]; %s %s needs one of [%s]", req.Approver, strings.Join(req.ApproverRoles, ", "), p.Kind, p.Step, strings.Join(p.Roles, ", "))
	}
	if p.hasDecided(req.Approver) {
		return fmt.Errorf("%s has already decided %s; each person decides once", req.Approver, p.Step)
	}
	// Everything above read what the request claims; the signature is what makes it true.
	if signature && r.signedDecisions {
		info := workflow.GetInfo(ctx)
		keys := slices.Clone(r.decisionKeys)
		for _, a := range r.approvers {
			keys = append(keys, a.Key)
		}
		if err := VerifyDecision(req, p.PendingApproval, r.boundDecisions, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, workflow.Now(ctx), keys); err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrDecisionSignature, nil)
		}
		// A person's own key decides as that person, with their configured roles, only.
		if a, ok := (trust{approvers: r.approvers}).approverFor(req.Signature.KeyID); ok {
			if err := checkApprover(a, req); err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), ErrDecisionSignature, nil)
			}
		}
	}
	return nil
}

// subjectInput returns the input that names the approver (by identity or email) as a person
// the run acts on: inputs.subject whatever its type, any input of type user or email, and any
// list input (mass-deprovision's users, emergency-deprovision's others). A list input may hold
// other things than people, but an approver's identity is never a sensible element of one.
func (r *runner) subjectInput(req ApprovalRequest) (string, bool) {
	who := []string{identity(req.Approver)}
	if e := identity(req.ApproverEmail); e != "" {
		who = append(who, e)
	}
	is := func(v any) bool {
		s, ok := v.(string)
		return ok && identity(s) != "" && slices.Contains(who, identity(s))
	}
	if is(r.in.Inputs["subject"]) {
		return "subject", true
	}
	for _, decl := range r.in.Plan.Inputs { // plan order: deterministic
		v := r.in.Inputs[decl.Name]
		switch decl.Type {
		case "user", "email":
			if is(v) {
				return decl.Name, true
			}
		case "list":
			list, _ := v.([]any)
			if slices.ContainsFunc(list, is) {
				return decl.Name, true
			}
			if ss, ok := v.([]string); ok && slices.ContainsFunc(ss, func(s string) bool { return is(s) }) {
				return decl.Name, true
			}
		}
	}
	return "", false
}

// applyApproval records a validated decision.
func (r *runner) applyApproval(ctx workflow.Context, req ApprovalRequest) (ApprovalResult, error) {
	if err := r.validateApproval(ctx, req); err != nil { // state may have changed since validation
		return ApprovalResult{}, err
	}
	p, _ := r.findPending(req.Step)
	if p.OnCall {
		if err := r.checkOnCall(ctx, p, req); err != nil {
			r.refuse(ctx, p, req, err.Error())
			return ApprovalResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrNotOnCall, nil)
		}
		// PagerDuty took time to answer: the decision may have been settled meanwhile.
		if err := r.validateApproval(ctx, req); err != nil {
			return ApprovalResult{}, err
		}
		p, _ = r.findPending(req.Step)
	}
	r.decide(ctx, p, req.Approver, req.ApproverRoles, req.Decision, req.Reason)
	if d := &r.res.Decisions[len(r.res.Decisions)-1]; req.Signature != nil {
		sig := *req.Signature
		d.Email, d.Signature = req.ApproverEmail, &sig
	}
	res := ApprovalResult{Step: p.Step, Granted: p.done && !p.denied, Approvals: p.Approvals, Needed: p.Needed}
	switch {
	case p.denied:
		res.Message = fmt.Sprintf("%s denied %s: %s", req.Approver, p.Step, cmp.Or(req.Reason, "-"))
	case p.done:
		res.Message = fmt.Sprintf("%s granted (%d of %d)", p.Step, p.Approvals, p.Needed)
	default:
		res.Message = fmt.Sprintf("approval recorded; %s needs %d more", p.Step, p.Needed-p.Approvals)
	}
	return res, nil
}

func (r *runner) decide(ctx workflow.Context, p *pending, who string, roles []string, decision, reason string) {
	now := workflow.Now(ctx)
	p.decided = append(p.decided, identity(who))
	p.decidedBy, p.decidedAt = who, now
	r.res.Decisions = append(r.res.Decisions, Decision{
		Step: p.Step, Kind: p.Kind, Approver: who, Roles: append([]string(nil), roles...), Decision: decision, Reason: reason,
		At: now, ResponseMS: now.Sub(p.RequestedAt).Milliseconds(),
	})
	p.reason = reason
	if decision == DecisionDeny {
		p.denied, p.deniedBy, p.done = true, who, true
		return
	}
	p.Approvals++
	p.Approvers = append(p.Approvers, who)
	if p.Approvals >= p.Needed {
		p.done = true
	}
}

// registerApprovals installs the approve update and the pending query.
func (r *runner) registerApprovals(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryPending, func() ([]PendingApproval, error) { return r.openPending(), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove,
		func(ctx workflow.Context, req ApprovalRequest) (ApprovalResult, error) {
			return r.applyApproval(ctx, req)
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ApprovalRequest) error { return r.validateSigned(ctx, req) }})
}

func (r *runner) openPending() []PendingApproval {
	out := []PendingApproval{}
	for _, p := range r.pending {
		if !p.done {
			pa := p.PendingApproval
			pa.Roles = append([]string(nil), p.Roles...)
			pa.Approvers = append([]string(nil), p.Approvers...)
			pa.Owners = append([]string(nil), p.Owners...)
			out = append(out, pa)
		}
	}
	return out
}

// await opens a pending decision and waits for it, or for timeout (0: no timeout). In drills
// with AutoApprove the drill bot grants it at once. It returns false on timeout.
func (r *runner) await(ctx workflow.Context, p *pending, timeout time.Duration, rep *reporter) bool {
	p.RequestedAt = workflow.Now(ctx)
	r.seq++
	p.Seq = r.seq
	if timeout > 0 {
		p.Deadline = p.RequestedAt.Add(timeout)
	}
	r.pending = append(r.pending, p)
	if r.in.AutoApprove {
		for i := p.Approvals; i < p.Needed && !p.done; i++ {
			who := DrillApprover
			if i > 0 {
				who = fmt.Sprintf("%s-%d", DrillApprover, i+1)
			}
			r.decide(ctx, p, who, p.Roles[:1], DecisionApprove, "drill: granted automatically")
		}
		return true
	}
	rep.send(ctx, event{kind: eventPending, step: p.Step})
	// An abort elsewhere closes the decision: nobody should be asked to approve a run that has
	// already failed, and compensation must not wait for them.
	settled := func() bool { return p.done || r.aborted != "" }
	if timeout <= 0 {
		_ = workflow.Await(ctx, settled)
	} else if ok, _ := workflow.AwaitWithTimeout(ctx, timeout, settled); !ok {
		return false
	}
	if !p.done {
		p.done = true
		r.recordTimeout(ctx, p, "closed: the run aborted after "+r.aborted+" failed")
		p.denied, p.deniedBy, p.reason = true, "firebreak", "the run aborted after "+r.aborted+" failed"
	}
	return true
}

// changeTwoPersonCheck versions the interpreter's own two-person check (refuseUnapproved):
// runs recorded before it ran irreversible steps without one.
const changeTwoPersonCheck = "two-person-check"

// refuseUnapproved fails st, and reports true, when st cannot be undone by the catalog
// (playbooks.Irreversible, or the plan says so) and no approval.request step among its needs,
// directly or not, ran and was granted — unless the plan opts out of the two-person rule
// (approval: {two_person: false}, which the compiler warns about). The compiler puts a gate
// before every such step; this is the same rule checked where it matters, so a plan made by
// hand, an edited plan or a playbook directory that drops the gate cannot run one on one
// person's word. Drills' approvals are granted by the drill bot, so drills pass it.
func (r *runner) refuseUnapproved(ctx workflow.Context, st playbooks.Step, sr *StepResult) bool {
	if r.in.Plan.TwoPersonOptOut || !(st.Irreversible || playbooks.Irreversible(st.Action, st.With)) || r.grantedBefore(st) {
		return false
	}
	// An unattended drill's bot grants every gate at once, so the check would add nothing
	// there; skipping it lets `drill replay` re-run a Plan pinned before gates existed on
	// the sandbox, as it was recorded. Drills never reach production (the task queue rule).
	if r.in.Drill && r.in.AutoApprove {
		return false
	}
	if workflow.GetVersion(ctx, changeTwoPersonCheck, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	r.fail(st, sr, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: %s cannot be undone and no approval granted it (no approval.request step among its needs ran and was granted); recompile the playbook, which puts a two-person gate before it", st.ID, st.Action), ErrNoApproval, nil))
	return true
}

// grantedBefore reports whether an approval.request step among st's needs, direct or not,
// succeeded with granted true.
func (r *runner) grantedBefore(st playbooks.Step) bool {
	seen := map[string]bool{}
	queue := slices.Clone(st.Needs)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		i, ok := r.index[id]
		if seen[id] || !ok {
			continue
		}
		seen[id] = true
		anc := r.in.Plan.Steps[i]
		if granted, _ := r.outputs[id]["granted"].(bool); anc.Action == playbooks.ActionApproval && r.res.Steps[i].Status == StatusSucceeded && granted {
			return true
		}
		queue = append(queue, anc.Needs...)
	}
	return false
}

// approvalRoles are the roles that decide escalations: the playbook's approvers.
func approvalRoles(plan playbooks.Plan) []string {
	if plan.Approval != nil && len(plan.Approval.Roles) > 0 {
		return plan.Approval.Roles
	}
	return plan.Roles.Approve
}

// runApproval carries out an approval.request step.
func (r *runner) runApproval(ctx workflow.Context, st playbooks.Step, args map[string]any, rep *reporter) (map[string]any, error) {
	rule := st.Approval
	if rule == nil {
		return nil, temporal.NewNonRetryableApplicationError("approval step "+st.ID+" has no approval rule; recompile the playbook", ErrInvalidPlan, nil)
	}
	msg, _ := args["message"].(string)
	p := &pending{PendingApproval: PendingApproval{Step: st.ID, Kind: PendingKindApproval, Message: msg, Roles: rule.Roles, Needed: max(rule.Count, 1), OnCall: rule.OnCall, Guards: st.Guards}}
	if r.claimedTrigger {
		// Nobody vouches for who asked for this run, so the requester may be any approver:
		// one more distinct person must agree than the playbook says.
		p.Needed++
		p.ClaimedRequester = true
	}
	defer rep.send(ctx, event{kind: eventDecided, step: st.ID})
	granted := r.await(ctx, p, time.Duration(rule.Timeout), rep)
	if !granted {
		switch rule.OnTimeout {
		case playbooks.OnTimeoutContinue:
			p.done = true
			r.recordTimeout(ctx, p, "continued without approval")
			return map[string]any{"granted": false, "approvers": toAny(p.Approvers), "timed_out": true}, nil
		case playbooks.OnTimeoutEscalate:
			r.recordTimeout(ctx, p, "escalated")
			esc := r.openEscalation(ctx, st.ID, fmt.Sprintf("approval %s not granted within %s", st.ID, time.Duration(rule.Timeout)))
			p.Kind = PendingKindEscalation
			p.Deadline = workflow.Now(ctx).Add(time.Duration(rule.Timeout))
			rep.send(ctx, event{kind: eventEscalated, step: st.ID})
			ok, _ := workflow.AwaitWithTimeout(ctx, time.Duration(rule.Timeout), func() bool { return p.done || r.aborted != "" })
			if ok && !p.done {
				p.done, p.denied, p.deniedBy, p.reason = true, true, "firebreak", "the run aborted after "+r.aborted+" failed"
			}
			if !ok {
				r.recordTimeout(ctx, p, "aborted: not decided after escalation")
			}
			if ok && !p.denied {
				r.res.Escalations[esc].Outcome = playbooks.OnFailureContinue
				break
			}
			r.res.Escalations[esc].Outcome = playbooks.OnFailureAbort
			if !ok {
				p.done = true
				return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("approval %s not granted within twice %s, even after escalation", st.ID, time.Duration(rule.Timeout)), ErrApprovalTimeout, nil)
			}
		default:
			p.done = true
			r.recordTimeout(ctx, p, "aborted")
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("approval %s not granted within %s (%d of %d approvals)", st.ID, time.Duration(rule.Timeout), p.Approvals, p.Needed), ErrApprovalTimeout, nil)
		}
	}
	if p.denied {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("approval %s denied by %s: %s", st.ID, p.deniedBy, cmp.Or(p.reason, "-")), ErrApprovalDenied, nil)
	}
	return map[string]any{"granted": true, "approvers": toAny(p.Approvers), "timed_out": false}, nil
}

func (r *runner) recordTimeout(ctx workflow.Context, p *pending, what string) {
	now := workflow.Now(ctx)
	r.res.Decisions = append(r.res.Decisions, Decision{Step: p.Step, Kind: p.Kind, Approver: "timeout", Decision: DecisionTimeout, Reason: what, At: now, ResponseMS: now.Sub(p.RequestedAt).Milliseconds()})
}

// runManual carries out a manual step: a person with the assignee role confirms it.
func (r *runner) runManual(ctx workflow.Context, st playbooks.Step, args map[string]any, rep *reporter) (map[string]any, error) {
	instr, _ := args["instructions"].(string)
	var owners []string
	if list, ok := args["owners"].([]any); ok {
		for _, o := range list {
			if s, _ := o.(string); strings.TrimSpace(s) != "" && !slices.Contains(owners, strings.TrimSpace(s)) {
				owners = append(owners, strings.TrimSpace(s))
			}
		}
	}
	p := &pending{PendingApproval: PendingApproval{Step: st.ID, Kind: PendingKindManual, Message: instr, Roles: []string{st.Assignee}, Needed: 1, Owners: owners}}
	defer rep.send(ctx, event{kind: eventDecided, step: st.ID})
	if !r.await(ctx, p, time.Duration(st.Timeout), rep) {
		p.done = true
		r.recordTimeout(ctx, p, "nobody confirmed it")
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("manual step %s not confirmed by a %s within %s", st.ID, st.Assignee, time.Duration(st.Timeout)), ErrManualStepTimeout, nil)
	}
	if p.denied {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("manual step %s could not be done, says %s: %s", st.ID, p.deniedBy, cmp.Or(p.reason, "-")), ErrManualStepDeclined, nil)
	}
	return map[string]any{"confirmed_by": p.decidedBy, "note": p.reason, "response_ms": p.decidedAt.Sub(p.RequestedAt).Milliseconds()}, nil
}

// runWait carries out a wait step on a durable timer.
func (r *runner) runWait(ctx workflow.Context, st playbooks.Step, args map[string]any) (map[string]any, error) {
	raw, _ := args["duration"].(string)
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("wait %s: duration: expected a positive duration like 10m, found %q", st.ID, raw), ErrInvalidInput, nil)
	}
	start := workflow.Now(ctx)
	// The timer is the same one workflow.Sleep starts; an abort elsewhere cancels it so that
	// compensation need not wait.
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	fired := false
	timer := workflow.NewTimer(tctx, d)
	workflow.Go(ctx, func(ctx workflow.Context) {
		_ = timer.Get(ctx, nil)
		fired = true
	})
	if err := workflow.Await(ctx, func() bool { return fired || r.aborted != "" }); err != nil {
		return nil, err
	}
	if !fired {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("wait %s cancelled: the run aborted after %s failed", st.ID, r.aborted), ErrAborted, nil)
	}
	return map[string]any{"waited_ms": workflow.Now(ctx).Sub(start).Milliseconds()}, nil
}

func (r *runner) openEscalation(ctx workflow.Context, step, reason string) int {
	r.res.Escalations = append(r.res.Escalations, Escalation{Step: step, Reason: reason, At: workflow.Now(ctx), Outcome: "pending"})
	return len(r.res.Escalations) - 1
}

// escalate puts a failed step with on_failure: escalate to the playbook's approvers: approve
// carries on as continue would, deny or silence for the approval timeout aborts the run.
func (r *runner) escalate(ctx workflow.Context, st playbooks.Step, sr *StepResult, rep *reporter) {
	esc := r.openEscalation(ctx, st.ID, sr.Error)
	roles := approvalRoles(r.in.Plan)
	timeout := time.Hour
	if r.in.Plan.Approval != nil && r.in.Plan.Approval.Timeout > 0 {
		timeout = time.Duration(r.in.Plan.Approval.Timeout)
	}
	rep.send(ctx, event{kind: eventEscalated, step: st.ID})
	p := &pending{PendingApproval: PendingApproval{Step: st.ID, Kind: PendingKindEscalation, Message: fmt.Sprintf("%s failed: %s — approve to carry on, deny to abort", st.ID, sr.Error), Roles: roles, Needed: 1, OnCall: r.in.Plan.Approval != nil && r.in.Plan.Approval.OnCall}}
	// Unlike an approval's or a manual step's, this event is not sent together with the
	// step's own, so it makes a batch of its own and the reporter updates the status message
	// for it: runs recorded before decided replies were updated must not see it.
	defer func() {
		if rep.ch != nil && workflow.GetVersion(ctx, changeDecisionUpdate, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
			rep.send(ctx, event{kind: eventDecided, step: st.ID})
		}
	}()
	ok := len(roles) > 0 && r.await(ctx, p, timeout, rep)
	if ok && !p.denied {
		r.res.Escalations[esc].Outcome = playbooks.OnFailureContinue
		// A person's decision to carry on tolerates the failure; the drill bot's does not,
		// so a drill still fails on it.
		r.carriedOn[st.ID] = !r.in.AutoApprove
		return
	}
	if !ok {
		p.done = true
		r.recordTimeout(ctx, p, "escalation not answered; aborting")
	}
	r.res.Escalations[esc].Outcome = playbooks.OnFailureAbort
	if r.aborted == "" {
		r.aborted = st.ID
	}
}

// incident is the PagerDuty incident the run answers: the one it reports to, else an input
// named incident.
func (r *runner) incident() string {
	if r.in.Report.PagerDutyIncident != "" {
		return r.in.Report.PagerDutyIncident
	}
	s, _ := r.in.Inputs["incident"].(string)
	return strings.TrimSpace(s)
}

// onCallOptions: the person deciding waits for the answer, so the check is quick and gives up
// after a few tries rather than leaving them hanging.
var onCallOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 2 * time.Second, MaximumAttempts: 3,
		NonRetryableErrorTypes: []string{pagerduty.ErrTypeUnknownIncident, pagerduty.ErrTypeInvalidRequest, pagerduty.ErrTypeInvalidToken, pagerduty.ErrTypeForbidden},
	},
}

// checkOnCall asks PagerDuty whether the approver is on call for the run's incident; nil
// when they are. Every path to a decision (Slack buttons, /firebreak approve, a direct
// Update) comes through here.
func (r *runner) checkOnCall(ctx workflow.Context, p *pending, req ApprovalRequest) error {
	inc := r.incident()
	if inc == "" {
		return fmt.Errorf("%s %s needs an approver on call in PagerDuty for the run's incident, but this run has no PagerDuty incident (start it from one, with --incident, or with an incident input); nobody can be shown to be on call", p.Kind, p.Step)
	}
	email := strings.TrimSpace(req.ApproverEmail)
	if email == "" && strings.Contains(req.Approver, "@") {
		email = strings.TrimSpace(req.Approver)
	}
	if email == "" {
		return fmt.Errorf("%s %s needs an approver on call in PagerDuty for incident %s, matched by email, and no email came with %s's decision", p.Kind, p.Step, inc, req.Approver)
	}
	var res pagerduty.IsOnCallResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, onCallOptions), pagerduty.ActivityPrefix+methodName(pa.IsOnCall), pagerduty.IsOnCallInput{IncidentID: inc, Email: email}).Get(ctx, &res)
	if err != nil {
		return fmt.Errorf("could not ask PagerDuty whether %s is on call for incident %s, so the decision on %s was not counted: %s", req.Approver, inc, p.Step, errMessage(err))
	}
	if !res.OnCall {
		return fmt.Errorf("%s (%s) is not on call for incident %s (escalation policy %s, %d on call now); %s %s needs an on-call approver", req.Approver, email, inc, res.EscalationPolicyID, res.OnCallCount, p.Kind, p.Step)
	}
	return nil
}

// refuse records a decision that was not counted, with who and why.
func (r *runner) refuse(ctx workflow.Context, p *pending, req ApprovalRequest, why string) {
	now := workflow.Now(ctx)
	r.res.Decisions = append(r.res.Decisions, Decision{
		Step: p.Step, Kind: p.Kind, Approver: req.Approver, Roles: append([]string(nil), req.ApproverRoles...), Decision: DecisionRefused,
		Reason: req.Decision + " not counted: " + why, At: now, ResponseMS: now.Sub(p.RequestedAt).Milliseconds(),
	})
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
