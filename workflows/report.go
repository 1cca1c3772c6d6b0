package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// Progress reporting runs in its own coroutine fed by a buffered channel: a step never waits
// for Slack or PagerDuty (trust rule 8). Each message carries an idempotency key derived from
// the workflow id, so a retried or replayed report is never posted twice.

type eventKind int

const (
	eventStarted eventKind = iota
	eventStep
	eventFinished
	eventPending   // a person is asked to decide (approval, manual step, escalation)
	eventEscalated // a failure or an approval timeout was escalated
)

type event struct {
	kind eventKind
	step string
}

type reporter struct {
	r        *runner
	ch       workflow.Channel
	done     workflow.Future
	statusTS string
}

// reportOptions: patient retries, because a message may wait; containment does not.
var reportOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second, // a chat API call; a lost one is retried after this
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
		NonRetryableErrorTypes: []string{"UnknownIncident", "UnknownUser", "InvalidInput", "AccessDenied"},
	},
}

func startReporter(ctx workflow.Context, r *runner) *reporter {
	rep := &reporter{r: r}
	if r.in.Report.SlackChannel == "" && r.in.Report.PagerDutyIncident == "" {
		return rep
	}
	// Room for every event a run can send, so a step never blocks on a full channel: a step
	// sends at most five (pending, escalated, done, and pending and escalated again when an
	// escalation is itself escalated), the run two more; the margin is cheap.
	rep.ch = workflow.NewBufferedChannel(ctx, 6*len(r.in.Plan.Steps)+8)
	f, set := workflow.NewFuture(ctx)
	rep.done = f
	workflow.Go(ctx, func(ctx workflow.Context) {
		rep.loop(workflow.WithActivityOptions(ctx, reportOptions))
		set.Set(nil, nil)
	})
	return rep
}

func (rep *reporter) send(ctx workflow.Context, ev event) {
	if rep.ch != nil {
		rep.ch.Send(ctx, ev)
	}
}

// close waits for every queued message to be delivered or given up on.
func (rep *reporter) close(ctx workflow.Context) {
	if rep.ch == nil {
		return
	}
	rep.ch.Close()
	_ = rep.done.Get(ctx, nil)
}

func (rep *reporter) loop(ctx workflow.Context) {
	for {
		var ev event
		if more := rep.ch.Receive(ctx, &ev); !more {
			return
		}
		batch := []event{ev}
		for {
			var next event
			if ok, _ := rep.ch.ReceiveAsyncWithMoreFlag(&next); !ok {
				break
			}
			batch = append(batch, next)
		}
		rep.status(ctx)
		for _, ev := range batch {
			rep.deliver(ctx, ev)
		}
	}
}

// status posts the run's status message once and then updates it in place.
func (rep *reporter) status(ctx workflow.Context) {
	ch := rep.r.in.Report.SlackChannel
	if ch == "" {
		return
	}
	text := statusText(rep.r.snapshot(), rep.r.in.Report.TemporalUIURL)
	if rep.statusTS == "" {
		out, err := call(ctx, slack.ActivityPrefix, sa.Post, slack.PostInput{Channel: ch, Text: text, IdempotencyKey: rep.r.res.WorkflowID + "/status"})
		if err != nil {
			rep.failed("slack status message", err)
			return
		}
		rep.statusTS = out.TS
		rep.r.in.Report.SlackChannel = out.Channel
		return
	}
	if _, err := call(ctx, slack.ActivityPrefix, sa.Update, slack.UpdateInput{Channel: ch, TS: rep.statusTS, Text: text}); err != nil {
		rep.failed("slack status update", err)
	}
}

