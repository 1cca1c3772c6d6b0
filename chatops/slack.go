package chatops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// The Slack commands firebreak answers.
const (
	CommandRevokeDev = "/revoke-dev"
	CommandFirebreak = "/firebreak"
)

// Block Kit action ids. Approval buttons posted in a run's thread use ActionApprove and
// ActionDeny with an ApprovalButton value as JSON.
const (
	ActionConfirm = "firebreak_confirm"
	ActionCancel  = "firebreak_cancel"
	ActionApprove = workflows.ActionApprove
	ActionDeny    = workflows.ActionDeny
)

// RevokePlaybook is the playbook /revoke-dev starts.
const RevokePlaybook = "compromised-dev-key"

// ApprovalButton is the value of an approve or deny button: which run and which step. The
// run's thread posts them (workflows.DecisionButton).
type ApprovalButton = workflows.DecisionButton

// pendingStart is the value of a Confirm button: everything needed to start the run once the
// requester confirms. Slack signs the interaction that carries it back, and the requester and
// their roles are checked again on confirmation.
type pendingStart struct {
	Playbook  string            `json:"p"`
	Inputs    map[string]string `json:"i"`
	Requester string            `json:"u"`
	Channel   string            `json:"c,omitempty"`
	// Incident is set for a PagerDuty incident's run waiting for a responder (its inputs came
	// from the incident's free text): anyone who may start the playbook confirms it, except
	// By (who raised the incident) and the subject. By, Reason and At (Unix ms) are the
	// incident's trigger.
	Incident string `json:"inc,omitempty"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"r,omitempty"`
	At       int64  `json:"at,omitempty"`
}

// maxReason bounds the reason carried in a button value (Slack allows 2000 characters).
const maxReason = 500

const helpText = "• `/firebreak run PLAYBOOK key=value…` — start a playbook\n" +
	"• `/firebreak drill PLAYBOOK [key=value…]` — drill a playbook against the sandbox\n" +
	"• `/firebreak status [RUN]` — a run's steps, or the open runs\n" +
	"• `/firebreak approve RUN [step=STEP] [reason…]`, `/firebreak deny RUN [step=STEP] [reason…]`\n" +
	"• `/firebreak help`"

// help lists every command: the playbooks' slash commands, then /firebreak's subcommands.
func (s *Server) help() string {
	var b strings.Builder
	b.WriteString("*firebreak* — credential-compromise response\n")
	for _, r := range s.routes {
		if r.Playbook != "" {
			fmt.Fprintf(&b, "• `%s %s` — %s: %s\n", r.Command, r.UsageHint, r.Playbook, r.Description)
		}
	}
	return b.String() + helpText
}

// verifiedSlack reads and verifies a Slack request; on failure it has answered (413 or 401),
// logged why without the body, and returns false.
func (s *Server) verifiedSlack(w http.ResponseWriter, r *http.Request, endpoint string) ([]byte, bool) {
	body, err := readBody(r)
	if err != nil {
		s.reject(w, endpoint, err)
		return nil, false
	}
	if err := VerifySlack(r.Header, body, s.o.Config.Slack.SigningSecret, s.o.Now()); err != nil {
		s.reject(w, endpoint, err)
		return nil, false
	}
	return body, true
}

// reject answers a request that failed verification and logs it without its body.
func (s *Server) reject(w http.ResponseWriter, endpoint string, err error) {
	status, outcome := http.StatusUnauthorized, "unauthorized"
	switch {
	case errors.Is(err, ErrTooLarge):
		status, outcome = http.StatusRequestEntityTooLarge, "too_large"
	case !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStale) && !errors.Is(err, ErrNotConfigured):
		status, outcome = http.StatusBadRequest, "bad_request"
	}
	s.metrics.request(endpoint, outcome)
	s.log.Warn("chatops: request rejected", "endpoint", endpoint, "status", status, "reason", err.Error())
	http.Error(w, http.StatusText(status), status)
}

// parseCommand parses a slash command's form body.
func parseCommand(body []byte) (slack.SlashCommand, error) {
	r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return slack.SlashCommand{}, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cmd, err := slack.SlashCommandParse(r)
	if err != nil {
		return slack.SlashCommand{}, fmt.Errorf("slash command: expected a form body: %w", err)
	}
	if cmd.Command == "" || cmd.UserID == "" {
		return slack.SlashCommand{}, errors.New("slash command: expected command and user_id fields, found none")
	}
	return cmd, nil
}

