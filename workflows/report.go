package workflows

import (
	"cmp"
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
	eventDecided   // a pending decision was settled: granted, denied, timed out or closed
	eventWaiting   // a step that changes a system keeps failing and is being retried
)

// changeDecisionUpdate versions the in-place update of a decision's Slack reply (its buttons
// removed) once the decision is settled; runs recorded before it post no such update.
const changeDecisionUpdate = "decision-reply-update"

type event struct {
	kind eventKind
	step string
}

type reporter struct {
	r        *runner
	ch       workflow.Channel
	done     workflow.Future
	statusTS string
	// slackOut and pdOut queue messages while their vendor is down (report_outbox.go).
	slackOut, pdOut outbox
	// asked marks the steps whose decision was asked for in Slack, and decisionTS holds each
	// one's reply once posted, so that the reply can be updated in place, without its
	// buttons, once the decision is settled.
	asked      map[string]bool
	decisionTS map[string]string
	patience   int // the run's report-outbox version (1 or more: it uses the outboxes); -1: it predates them; 0: not asked yet
}

// reportOptions: a few quick retries; a vendor still failing after them is down, and its
// messages wait in its outbox (reportBacklogOptions) rather than hold up the other vendor's.
var reportOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second, // a chat API call; a lost one is retried after this
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 4,
		NonRetryableErrorTypes: []string{"UnknownIncident", "UnknownUser", "InvalidInput", "AccessDenied"},
	},
}