func (rep *reporter) deliver(ctx workflow.Context, ev event) {
	res := rep.r.snapshot()
	var text, key string
	switch ev.kind {
	case eventStarted:
		text = fmt.Sprintf("firebreak started %s%s for %s (trigger: %s by %s). Reason: %s", res.Playbook, drillTag(res.Drill), orDash(res.Subject), res.Trigger.Kind, orDash(res.Trigger.By), orDash(res.Trigger.Reason))
		key = "started"
		rep.note(ctx, text, key)
		rep.notify(ctx, playbooks.NotifyStarted, "")
		return
	case eventPending:
		var p *pending
		for _, q := range rep.r.pending {
			if q.Step == ev.step {
				p = q
			}
		}
		if p == nil {
			return
		}
		verb := map[string]string{PendingKindApproval: "Approval needed", PendingKindManual: "Manual step for a " + strings.Join(p.Roles, "/"), PendingKindEscalation: "Escalation"}[p.Kind]
		text = fmt.Sprintf("🙋 %s — %s: %s\nWho may answer: %s (%d needed; not %s, who started the run). Press a button below, or `/firebreak approve %s step=%s` (or `deny`).", verb, p.Step, p.Message, strings.Join(p.Roles, ", "), p.Needed, orDash(res.Trigger.By), res.WorkflowID, p.Step)
		if !p.Deadline.IsZero() {
			text += " Deadline: " + p.Deadline.UTC().Format(time.RFC3339) + "."
		}
		key = "pending/" + p.Step + "/" + p.Kind
		rep.replyBlocks(ctx, text, decisionBlocks(text, res.WorkflowID, p.PendingApproval), key)
		rep.note(ctx, text, key)
		if p.Kind != PendingKindEscalation {
			rep.notify(ctx, playbooks.NotifyApproval, p.Step)
		}
		return
	case eventEscalated:
		var reason string
		for _, e := range res.Escalations {
			if e.Step == ev.step {
				reason = e.Reason
			}
		}
		text = fmt.Sprintf("🚨 ESCALATION in %s%s: %s — %s", res.Playbook, drillTag(res.Drill), ev.step, reason)
		key = "escalated/" + ev.step
		rep.reply(ctx, text, key)
		rep.note(ctx, text, key)
		rep.notify(ctx, playbooks.NotifyEscalated, ev.step)
		return
	case eventStep:
		s := res.Steps[rep.r.index[ev.step]]
		switch {
		case s.Status == StatusFailed:
			text = fmt.Sprintf("%s %s failed: %s", mark(s.Status), stepLabel(s), s.Error)
		case s.Status == StatusSucceeded && s.Action == "evidence.snapshot":
			text = fmt.Sprintf("%s evidence stored before any change: %v (sha256 %v)", mark(s.Status), s.Outputs["ref"], s.Outputs["sha256"])
		case s.Status == StatusSucceeded && (s.Destructive || s.Outputs["passed"] != nil):
			text = fmt.Sprintf("%s %s (%d ms)", mark(s.Status), stepLabel(s), s.DurationMS)
		default:
			return
		}
		key = "step/" + s.ID
	case eventFinished:
		text = summaryText(res)
		key = "summary"
		rep.reply(ctx, text, key)
		rep.note(ctx, text, key)
		if res.Outcome == OutcomeContained {
			rep.notify(ctx, playbooks.NotifyContained, "")
		} else {
			rep.notify(ctx, playbooks.NotifyFailed, "")
		}
		rep.notify(ctx, playbooks.NotifyFinished, "")
		return
	}
	rep.reply(ctx, text, key)
	rep.note(ctx, text, key)
}

// notify sends the playbook's stakeholder templates for event, in playbook order.
func (rep *reporter) notify(ctx workflow.Context, event, step string) {
	for _, n := range rep.r.in.Plan.Notify {
		if !slices.Contains(n.On, event) {
			continue
		}
		v, err := rep.r.ev.Eval(n.Text, rep.r.fullScope())
		if err != nil {
			rep.failed("notify "+n.Name, err)
			continue
		}
		text, _ := v.(string)
		key := "notify/" + n.Name + "/" + event
		if step != "" {
			key += "/" + step
		}
		rep.reply(ctx, text, key)
		rep.note(ctx, text, key)
	}
}

func (rep *reporter) reply(ctx workflow.Context, text, key string) {
	rep.replyBlocks(ctx, text, nil, key)
}

// replyBlocks posts a reply in the run's thread; text stays the notification fallback when
// blocks are set.
func (rep *reporter) replyBlocks(ctx workflow.Context, text string, blocks json.RawMessage, key string) {
	if rep.r.in.Report.SlackChannel == "" || rep.statusTS == "" {
		return
	}
	_, err := call(ctx, slack.ActivityPrefix, sa.Post, slack.PostInput{Channel: rep.r.in.Report.SlackChannel, ThreadTS: rep.statusTS, Text: text, Blocks: blocks, IdempotencyKey: rep.r.res.WorkflowID + "/" + key})
	if err != nil {
		rep.failed("slack reply "+key, err)
	}
}

func (rep *reporter) note(ctx workflow.Context, text, key string) {
	inc := rep.r.in.Report.PagerDutyIncident
	if inc == "" {
		return
	}
	_, err := call(ctx, pagerduty.ActivityPrefix, pa.AddNote, pagerduty.AddNoteInput{IncidentID: inc, Content: text, IdempotencyKey: rep.r.res.WorkflowID + "/" + key})
	if err != nil {
		rep.failed("pagerduty note "+key, err)
	}
}

func (rep *reporter) failed(what string, err error) {
	rep.r.res.ReportErrors = append(rep.r.res.ReportErrors, what+": "+err.Error())
}

// Block Kit action ids of the decision buttons; chatops answers them (chatops.ActionApprove,
// chatops.ActionDeny) through the UpdateApprove update.
const (
	ActionApprove = "firebreak_approve"
	ActionDeny    = "firebreak_deny"
)

// DecisionButton is the value of a decision button: which run and which step.
type DecisionButton struct {
	WorkflowID string `json:"workflow_id"`
	Step       string `json:"step"`
}