// parseInteraction parses an interaction's form body: a payload field holding JSON.
func parseInteraction(body []byte) (slack.InteractionCallback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("interaction: expected a form body: %w", err)
	}
	raw := form.Get("payload")
	if raw == "" {
		return slack.InteractionCallback{}, errors.New("interaction: expected a payload field, found none")
	}
	var ic slack.InteractionCallback
	if err := json.Unmarshal([]byte(raw), &ic); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("interaction: payload is not the JSON Slack sends: %w", err)
	}
	return ic, nil
}

// splitArgs splits command text into words; double quotes (straight or Slack's curly ones)
// group words, so reason="leaked in a gist" is one argument.
func splitArgs(text string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range text {
		switch {
		case r == '"' || r == '“' || r == '”':
			inQuote = !inQuote
			have = true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// keyValues parses key=value arguments.
func keyValues(args []string) (map[string]string, error) {
	kv := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("expected key=value, found %q", a)
		}
		kv[k] = v
	}
	return kv, nil
}

func ephemeral(text string, blocks ...slack.Block) slack.Msg {
	m := slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: text}
	if len(blocks) > 0 {
		m.Blocks = slack.Blocks{BlockSet: blocks}
	}
	return m
}

// answer acknowledges a Slack request with a message (or an empty 200 for a zero Msg).
func (s *Server) answer(w http.ResponseWriter, endpoint, outcome string, m slack.Msg) {
	s.metrics.request(endpoint, outcome)
	if m.Text == "" && len(m.Blocks.BlockSet) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// respond posts a message to a request's response_url (after acknowledging). Failures are
// logged: there is nobody else to tell.
func (s *Server) respond(ctx context.Context, responseURL string, m slack.Msg) {
	if responseURL == "" {
		return
	}
	select {
	case s.responding <- struct{}{}:
		defer func() { <-s.responding }()
	case <-ctx.Done():
		s.log.Warn("chatops: gave up posting to response_url: too many posts queued", "host", urlHost(responseURL))
		return
	}
	b := redactedJSON(m)
	// A response_url is a bearer capability (anyone holding it may post to the channel for 30
	// minutes), so only its host is ever logged.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		s.log.Warn("chatops: bad response_url", "host", urlHost(responseURL))
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s.log.Warn("chatops: posting to response_url failed", "host", urlHost(responseURL), "error", err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.log.Warn("chatops: response_url refused the message", "status", resp.StatusCode)
	}
}

func urlHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

func (s *Server) slackCommands(w http.ResponseWriter, r *http.Request) {
	const ep = "slack_commands"
	body, ok := s.verifiedSlack(w, r, ep)
	if !ok {
		return
	}
	cmd, err := parseCommand(body)
	if err != nil {
		s.reject(w, ep, err)
		return
	}
	retry := r.Header.Get("X-Slack-Retry-Num")
	if retry != "" {
		// Slack retried because an earlier attempt was slow; every start below is idempotent
		// by workflow id, so a retry can at most join the run the first attempt started.
		s.log.Info("chatops: Slack retry", "endpoint", ep, "retry", retry, "command", cmd.Command)
		w.Header().Set("X-Slack-No-Retry", "1")
	}
	m, outcome := s.dispatchCommand(r.Context(), cmd)
	s.answer(w, ep, outcome, m)
}

// dispatchCommand answers a verified slash command, however it arrived (HTTP or Socket
// Mode): the acknowledgement message and the metrics outcome.
func (s *Server) dispatchCommand(ctx context.Context, cmd slack.SlashCommand) (slack.Msg, string) {
	ctx, cancel := context.WithTimeout(ctx, s.o.AckBudget)
	defer cancel()
	if cmd.Command == CommandFirebreak {
		return s.firebreak(ctx, cmd), "ok"
	}
	if r, ok := s.routeFor(cmd.Command); ok && r.Playbook != "" {
		return s.slashPlaybook(ctx, cmd, r), "ok"
	}
	text := fmt.Sprintf("firebreak does not know the command %s; it answers %s.", cmd.Command, s.commandNames())
	if s.routesErr != nil {
		text += "\nIts playbooks' slash commands are misconfigured: " + s.routesErr.Error()
	}
	return ephemeral(text), "unknown_command"
}

// slashPlaybook answers a slash command that starts a playbook (/revoke-dev, or any command
// a playbook declares under triggers.slash): the words map onto the route's Args, the last
// taking the rest; a person named by a Slack mention, an email or a subject name is resolved
// through the directory for the subject and every input of type user; the requester must hold
// one of the playbook's start roles. A destructive playbook answers with a confirmation and
// starts only when the requester presses Confirm; any other starts after the acknowledgement.
// Either way the run's id is the playbook plus subject, so a second request for the same
// subject joins the open run and is told "already running".
func (s *Server) slashPlaybook(ctx context.Context, cmd slack.SlashCommand, r SlashRoute) slack.Msg {
	usage := fmt.Sprintf("Usage: `%s %s`", r.Command, r.UsageHint)
	if r.Playbook == RevokePlaybook && r.Command == CommandRevokeDev {
		usage += " — for example `/revoke-dev @alice key pasted in a public gist`."
	}
	if strings.TrimSpace(cmd.Text) == "" && len(r.Args) > 0 {
		return ephemeral(usage)
	}
	p, err := s.lib.Get(r.Playbook)
	if err != nil {
		return ephemeral(fmt.Sprintf("Cannot start %s: %v", r.Playbook, err))
	}
	who, err := s.requester(ctx, cmd.UserID)
	if err != nil {
		return ephemeral("You cannot start a response: " + err.Error())
	}
	if ok, roles := s.mayStart(who, r.Playbook); !ok {
		return ephemeral(fmt.Sprintf("You may not start %s: it needs one of the roles %s, and you hold %s.", r.Playbook, strings.Join(roles, ", "), rolesText(who.Roles)))
	}
	raw := playbooks.SlashTrigger{Command: r.Command, Args: r.Args}.BindSlash(cmd.Text)
	var subject Identity
	for _, name := range r.Args {
		v, ok := raw[name]
		if !ok {
			continue
		}
		in, _ := inputNamed(p, name)
		switch {
		case name == "subject" || in.Type == "user":
			t, err := s.target(ctx, v)
			if err != nil {
				return ephemeral(fmt.Sprintf("Who is %s? %v", name, err))
			}
			raw[name] = t.Subject
			if name == "subject" {
				subject = t
			}
		case in.Type == "email" && mentionRE.MatchString(v):
			t, err := s.target(ctx, v)
			if err != nil {
				return ephemeral(fmt.Sprintf("Who is %s? %v", name, err))
			}
			raw[name] = t.Email
		default:
			raw[name] = truncate(v, maxReason)
		}
	}
	sp := startSpec{Playbook: r.Playbook, Raw: raw, Source: "slack", RequestKey: slackRequestKey(cmd.TriggerID), Request: runs.Request{
		Trigger: workflows.Trigger{Kind: "slack", By: who.Subject, ByAuth: "slack", Reason: raw["reason"], At: s.o.Now()},
		Report:  workflows.Report{SlackChannel: cmd.ChannelID}}}
	in, err := s.prepare(&sp)
	if err != nil {
		return ephemeral(fmt.Sprintf("Cannot start %s: %v\n%s", r.Playbook, err, usage))
	}
	if !destructive(p) {
		s.after(func(ctx context.Context) { s.startAndTell(ctx, sp, in, cmd.ResponseURL, false) })
		return ephemeral(fmt.Sprintf("Starting %s as %s…", r.Playbook, s.runLink(sp.WorkflowID)))
	}
	ps := pendingStart{Playbook: r.Playbook, Inputs: raw, Requester: cmd.UserID, Channel: cmd.ChannelID}
	value, _ := json.Marshal(ps)
	mention := subject.Subject
	if subject.SlackID != "" {
		mention = "<@" + subject.SlackID + "> (" + subject.Subject + ")"
	}
	reason, _ := in.Input.Inputs["reason"].(string)
	var text, label string
	if r.Playbook == RevokePlaybook {
		text = fmt.Sprintf(":rotating_light: Revoke every credential of %s? Vault tokens are revoked, IAM keys deactivated and sessions cut off at once; irreversible steps wait for approval.\nReason: %s", mention, reason)
		label = "Confirm revoke"
	} else {
		text = fmt.Sprintf(":rotating_light: Start *%s* (`%s`)", p.Title, p.Name)
		if mention != "" {
			text += " for " + mention
		}
		text += "? It changes systems; steps that need approval still wait for it."
		for _, name := range r.Args {
			if v, ok := raw[name]; ok && name != "subject" {
				text += fmt.Sprintf("\n%s: %s", name, v)
			}
		}
		label = "Confirm " + truncate(p.Name, 60)
	}
	confirm := slack.NewButtonBlockElement(ActionConfirm, string(value), slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	confirm.Style = slack.StyleDanger
	cancel := slack.NewButtonBlockElement(ActionCancel, "cancel", slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false))
	return ephemeral(text,
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil),
		slack.NewActionBlock("firebreak_confirm_start", confirm, cancel),
	)
}

