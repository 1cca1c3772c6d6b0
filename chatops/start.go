package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// startSpec is a run to start: the playbook, its raw inputs, and where it came from.
type startSpec struct {
	Playbook string
	Raw      map[string]string
	// Request says which run this is and where it came from; its Incident makes the run the
	// PagerDuty incident's, its Nonce distinguishes drills (Slack requests use their
	// trigger_id, so Slack's retries of one request name the same drill).
	Request runs.Request
	Source  string // metrics label: slack, pagerduty
	// Once means the trigger happens once per workflow id (a PagerDuty incident is triggered
	// once): a closed run with the id is the answer too, and no second run is ever started.
	Once bool
	// WorkflowID is set by prepare: the id the run has.
	WorkflowID string
	// RequestKey names the request that asks for the start (a Slack request's trigger_id,
	// signed with the body): a request replayed within its signature's window, or retried
	// by Slack, starts nothing on any replica (runs.Client.Claim).
	RequestKey string
}

// ErrReplayed is the error of a start asked for by a request already handled.
var ErrReplayed = errors.New("this request was already handled (a replayed or retried request starts nothing)")

// requestWindow is how long a request's claim stays open: the replay window of its
// signature, and a margin for clocks.
const requestWindow = SlackReplayWindow + 5*time.Minute

// slackRequestKey is the claim key of a Slack request with trigger_id id; "" when it has
// none.
func slackRequestKey(id string) string {
	if id == "" {
		return ""
	}
	return "slack/" + id
}

// started says what a start did.
type started = runs.Started

// errNoTemporal is returned when no Temporal client is configured.
var errNoTemporal = runs.ErrNoTemporal

// prepare compiles nothing: it looks the plan up and binds the inputs, so a bad request is
// refused before anything is started.
func (s *Server) prepare(sp *startSpec) (runs.Run, error) {
	if s.libErr != nil && s.lib == nil {
		return runs.Run{}, fmt.Errorf("the playbook library did not load: %w", s.libErr)
	}
	if sp.Request.Report.TemporalUIURL == "" {
		sp.Request.Report.TemporalUIURL = s.o.Config.TemporalUIURL
	}
	sp.Request.Directory = Identities(s.o.Config.Directory)
	run, err := runs.Lookup(s.lib, sp.Playbook, sp.Raw, sp.Request)
	if err != nil {
		return runs.Run{}, err
	}
	sp.WorkflowID = run.ID
	return run, nil
}

// start starts a prepared run, or joins the open run with the same workflow id, and counts
// what it did.
func (s *Server) start(ctx context.Context, sp startSpec, run runs.Run) (runs.Started, error) {
	if sp.RequestKey != "" {
		first, err := s.runs.Claim(ctx, sp.RequestKey, requestWindow)
		if err != nil {
			s.metrics.start(sp.Source, "failed")
			return runs.Started{}, err
		}
		if !first {
			s.metrics.start(sp.Source, "replayed")
			s.log.Warn("chatops: a request already handled was received again; nothing started", "playbook", sp.Playbook, "workflow_id", sp.WorkflowID)
			return runs.Started{}, ErrReplayed
		}
	}
	res, err := s.runs.StartOrJoin(ctx, run, runs.StartOptions{Once: sp.Once})
	switch {
	case err != nil:
		s.metrics.start(sp.Source, "failed")
		if sp.RequestKey != "" {
			// Nothing started: the request's claim must not turn its retry away as a replay.
			// A fresh context, as the request's may be what ran out.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if rerr := s.runs.Release(rctx, sp.RequestKey); rerr != nil {
				s.log.Warn("chatops: could not release a request whose run did not start; its retry will be refused as a replay", "playbook", sp.Playbook, "error", rerr)
			}
			cancel()
		}
	case res.Joined:
		s.metrics.start(sp.Source, "joined")
	default:
		s.metrics.start(sp.Source, "started")
	}
	return res, err
}

// approve sends an approval decision and returns what the workflow said. A refusal by the
// validator comes back as an error whose message is the workflow's.
func (s *Server) approve(ctx context.Context, workflowID string, req workflows.ApprovalRequest) (workflows.ApprovalResult, error) {
	res, err := s.runs.Decide(ctx, workflowID, req)
	return res, refusal(err)
}

// refusal says "no such run" in Slack's terms.
func refusal(err error) error {
	if errors.Is(err, runs.ErrNotFound) {
		return errors.New("no such run (check the id with /firebreak status)")
	}
	return err
}

// status queries a run's current RunResult.
func (s *Server) status(ctx context.Context, workflowID string) (workflows.RunResult, error) {
	res, err := s.runs.Status(ctx, workflowID)
	return res, refusal(err)
}

// openRuns lists runs still open, newest first, at most n.
func (s *Server) openRuns(ctx context.Context, n int) ([]string, error) {
	if s.starter == nil {
		return nil, errNoTemporal
	}
	open, err := s.runs.List(ctx, runs.Filter{Open: true, Limit: n})
	if errors.Is(err, runs.ErrCannotList) {
		return nil, errors.New("this Temporal client cannot list runs; name one: /firebreak status RUN")
	}
	if err != nil {
		return nil, fmt.Errorf("listing open runs: %w", err)
	}
	var ids []string
	for _, r := range open {
		ids = append(ids, r.WorkflowID)
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