// decisionBlocks is the Block Kit of a pending decision: the text, then an approve and a deny
// button whose labels say what each does for this kind of decision. It is built from plain
// structs in a fixed order, so the bytes are the same on every replay.
func decisionBlocks(text, workflowID string, p PendingApproval) json.RawMessage {
	yes, no := "Approve", "Deny"
	switch p.Kind {
	case PendingKindManual:
		yes, no = "Done", "Could not do it"
	case PendingKindEscalation:
		yes, no = "Carry on", "Abort run"
	}
	value, _ := json.Marshal(DecisionButton{WorkflowID: workflowID, Step: p.Step})
	type textObj struct {
		Type  string `json:"type"`
		Text  string `json:"text"`
		Emoji bool   `json:"emoji,omitempty"`
	}
	type button struct {
		Type     string  `json:"type"`
		ActionID string  `json:"action_id"`
		Text     textObj `json:"text"`
		Value    string  `json:"value"`
		Style    string  `json:"style,omitempty"`
	}
	type block struct {
		Type     string   `json:"type"`
		BlockID  string   `json:"block_id,omitempty"`
		Text     *textObj `json:"text,omitempty"`
		Elements []button `json:"elements,omitempty"`
	}
	// Slack caps section text at 3000 characters and block ids at 255.
	section := text
	if len(section) > 3000 {
		n := 2990
		for n > 0 && !utf8.RuneStart(section[n]) {
			n--
		}
		section = section[:n] + "…"
	}
	blockID := "firebreak_decide/" + p.Step
	if len(blockID) > 255 {
		blockID = blockID[:255]
	}
	b, _ := json.Marshal([]block{
		{Type: "section", Text: &textObj{Type: "mrkdwn", Text: section}},
		{Type: "actions", BlockID: blockID, Elements: []button{
			{Type: "button", ActionID: ActionApprove, Text: textObj{Type: "plain_text", Text: yes, Emoji: true}, Value: string(value), Style: "primary"},
			{Type: "button", ActionID: ActionDeny, Text: textObj{Type: "plain_text", Text: no, Emoji: true}, Value: string(value), Style: "danger"},
		}},
	})
	return b
}

// call runs one activity by method reference with typed input and result.
func call[In, Out any](ctx workflow.Context, prefix string, fn func(context.Context, In) (Out, error), in In) (Out, error) {
	var out Out
	err := workflow.ExecuteActivity(ctx, prefix+methodName(fn), in).Get(ctx, &out)
	return out, err
}

// statusText is the run's status message; uiURL, when set, turns the run id into a link to the
// run in the Temporal Web UI.
func statusText(res RunResult, uiURL string) string {
	var b strings.Builder
	state := "running"
	switch res.Outcome {
	case OutcomeContained:
		state = "contained"
	case OutcomeFailed:
		state = "FAILED"
	}
	fmt.Fprintf(&b, "*%s*%s for `%s`: %s\n", res.Playbook, drillTag(res.Drill), orDash(res.Subject), state)
	for _, s := range res.Steps {
		fmt.Fprintf(&b, "%s %s", mark(s.Status), stepLabel(s))
		switch s.Status {
		case StatusSucceeded:
			fmt.Fprintf(&b, " (%d ms)", s.DurationMS)
		case StatusFailed:
			fmt.Fprintf(&b, ": %s", s.Error)
		case StatusSkipped:
			fmt.Fprintf(&b, " (skipped: %s)", s.SkipReason)
		}
		b.WriteByte('\n')
	}
	if res.TimeToContainMS > 0 {
		fmt.Fprintf(&b, "Time to contain: %d ms\n", res.TimeToContainMS)
	}
	fmt.Fprintf(&b, "Run: %s", RunLink(uiURL, res.WorkflowID))
	return b.String()
}

// RunLink is a Slack link to a run in the Temporal Web UI whose namespace page is uiURL
// (e.g. http://127.0.0.1:8233/namespaces/default), or the run id in code format when uiURL is
// empty.
func RunLink(uiURL, workflowID string) string {
	if uiURL == "" {
		return "`" + workflowID + "`"
	}
	return "<" + strings.TrimRight(uiURL, "/") + "/workflows/" + url.PathEscape(workflowID) + "|" + workflowID + ">"
}

func summaryText(res RunResult) string {
	if res.Outcome == OutcomeContained {
		passed := 0
		for _, c := range res.Verifications {
			if c.Passed {
				passed++
			}
		}
		return fmt.Sprintf("✅ %s%s for %s: contained in %d ms; %d/%d verifications passed.", res.Playbook, drillTag(res.Drill), orDash(res.Subject), res.TimeToContainMS, passed, len(res.Verifications))
	}
	return fmt.Sprintf("❌ %s%s for %s: %s", res.Playbook, drillTag(res.Drill), orDash(res.Subject), res.Error)
}

func mark(status string) string {
	switch status {
	case StatusSucceeded:
		return "✅"
	case StatusFailed:
		return "❌"
	case StatusRunning:
		return "⏳"
	case StatusSkipped:
		return "⏭️"
	case StatusWaiting:
		return "🙋"
	}
	return "⬜"
}

func stepLabel(s StepResult) string {
	if s.Name != "" {
		return s.Name
	}
	return s.ID
}

func drillTag(drill bool) string {
	if drill {
		return " [DRILL]"
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