// firebreak answers /firebreak SUBCOMMAND….
func (s *Server) firebreak(ctx context.Context, cmd slack.SlashCommand) slack.Msg {
	args := splitArgs(cmd.Text)
	if len(args) == 0 || args[0] == "help" {
		return ephemeral(s.help())
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "run", "drill":
		return s.runCommand(ctx, cmd, sub == "drill", args)
	case "status":
		return s.statusCommand(ctx, cmd, args)
	case "approve", "deny":
		return s.approveCommand(ctx, cmd, sub, args)
	}
	return ephemeral(fmt.Sprintf("Unknown subcommand %q.\n%s", sub, s.help()))
}

func (s *Server) runCommand(ctx context.Context, cmd slack.SlashCommand, drill bool, args []string) slack.Msg {
	verb := "run"
	if drill {
		verb = "drill"
	}
	if len(args) == 0 {
		return ephemeral(fmt.Sprintf("Usage: `/firebreak %s PLAYBOOK key=value…`; playbooks: %s", verb, strings.Join(s.playbookNames(), ", ")))
	}
	who, err := s.requester(ctx, cmd.UserID)
	if err != nil {
		return ephemeral("You cannot start a run: " + err.Error())
	}
	if ok, roles := s.mayStart(who, args[0]); !ok {
		return ephemeral(fmt.Sprintf("You may not start %s: it needs one of the roles %s, and you hold %s.", args[0], strings.Join(roles, ", "), rolesText(who.Roles)))
	}
	raw, err := keyValues(args[1:])
	if err != nil {
		return ephemeral(fmt.Sprintf("Usage: `/firebreak %s PLAYBOOK key=value…`: %v", verb, err))
	}
	if ref, ok := raw["subject"]; ok {
		t, err := s.target(ctx, ref)
		if err != nil {
			return ephemeral("Whose credentials? " + err.Error())
		}
		raw["subject"] = t.Subject
	}
	sp := startSpec{Playbook: args[0], Raw: raw, Source: "slack", RequestKey: slackRequestKey(cmd.TriggerID), Request: runs.Request{Drill: drill,
		Trigger: workflows.Trigger{Kind: "slack", By: who.Subject, ByAuth: "slack", Reason: raw["reason"], At: s.o.Now()},
		Report:  workflows.Report{SlackChannel: cmd.ChannelID}}}
	if drill {
		sp.Request.Trigger.Kind = "drill"
		if cmd.TriggerID != "" {
			sum := sha256.Sum256([]byte(cmd.TriggerID))
			sp.Request.Nonce = sp.Request.Trigger.At.UTC().Format("20060102") + "-" + hex.EncodeToString(sum[:6])
		}
	}
	in, err := s.prepare(&sp)
	if err != nil {
		return ephemeral(fmt.Sprintf("Cannot %s %s: %v", verb, args[0], err))
	}
	s.after(func(ctx context.Context) { s.startAndTell(ctx, sp, in, cmd.ResponseURL, false) })
	return ephemeral(fmt.Sprintf("Starting %s%s as %s…", args[0], map[bool]string{true: " (drill)"}[drill], s.runLink(sp.WorkflowID)))
}