func startReporter(ctx workflow.Context, r *runner) *reporter {
	rep := &reporter{r: r, slackOut: outbox{vendor: "slack"}, pdOut: outbox{vendor: "pagerduty"}, asked: map[string]bool{}, decisionTS: map[string]string{}}
	if r.in.Report.SlackChannel == "" && r.in.Report.PagerDutyIncident == "" {
		return rep
	}
	// Room for every event a run can send, so a step never blocks on a full channel: a step
	// sends at most seven (pending, escalated, decided, done, and pending, escalated and
	// decided again when an escalation is itself escalated), the run two more; the margin is
	// cheap.
	rep.ch = workflow.NewBufferedChannel(ctx, 9*len(r.in.Plan.Steps)+8) // and one "still trying" each
	f, set := workflow.NewFuture(ctx)
	rep.done = f
	workflow.Go(ctx, func(ctx workflow.Context) {
		rep.loop(workflow.WithActivityOptions(ctx, reportOptions))
		rep.awaitOutboxes(ctx)
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
	if rep.r.in.Report.SlackChannel == "" {
		return
	}
	what := "slack status update"
	if rep.statusTS == "" {
		what = "slack status message"
	}
	rep.dispatch(ctx, &rep.slackOut, delivery{what: what, status: true, send: func(ctx workflow.Context) error {
		ch := rep.r.in.Report.SlackChannel
		text := statusText(rep.r.snapshot(), rep.r.in.Report.TemporalUIURL)
		if rep.statusTS == "" {
			out, err := call(ctx, slack.ActivityPrefix, sa.Post, slack.PostInput{Channel: ch, Text: text, IdempotencyKey: rep.r.idempotencyKey("status")})
			if err != nil {
				return err
			}
			rep.statusTS = out.TS
			rep.r.in.Report.SlackChannel = out.Channel
			return nil
		}
		_, err := call(ctx, slack.ActivityPrefix, sa.Update, slack.UpdateInput{Channel: ch, TS: rep.statusTS, Text: text})
		return err
	}})
}

func (rep *reporter) deliver(ctx workflow.Context, ev event) {
	res := rep.r.snapshot()
	var text, key string
	switch ev.kind {
	case eventStarted:
		text = fmt.Sprintf("firebreak started %s%s for %s (trigger: %s by %s). Reason: %s", res.Playbook, drillTag(res.Drill), cmp.Or(res.Subject, "-"), res.Trigger.Kind, cmp.Or(res.Trigger.By, "-"), cmp.Or(res.Trigger.Reason, "-"))
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
		who := strings.Join(p.Roles, ", ")
		if len(p.Owners) > 0 {
			who += ", or an owner: " + strings.Join(p.Owners, ", ")
		}
		if p.OnCall {
			who += ", on call in PagerDuty for incident " + cmp.Or(rep.r.incident(), "-")
		}
		text = fmt.Sprintf("🙋 %s — %s: %s\nWho may answer: %s (%d needed; not %s, who started the run). Press a button below, or `/firebreak approve %s step=%s` (or `deny`).", verb, p.Step, p.Message, who, p.Needed, cmp.Or(res.Trigger.By, "-"), res.WorkflowID, p.Step)
		if !p.Deadline.IsZero() {
			text += " Deadline: " + p.Deadline.UTC().Format(time.RFC3339) + "."
		}
		key = "pending/" + p.Step + "/" + p.Kind
		step := p.Step
		if rep.r.in.Report.SlackChannel != "" {
			rep.asked[step] = true
		}
		rep.postReply(ctx, text, decisionBlocks(text, res.WorkflowID, p.PendingApproval), key, func(ts string) {
			if rep.decisionTS[step] == "" {
				rep.decisionTS[step] = ts
			}
		})
		rep.note(ctx, text, key)
		if p.Kind != PendingKindEscalation {
			rep.notify(ctx, playbooks.NotifyApproval, p.Step)
		}
		return
	case eventDecided:
		rep.decided(ctx, ev.step)
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
	case eventWaiting:
		s := res.Steps[rep.r.index[ev.step]]
		if s.Waiting == "" {
			return // it succeeded or gave up before the notice was delivered
		}
		text = fmt.Sprintf("⏳ %s: %s", stepLabel(s), s.Waiting)
		key = "waiting/" + s.ID
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
	rep.postReply(ctx, text, blocks, key, nil)
}

// postReply is replyBlocks that hands the reply's ts to posted once it is posted (which may
// be later, from the Slack outbox).
func (rep *reporter) postReply(ctx workflow.Context, text string, blocks json.RawMessage, key string, posted func(ts string)) {
	if rep.r.in.Report.SlackChannel == "" || (rep.statusTS == "" && !rep.slackOut.draining) {
		return
	}
	rep.dispatch(ctx, &rep.slackOut, delivery{what: "slack reply " + key, send: func(ctx workflow.Context) error {
		if rep.statusTS == "" { // the status message could not be posted: there is no thread
			return nil
		}
		out, err := call(ctx, slack.ActivityPrefix, sa.Post, slack.PostInput{Channel: rep.r.in.Report.SlackChannel, ThreadTS: rep.statusTS, Text: text, Blocks: blocks, IdempotencyKey: rep.r.idempotencyKey(key)})
		if err == nil && posted != nil {
			posted(out.TS)
		}
		return err
	}})
}

// decided updates a settled decision's reply in place: it says who decided what and when,
// and its approve/deny buttons are gone, so nobody presses a button that can no longer
// count. Decisions never asked in Slack (auto-approved drills, no channel) need no update.
// The update queues behind the reply in the Slack outbox, so it never overtakes it.
func (rep *reporter) decided(ctx workflow.Context, step string) {
	if !rep.asked[step] {
		return
	}
	if workflow.GetVersion(ctx, changeDecisionUpdate, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	var p *pending
	for _, q := range rep.r.pending {
		if q.Step == step {
			p = q
		}
	}
	if p == nil || !p.done {
		return
	}
	delete(rep.asked, step)
	text := decidedText(p, rep.r.res.Decisions)
	rep.dispatch(ctx, &rep.slackOut, delivery{what: "slack decision update " + step, send: func(ctx workflow.Context) error {
		ts := rep.decisionTS[step]
		if ts == "" { // the question itself never reached Slack: there are no buttons
			return nil
		}
		_, err := call(ctx, slack.ActivityPrefix, sa.Update, slack.UpdateInput{Channel: rep.r.in.Report.SlackChannel, TS: ts, Text: text, Blocks: decidedBlocks(text)})
		return err
	}})
}

// decidedText says how a settled decision ended, who decided it and when, then what was asked.
func decidedText(p *pending, decisions []Decision) string {
	var last *Decision
	for i := range decisions {
		if decisions[i].Step == p.Step && decisions[i].Decision != DecisionRefused {
			last = &decisions[i]
		}
	}
	at := ""
	if last != nil {
		at = " at " + last.At.UTC().Format(time.RFC3339)
	}
	yes, no := "✅ Approved", "⛔ Denied"
	switch p.Kind {
	case PendingKindManual:
		yes, no = "✅ Done", "⛔ Could not be done, says"
	case PendingKindEscalation:
		yes, no = "✅ Carried on", "⛔ Run aborted"
	}
	var head string
	switch {
	case p.denied && p.deniedBy == "firebreak":
		head = "✖️ Closed without a decision" + at + ": " + p.reason
	case p.denied:
		if p.Kind == PendingKindManual {
			head = fmt.Sprintf("%s %s%s: %s", no, p.deniedBy, at, cmp.Or(p.reason, "-"))
		} else {
			head = fmt.Sprintf("%s by %s%s: %s", no, p.deniedBy, at, cmp.Or(p.reason, "-"))
		}
	case last != nil && last.Decision == DecisionTimeout:
		head = "⌛ Timed out" + at + ": " + last.Reason
	default:
		head = fmt.Sprintf("%s by %s%s", yes, strings.Join(p.Approvers, ", "), at)
		if p.reason != "" {
			head += ": " + p.reason
		}
	}
	return head + "\n" + p.Step + ": " + p.Message
}

// decidedBlocks is a decision's reply once settled: one section, no buttons.
//
//workflowcheck:ignore json.Marshal of plain values, flagged only through its type cache and the Go runtime
func decidedBlocks(text string) json.RawMessage {
	if len(text) > 3000 {
		n := 2990
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n] + "…"
	}
	type textObj struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type string  `json:"type"`
		Text textObj `json:"text"`
	}
	b, _ := json.Marshal([]block{{Type: "section", Text: textObj{Type: "mrkdwn", Text: text}}})
	return b
}

func (rep *reporter) note(ctx workflow.Context, text, key string) {
	inc := rep.r.in.Report.PagerDutyIncident
	if inc == "" {
		return
	}
	rep.dispatch(ctx, &rep.pdOut, delivery{what: "pagerduty note " + key, send: func(ctx workflow.Context) error {
		_, err := call(ctx, pagerduty.ActivityPrefix, pa.AddNote, pagerduty.AddNoteInput{IncidentID: inc, Content: text, IdempotencyKey: rep.r.idempotencyKey(key)})
		return err
	}})
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

// DecisionButton is the value of a decision button: which run and which step, and which
// pending decision of it (its kind and PendingApproval.Seq), so that a button left on an
// earlier decision — a gate since escalated, an earlier occurrence — decides nothing else.
// Buttons posted before they named it carry neither.
type DecisionButton struct {
	WorkflowID string `json:"workflow_id"`
	Step       string `json:"step"`
	Kind       string `json:"kind,omitempty"`
	Seq        int    `json:"seq,omitempty"`
}

// decisionBlocks is the Block Kit of a pending decision: the text, then an approve and a deny
// button whose labels say what each does for this kind of decision. It is built from plain
// structs in a fixed order, so the bytes are the same on every replay.
//
//workflowcheck:ignore json.Marshal of plain structs, flagged only through its type cache and the Go runtime
func decisionBlocks(text, workflowID string, p PendingApproval) json.RawMessage {
	yes, no := "Approve", "Deny"
	switch p.Kind {
	case PendingKindManual:
		yes, no = "Done", "Could not do it"
	case PendingKindEscalation:
		yes, no = "Carry on", "Abort run"
	}
	value, _ := json.Marshal(DecisionButton{WorkflowID: workflowID, Step: p.Step, Kind: p.Kind, Seq: p.Seq})
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
//
//workflowcheck:ignore fmt into a strings.Builder, flagged only through the Go runtime's allocator
func statusText(res RunResult, uiURL string) string {
	var b strings.Builder
	state := "running"
	switch {
	case res.Outcome == OutcomeContained && len(res.RemediationPending) > 0:
		state = "contained, remediation pending"
	case res.Outcome == OutcomeContained:
		state = "contained"
	case res.Outcome == OutcomeFailed:
		state = "FAILED"
	}
	fmt.Fprintf(&b, "*%s*%s for `%s`: %s\n", res.Playbook, drillTag(res.Drill), cmp.Or(res.Subject, "-"), state)
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
		if s.Waiting != "" {
			fmt.Fprintf(&b, " ⏳ %s", s.Waiting)
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
		if len(res.RemediationPending) > 0 {
			return fmt.Sprintf("⚠️ %s%s for %s: contained in %d ms, remediation pending; %d/%d verifications passed; %s", res.Playbook, drillTag(res.Drill), cmp.Or(res.Subject, "-"), res.TimeToContainMS, passed, len(res.Verifications), pendingText(res.RemediationPending))
		}
		return fmt.Sprintf("✅ %s%s for %s: contained in %d ms; %d/%d verifications passed.", res.Playbook, drillTag(res.Drill), cmp.Or(res.Subject, "-"), res.TimeToContainMS, passed, len(res.Verifications))
	}
	return fmt.Sprintf("❌ %s%s for %s: %s", res.Playbook, drillTag(res.Drill), cmp.Or(res.Subject, "-"), res.Error)
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

// pendingText names the secrets left for their owners to rotate (at most ResultListSample).
func pendingText(ps []PendingRotation) string {
	var names []string
	for i, p := range ps {
		if i == ResultListSample {
			names = append(names, fmt.Sprintf("and %d more", len(ps)-i))
			break
		}
		names = append(names, p.Mount+"/"+p.Path+" (owner "+cmp.Or(p.Owner, "-")+")")
	}
	return fmt.Sprintf("%d shared secret(s) not rotated by firebreak, left to their owners: %s.", len(ps), strings.Join(names, ", "))
}
