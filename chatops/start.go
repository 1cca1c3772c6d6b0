package chatops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/workflows"
)

// startSpec is a run to start: the playbook, its raw inputs, and where it came from.
type startSpec struct {
	Playbook   string
	Raw        map[string]string
	WorkflowID string // empty: derived from the playbook and subject
	Drill      bool
	Trigger    workflows.Trigger
	Report     workflows.Report
	Source     string // metrics label: slack, pagerduty
	// Nonce distinguishes drills; empty means the trigger time. Slack requests use their
	// trigger_id, so Slack's retries of one request name the same drill.
	Nonce string
	// Once means the trigger happens once per workflow id (a PagerDuty incident is triggered
	// once): a closed run with the id is the answer too, and no second run is ever started.
	Once bool
}

// started says what a start did.
type started struct {
	WorkflowID string
	RunID      string
	Joined     bool // a run with this id was already open (or, for Once, closed); nothing new started
	Closed     bool // with Joined: that run has finished
}

// errNoTemporal is returned when no Temporal client is configured.
var errNoTemporal = errors.New("no Temporal client configured")

// prepare compiles nothing: it looks the plan up and binds the inputs, so a bad request is
// refused before anything is started.
func (s *Server) prepare(sp *startSpec) (workflows.RunInput, error) {
	if s.libErr != nil && s.lib == nil {
		return workflows.RunInput{}, fmt.Errorf("the playbook library did not load: %w", s.libErr)
	}
	p, err := s.lib.Get(sp.Playbook)
	if err != nil {
		return workflows.RunInput{}, err
	}
	in, err := p.BindInputs(sp.Raw)
	if err != nil {
		return workflows.RunInput{}, err
	}
	if sp.WorkflowID == "" {
		subject, _ := in["subject"].(string)
		if sp.Drill {
			nonce := sp.Nonce
			if nonce == "" {
				nonce = sp.Trigger.At.UTC().Format("20060102T150405.000")
			}
			sp.WorkflowID = workflows.DrillWorkflowID(p.Name, subject, nonce)
		} else {
			sp.WorkflowID = workflows.PlaybookWorkflowID(*p, in)
		}
	}
	report := sp.Report
	if report.TemporalUIURL == "" {
		report.TemporalUIURL = s.o.Config.TemporalUIURL
	}
	return workflows.RunInput{Plan: *p, Inputs: in, Trigger: sp.Trigger, Drill: sp.Drill, Report: report}, nil
}