// startAndTell starts a run after the acknowledgement and tells the requester how it went.
func (s *Server) startAndTell(ctx context.Context, sp startSpec, in runs.Run, responseURL string, replace bool) {
	res, err := s.start(ctx, sp, in)
	var m slack.Msg
	switch {
	case errors.Is(err, ErrReplayed):
		m = ephemeral(fmt.Sprintf("This request to start %s was already handled; nothing new was started. Follow the run with `/firebreak status %s`.", sp.Playbook, sp.WorkflowID))
	case err != nil:
		s.log.Error("chatops: starting a run failed", "playbook", sp.Playbook, "workflow_id", sp.WorkflowID, "error", err)
		m = ephemeral(fmt.Sprintf(":x: Could not start %s: %v. Nothing was started; try again, or run `firebreak run %s` from a terminal.", sp.Playbook, err, sp.Playbook))
	case res.Joined:
		m = ephemeral(fmt.Sprintf("%s is already running for this as %s (run %s); nothing new was started. Follow it with `/firebreak status %s`.", sp.Playbook, s.runLink(res.WorkflowID), res.RunID, res.WorkflowID))
	default:
		m = ephemeral(fmt.Sprintf(":white_check_mark: Started %s as %s (run %s).", sp.Playbook, s.runLink(res.WorkflowID), res.RunID))
	}
	m.ReplaceOriginal = replace
	s.respond(ctx, responseURL, m)
}

func (s *Server) statusCommand(ctx context.Context, cmd slack.SlashCommand, args []string) slack.Msg {
	if _, err := s.requester(ctx, cmd.UserID); err != nil {
		return ephemeral("You cannot see runs: " + err.Error())
	}
	if len(s.rolesOf(ctx, cmd.UserID)) == 0 {
		return ephemeral("You cannot see runs: you hold no firebreak role (roles: in the config); runs' steps and errors are for responders and approvers.")
	}
	if len(args) == 0 {
		s.after(func(ctx context.Context) {
			ids, err := s.openRuns(ctx, 20)
			switch {
			case err != nil:
				s.respond(ctx, cmd.ResponseURL, ephemeral("Could not list open runs: "+err.Error()))
			case len(ids) == 0:
				s.respond(ctx, cmd.ResponseURL, ephemeral("No runs are open."))
			default:
				var b strings.Builder
				b.WriteString("Open runs:\n")
				for _, id := range ids {
					b.WriteString("• " + s.runLink(id) + "\n")
				}
				s.respond(ctx, cmd.ResponseURL, ephemeral(b.String()))
			}
		})
		return ephemeral("Listing open runs…")
	}
	id := args[0]
	s.after(func(ctx context.Context) {
		res, err := s.status(ctx, id)
		if err != nil {
			s.respond(ctx, cmd.ResponseURL, ephemeral(fmt.Sprintf("Could not get the status of %s: %v", id, err)))
			return
		}
		s.respond(ctx, cmd.ResponseURL, ephemeral(formatStatus(res)+s.runLink(id)))
	})
	return ephemeral("Looking up " + s.runLink(id) + "…")
}

func (s *Server) approveCommand(ctx context.Context, cmd slack.SlashCommand, decision string, args []string) slack.Msg {
	if len(args) == 0 {
		return ephemeral(fmt.Sprintf("Usage: `/firebreak %s RUN [step=STEP] [reason…]`", decision))
	}
	req := workflows.ApprovalRequest{Decision: decision}
	id := args[0]
	var reason []string
	for _, a := range args[1:] {
		if v, ok := strings.CutPrefix(a, "step="); ok {
			req.Step = v
			continue
		}
		reason = append(reason, a)
	}
	req.Reason = truncate(strings.Join(reason, " "), maxReason)
	m, _ := s.decide(ctx, cmd.UserID, id, req, cmd.ResponseURL)
	return m
}

// decide resolves the approver and sends their decision through the approval Update after
// acknowledging; sent is false when nothing was sent and the message says why.
func (s *Server) decide(ctx context.Context, slackID, workflowID string, req workflows.ApprovalRequest, responseURL string) (m slack.Msg, sent bool) {
	who, err := s.requester(ctx, slackID)
	if err != nil {
		return ephemeral("You cannot approve: " + err.Error()), false
	}
	req.Approver = who.Subject
	req.ApproverRoles = slices.Sorted(slices.Values(who.Roles))
	req.ApproverEmail = who.Email // for approval rules that need an on-call approver
	s.after(func(ctx context.Context) {
		res, err := s.approve(ctx, workflowID, req)
		if err != nil {
			s.respond(ctx, responseURL, ephemeral(fmt.Sprintf(":no_entry: Your %s of %s was refused: %v", req.Decision, workflowID, err)))
			return
		}
		msg := res.Message
		if msg == "" {
			msg = fmt.Sprintf("%s recorded for step %s: %d of %d approvals", req.Decision, res.Step, res.Approvals, res.Needed)
		}
		s.respond(ctx, responseURL, ephemeral(msg))
	})
	return ephemeral(fmt.Sprintf("Sending your %s of %s…", req.Decision, s.runLink(workflowID))), true
}