// start starts a prepared run, or joins the open run with the same workflow id: it asks
// Temporal whether one is running (to say "already running"), and starts with
// USE_EXISTING so that two starts racing each other still make one run.
func (s *Server) start(ctx context.Context, sp startSpec, in workflows.RunInput) (started, error) {
	if s.starter == nil {
		s.metrics.start(sp.Source, "failed")
		return started{}, errNoTemporal
	}
	queue := workflows.TaskQueue
	if sp.Drill {
		queue = workflows.DrillTaskQueue
	}
	if d, err := s.starter.DescribeWorkflowExecution(ctx, sp.WorkflowID, ""); err == nil {
		info := d.GetWorkflowExecutionInfo()
		running := info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		if running || sp.Once {
			s.metrics.start(sp.Source, "joined")
			return started{WorkflowID: sp.WorkflowID, RunID: info.GetExecution().GetRunId(), Joined: true, Closed: !running}, nil
		}
	} else if !isNotFound(err) && ctx.Err() != nil {
		s.metrics.start(sp.Source, "failed")
		return started{}, fmt.Errorf("asking Temporal about run %s: %w", sp.WorkflowID, err)
	}
	opts := client.StartWorkflowOptions{
		ID:                       sp.WorkflowID,
		TaskQueue:                queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
	if sp.Once {
		// A run that closed between Describe and here must not be followed by a second one;
		// the error says which run it was.
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	}
	run, err := s.starter.ExecuteWorkflow(ctx, opts, workflows.Run, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if sp.Once && errors.As(err, &already) {
		s.metrics.start(sp.Source, "joined")
		return started{WorkflowID: sp.WorkflowID, RunID: already.RunId, Joined: true, Closed: true}, nil
	}
	if err != nil {
		s.metrics.start(sp.Source, "failed")
		return started{}, fmt.Errorf("starting playbook %s as %s: %w", sp.Playbook, sp.WorkflowID, err)
	}
	s.metrics.start(sp.Source, "started")
	return started{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// ErrNoDecisionKey is returned when a decision is asked of a front end that holds no
// decision key.
var ErrNoDecisionKey = errors.New("this front end holds no decision key, so it cannot sign decisions (set decision.key, FIREBREAK_DECISION_KEY, on firebreak serve)")

// approve signs an approval decision for the run's current execution and sends it through
// the workflow's Update, and returns what the workflow said. A refusal by the validator comes
// back as an error whose message is the workflow's.
func (s *Server) approve(ctx context.Context, workflowID string, req workflows.ApprovalRequest) (workflows.ApprovalResult, error) {
	return Decide(ctx, s.starter, s.o.Signer, workflowID, req, s.o.Now())
}

// Decide signs req for the open run workflowID with signer (the sandbox's decision key
// instead for a drill), naming the step the run waits for when req names none, and sends
// it through the approval Update. The approver, their roles and email must already be
// resolved from the directory: the signature vouches for them.
func Decide(ctx context.Context, c Starter, signer *workflows.Signer, workflowID string, req workflows.ApprovalRequest, now time.Time) (workflows.ApprovalResult, error) {
	if c == nil {
		return workflows.ApprovalResult{}, errNoTemporal
	}
	if signer == nil {
		return workflows.ApprovalResult{}, ErrNoDecisionKey
	}
	d, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return workflows.ApprovalResult{}, refusal(err)
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return workflows.ApprovalResult{}, fmt.Errorf("run %s is no longer open (%s): nothing to decide", workflowID, strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")))
	}
	runID := info.GetExecution().GetRunId()
	if workflows.IsDrillQueue(info.GetTaskQueue()) || strings.HasPrefix(workflowID, "drill/") {
		signer = workflows.NewSigner(workflows.SandboxDecisionKey())
	}
	step := req.Step
	if step == "" {
		v, err := c.QueryWorkflow(ctx, workflowID, runID, workflows.QueryStatus)
		if err != nil {
			return workflows.ApprovalResult{}, refusal(err)
		}
		var st workflows.RunResult
		if err := v.Get(&st); err != nil {
			return workflows.ApprovalResult{}, fmt.Errorf("decoding the status of %s: %w", workflowID, err)
		}
		if len(st.Pending) != 1 {
			var ids []string
			for _, p := range st.Pending {
				ids = append(ids, p.Step+" ("+p.Kind+")")
			}
			if len(ids) == 0 {
				return workflows.ApprovalResult{}, fmt.Errorf("run %s is waiting for no decision", workflowID)
			}
			return workflows.ApprovalResult{}, fmt.Errorf("no step named and %d decisions are pending; name one of: %s", len(st.Pending), strings.Join(ids, ", "))
		}
		step = st.Pending[0].Step
	}
	req = signer.Sign(req, step, workflowID, runID, now)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		RunID:        runID,
		UpdateName:   workflows.UpdateApprove,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res workflows.ApprovalResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err != nil {
		return workflows.ApprovalResult{}, refusal(err)
	}
	return res, nil
}

// refusal turns a Temporal error into the message a person should read.
func refusal(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return errors.New(app.Message())
	}
	if isNotFound(err) {
		return errors.New("no such run (check the id with /firebreak status)")
	}
	return err
}

// status queries a run's current RunResult.
func (s *Server) status(ctx context.Context, workflowID string) (workflows.RunResult, error) {
	if s.starter == nil {
		return workflows.RunResult{}, errNoTemporal
	}
	v, err := s.starter.QueryWorkflow(ctx, workflowID, "", workflows.QueryStatus)
	if err != nil {
		return workflows.RunResult{}, refusal(err)
	}
	var res workflows.RunResult
	if err := v.Get(&res); err != nil {
		return workflows.RunResult{}, fmt.Errorf("decoding the status of %s: %w", workflowID, err)
	}
	return res, nil
}

// openRuns lists runs still open, newest first, at most n.
func (s *Server) openRuns(ctx context.Context, n int) ([]string, error) {
	if s.starter == nil {
		return nil, errNoTemporal
	}
	lister, ok := s.starter.(interface {
		ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	})
	if !ok {
		return nil, errors.New("this Temporal client cannot list runs; name one: /firebreak status RUN")
	}
	resp, err := lister.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize: int32(n), Query: `ExecutionStatus = "Running"`,
	})
	if err != nil {
		return nil, fmt.Errorf("listing open runs: %w", err)
	}
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids, nil
}

// runLink is a link to the run in the Temporal Web UI, or the bare id when none is configured.
func (s *Server) runLink(workflowID string) string {
	return workflows.RunLink(s.o.Config.TemporalUIURL, workflowID)
}

// formatStatus renders a RunResult for Slack: one line per step, ✓ / ⏳ / ✗ with durations.
func formatStatus(r workflows.RunResult) string {
	var b strings.Builder
	subj := ""
	if r.Subject != "" {
		subj = " subject=" + r.Subject
	}
	drill := ""
	if r.Drill {
		drill = " (drill)"
	}
	fmt.Fprintf(&b, "*%s*%s%s — %s", r.Playbook, subj, drill, r.Outcome)
	if r.TimeToContainMS > 0 {
		fmt.Fprintf(&b, ", contained in %s", (time.Duration(r.TimeToContainMS) * time.Millisecond).String())
	}
	b.WriteString("\n")
	for _, st := range r.Steps {
		mark := "⏳"
		switch st.Status {
		case workflows.StatusSucceeded:
			mark = "✓"
		case workflows.StatusFailed:
			mark = "✗"
		case workflows.StatusSkipped:
			mark = "–"
		case workflows.StatusPending:
			mark = "·"
		}
		fmt.Fprintf(&b, "%s %s", mark, st.ID)
		if st.DurationMS > 0 {
			fmt.Fprintf(&b, " (%d ms)", st.DurationMS)
		}
		if st.Error != "" {
			fmt.Fprintf(&b, ": %s", st.Error)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// sortedRoles returns roles sorted, for stable messages.
func sortedRoles(r []string) []string {
	out := append([]string(nil), r...)
	sort.Strings(out)
	return out
}