func (s *Server) slackInteractions(w http.ResponseWriter, r *http.Request) {
	const ep = "slack_interactions"
	body, ok := s.verifiedSlack(w, r, ep)
	if !ok {
		return
	}
	ic, err := parseInteraction(body)
	if err != nil {
		s.reject(w, ep, err)
		return
	}
	s.answer(w, ep, s.dispatchInteraction(r.Context(), ic), slack.Msg{})
}

// dispatchInteraction acts on a verified interaction, however it arrived (HTTP or Socket
// Mode), and returns the metrics outcome. Slack ignores the body of a block_actions answer,
// so every message goes to the interaction's response_url.
func (s *Server) dispatchInteraction(ctx context.Context, ic slack.InteractionCallback) string {
	ctx, cancel := context.WithTimeout(ctx, s.o.AckBudget)
	defer cancel()
	if ic.Type != slack.InteractionTypeBlockActions || len(ic.ActionCallback.BlockActions) == 0 {
		return "ignored"
	}
	act := ic.ActionCallback.BlockActions[0]
	var m slack.Msg
	switch act.ActionID {
	case ActionConfirm:
		m = s.confirm(ctx, ic, act.Value)
	case ActionCancel:
		m = s.cancel(ctx, ic, act.Value)
	case ActionApprove, ActionDeny:
		var b ApprovalButton
		if err := json.Unmarshal([]byte(act.Value), &b); err != nil || b.WorkflowID == "" {
			m = ephemeral("This button does not name a run; use `/firebreak approve RUN` instead.")
			break
		}
		decision := workflows.DecisionApprove
		if act.ActionID == ActionDeny {
			decision = workflows.DecisionDeny
		}
		if msg, sent := s.decide(ctx, ic.User.ID, b.WorkflowID, workflows.ApprovalRequest{Step: b.Step, Kind: b.Kind, Seq: b.Seq, Decision: decision}, ic.ResponseURL); !sent {
			m = msg
		}
	default:
		return "ignored"
	}
	if m.Text != "" {
		s.after(func(ctx context.Context) { s.respond(ctx, ic.ResponseURL, m) })
	}
	return "ok"
}

// confirm starts the run a Confirm button describes, after checking that the person who
// pressed it is the requester and may still start it. The answer goes to response_url,
// replacing the confirmation message.
func (s *Server) confirm(ctx context.Context, ic slack.InteractionCallback, value string) slack.Msg {
	var ps pendingStart
	if err := json.Unmarshal([]byte(value), &ps); err != nil || ps.Playbook == "" {
		return ephemeral("This confirmation is malformed; run the command again.")
	}
	if ps.Incident == "" && ic.User.ID != ps.Requester {
		return ephemeral(fmt.Sprintf("Only <@%s>, who asked for this, can confirm it.", ps.Requester))
	}
	who, err := s.requester(ctx, ic.User.ID)
	if err != nil {
		return ephemeral("You cannot start a response: " + err.Error())
	}
	if ok, roles := s.mayStart(who, ps.Playbook); !ok {
		return ephemeral(fmt.Sprintf("You may not start %s: it needs one of the roles %s, and you hold %s.", ps.Playbook, strings.Join(roles, ", "), rolesText(who.Roles)))
	}
	if ps.Incident != "" {
		return s.confirmIncident(ic, ps, who)
	}
	channel := ps.Channel
	if channel == "" {
		channel = ic.Channel.ID
	}
	sp := startSpec{Playbook: ps.Playbook, Raw: ps.Inputs, Source: "slack", RequestKey: slackRequestKey(ic.TriggerID), Request: runs.Request{
		Trigger: workflows.Trigger{Kind: "slack", By: who.Subject, ByAuth: "slack", Reason: ps.Inputs["reason"], At: s.o.Now()},
		Report:  workflows.Report{SlackChannel: channel}}}
	in, err := s.prepare(&sp)
	if err != nil {
		return ephemeral(fmt.Sprintf("Cannot start %s: %v", ps.Playbook, err))
	}
	s.after(func(ctx context.Context) { s.startAndTell(ctx, sp, in, ic.ResponseURL, true) })
	return slack.Msg{}
}

// confirmIncident starts the run of a PagerDuty incident whose inputs came from its free text,
// once a responder other than the person who raised it (and other than its subject) confirms.
// The run is the incident's, started once: a second confirmation joins it.
func (s *Server) confirmIncident(ic slack.InteractionCallback, ps pendingStart, who Identity) slack.Msg {
	if why := incidentDecider(ps, who, "confirm"); why != "" {
		return ephemeral(why)
	}
	// The confirmer chose to act on the incident's text: the run records them, and the
	// workflow refuses them as an approver of its gates, as it refuses the requester.
	sp := startSpec{Playbook: ps.Playbook, Raw: ps.Inputs, Source: "pagerduty", Once: true, Request: runs.Request{Incident: ps.Incident,
		Trigger: workflows.Trigger{Kind: "pagerduty", By: ps.By, ByAuth: "pagerduty", Reason: ps.Reason, At: time.UnixMilli(ps.At).UTC(), ConfirmedBy: who.Subject},
		Report:  workflows.Report{PagerDutyIncident: ps.Incident, SlackChannel: ps.Channel}}}
	if ps.At == 0 {
		sp.Request.Trigger.At = s.o.Now()
	}
	in, err := s.prepare(&sp)
	if err != nil {
		return ephemeral(fmt.Sprintf("Cannot start %s: %v", ps.Playbook, err))
	}
	s.log.Info("chatops: a responder confirmed a PagerDuty incident's run", "incident", ps.Incident, "playbook", ps.Playbook, "confirmed_by", who.Subject)
	s.after(func(ctx context.Context) { s.startAndTell(ctx, sp, in, ic.ResponseURL, true) })
	return slack.Msg{}
}

// incidentDecider says why who may not confirm or decline (verb) the run an incident's free
// text asks for, or "" when they may: the person who raised the incident wrote that text, and
// the subject would decide their own containment, so neither decides whether it starts.
func incidentDecider(ps pendingStart, who Identity, verb string) string {
	if ps.By != "" && strings.EqualFold(ps.By, who.Subject) {
		return fmt.Sprintf("You raised incident %s, so someone else must %s the run its text asks for.", ps.Incident, verb)
	}
	if subj := ps.Inputs["subject"]; subj != "" && strings.EqualFold(subj, who.Subject) {
		return fmt.Sprintf("You are the subject of incident %s's run, so someone else must %s it.", ps.Incident, verb)
	}
	return ""
}

// cancel answers a Cancel button. A requester's own confirmation is theirs to cancel; an
// incident's confirmation, posted to a channel, may be cancelled only by someone who may
// confirm it: who may start its playbook, other than the person who raised the incident and
// its subject.
func (s *Server) cancel(ctx context.Context, ic slack.InteractionCallback, value string) slack.Msg {
	var ps pendingStart
	if json.Unmarshal([]byte(value), &ps) != nil || ps.Incident == "" {
		return slack.Msg{ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: true, Text: "Cancelled; nothing was started."}
	}
	who, err := s.requester(ctx, ic.User.ID)
	if err != nil {
		return ephemeral("You cannot decide on this incident: " + err.Error())
	}
	if ok, roles := s.mayStart(who, ps.Playbook); !ok {
		return ephemeral(fmt.Sprintf("You may not decide whether %s starts: it needs one of the roles %s, and you hold %s.", ps.Playbook, strings.Join(roles, ", "), rolesText(who.Roles)))
	}
	if why := incidentDecider(ps, who, "decline"); why != "" {
		return ephemeral(why)
	}
	s.log.Info("chatops: a responder declined a PagerDuty incident's run", "incident", ps.Incident, "playbook", ps.Playbook, "declined_by", who.Subject)
	return slack.Msg{ResponseType: slack.ResponseTypeInChannel, ReplaceOriginal: true,
		Text: fmt.Sprintf("<@%s> chose not to start %s for PagerDuty incident %s; nothing was started.", ic.User.ID, ps.Playbook, ps.Incident)}
}

func (s *Server) playbookNames() []string {
	if s.lib == nil {
		return nil
	}
	return s.lib.Names()
}

func rolesText(r []string) string {
	if len(r) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(slices.Values(r)), ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
