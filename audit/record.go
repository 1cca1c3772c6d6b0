package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// MemoFaults is the memo key under which a drill lists the faults it injects.
const MemoFaults = "faults"

// namer names people and triggers for the record.
type namer struct{ people func(string) string }

// person is id as the directory knows them: "Carol Jones <carol@example.com> (U0CAROL)".
func (n namer) person(id string) string {
	if id == "" {
		return "-"
	}
	if n.people != nil {
		if name := n.people(id); name != "" && name != id {
			return name + " (" + id + ")"
		}
	}
	return id
}

// trigger says who or what started a run: "Slack request by Carol (U0CAROL)".
func (n namer) trigger(t workflows.Trigger) string {
	var s string
	switch t.Kind {
	case "slack":
		s = "Slack request by " + n.person(t.By)
	case "pagerduty":
		s = "PagerDuty incident"
		if t.By != "" {
			s += " raised by " + n.person(t.By)
		}
	case "cli":
		s = "command line, by " + n.person(t.By)
	case "drill":
		s = "drill, started by " + n.person(t.By)
	case "schedule":
		s = "scheduled drill"
	case "":
		s = "unknown trigger"
		if t.By != "" {
			s += " by " + n.person(t.By)
		}
	default:
		s = t.Kind + " by " + n.person(t.By)
	}
	if t.ConfirmedBy != "" {
		s += ", confirmed by " + n.person(t.ConfirmedBy)
	}
	return s
}

// actor is who firebreak acts for, briefly: "firebreak (for Rita Root)".
func (n namer) actor(t workflows.Trigger) string {
	who := t.By
	if n.people != nil {
		if name := n.people(t.By); name != "" {
			who, _, _ = strings.Cut(name, " <")
		}
	}
	switch {
	case t.Kind == "schedule":
		return "firebreak (scheduled drill)"
	case who == "" && t.Kind == "pagerduty":
		return "firebreak (for a PagerDuty incident)"
	case who == "":
		return "firebreak"
	}
	return "firebreak (for " + who + ")"
}

func (n namer) approver(a approvalInput) string {
	who := n.person(a.Approver)
	if a.ApproverEmail != "" && !strings.Contains(who, a.ApproverEmail) {
		who += " <" + a.ApproverEmail + ">"
	}
	return who
}

// approvalInput reads the approve update's argument (workflows.ApprovalRequest, with the
// front end's signature when it carries one).
type approvalInput struct {
	Step          string   `json:"step"`
	Approver      string   `json:"approver"`
	ApproverRoles []string `json:"approver_roles"`
	ApproverEmail string   `json:"approver_email"`
	Decision      string   `json:"decision"`
	Reason        string   `json:"reason"`
	Signature     *struct {
		KeyID    string    `json:"key_id"`
		SignedAt time.Time `json:"signed_at"`
	} `json:"signature"`
}

func (a approvalInput) roles() string {
	if len(a.ApproverRoles) == 0 {
		return " (no roles claimed)"
	}
	return " as " + strings.Join(a.ApproverRoles, ", ")
}

func (a approvalInput) signed() string {
	if a.Signature == nil {
		return "not signed by a decision key"
	}
	return fmt.Sprintf("signed by decision key %s at %s", cmp.Or(a.Signature.KeyID, "-"), a.Signature.SignedAt.UTC().Format("15:04:05Z"))
}

func terminatedBy(ev *historypb.HistoryEvent) string {
	return cmp.Or(ev.GetWorkflowExecutionTerminatedEventAttributes().GetIdentity(), "-")
}

// stepIndex ties activities to the plan's steps.
type stepIndex struct {
	plan   playbooks.Plan
	result *workflows.RunResult
	byID   map[string]*playbooks.Step
}

func newStepIndex(plan playbooks.Plan, result *workflows.RunResult) stepIndex {
	x := stepIndex{plan: plan, result: result, byID: map[string]*playbooks.Step{}}
	for i := range plan.Steps {
		x.byID[plan.Steps[i].ID] = &plan.Steps[i]
	}
	return x
}

// reportActivities are the progress reports firebreak posts about steps; a playbook step may
// use the same activities (slack.post, pagerduty.note), told apart by when they ran.
var reportActivities = []string{"slack.Post", "slack.Update", "pagerduty.AddNote"}

// of returns the step rec belongs to and whether rec is a progress report about that step
// (rather than the step's own action). A step is found by the activity its action runs: the
// only step with that action, or among several the one that was running when the activity
// was scheduled; progress reports name their step in their idempotency key.
func (x stepIndex) of(rec ActivityRecord) (*playbooks.Step, bool) {
	var candidates []*playbooks.Step
	for i := range x.plan.Steps {
		if workflows.ActivityOf(x.plan.Steps[i].Action) == rec.Activity {
			candidates = append(candidates, &x.plan.Steps[i])
		}
	}
	running := func(st *playbooks.Step) bool {
		if x.result == nil {
			return false
		}
		for _, sr := range append(slices.Clone(x.result.Steps), x.result.Compensations...) {
			if sr.ID == st.ID && !sr.StartedAt.IsZero() && !rec.ScheduledAt.Before(sr.StartedAt.Truncate(time.Millisecond)) &&
				(sr.EndedAt.IsZero() || !rec.ScheduledAt.After(sr.EndedAt)) {
				return true
			}
		}
		return false
	}
	isReport := slices.Contains(reportActivities, rec.Activity)
	if rec.Step != "" {
		if st := x.byID[rec.Step]; st != nil && slices.Contains(candidates, st) && (!isReport || running(st)) {
			return st, false
		}
	}
	var hits []*playbooks.Step
	for _, st := range candidates {
		if running(st) {
			hits = append(hits, st)
		}
	}
	switch {
	case len(hits) == 1:
		return hits[0], false
	case len(candidates) == 1 && !isReport:
		return candidates[0], false
	}
	if isReport {
		return x.byID[rec.Step], true // nil when the report is about the run (status, summary)
	}
	return nil, false
}

var (
	iamKeyID = regexp.MustCompile(`^(AK|AS)[A-Z0-9]{12,}$`)
	maxObj   = 12
)

// objectsOf lists, by reference, what an activity acted on or produced: IAM users, keys and
// policies, Vault entities and token accessors, secret paths with versions, evidence records,
// Slack channels and PagerDuty incidents. Inventories list what they read only in their data.
func objectsOf(rec ActivityRecord) []string {
	var out []string
	addObj := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	var args, res map[string]any
	_ = json.Unmarshal(rec.Arguments, &args)
	_ = json.Unmarshal(rec.Result, &res)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	strs := func(m map[string]any, k string) []string {
		var l []string
		if xs, ok := m[k].([]any); ok {
			for _, x := range xs {
				if s, ok := x.(string); ok {
					l = append(l, s)
				}
			}
		}
		return l
	}
	secret := func(m map[string]any) string {
		mount, path := str(m, "mount"), str(m, "path")
		if path == "" {
			return ""
		}
		s := strings.TrimPrefix(mount+"/"+path, "/")
		ver := func(k string) string {
			if f, ok := m[k].(float64); ok {
				return fmt.Sprintf("%d", int64(f))
			}
			return ""
		}
		switch prev, next, v := ver("previous_version"), ver("new_version"), ver("version"); {
		case prev != "" && next != "":
			s += " v" + prev + "→v" + next
		case v != "":
			s += " v" + v
		}
		return "Vault KV " + s
	}
	for _, m := range []map[string]any{args, res} {
		if m == nil {
			continue
		}
		if u := str(m, "user"); u != "" {
			addObj("IAM user " + u)
		}
		for _, k := range []string{"access_key_ids", "deactivated", "deleted", "already_inactive"} {
			for _, id := range strs(m, k) {
				if iamKeyID.MatchString(id) {
					addObj("IAM key " + id)
				}
			}
		}
		if id := str(m, "access_key_id"); id != "" {
			addObj("IAM key " + id)
		}
		if id := str(m, "new_access_key_id"); id != "" {
			addObj("new IAM key " + id)
		}
		if p := str(m, "policy_name"); p != "" {
			addObj("IAM policy " + p)
		}
		for _, k := range []string{"accessors", "revoked", "already_revoked"} {
			for _, a := range strs(m, k) {
				if !iamKeyID.MatchString(a) {
					addObj("Vault token accessor " + a)
				}
			}
		}
		if e := str(m, "entity_id"); e != "" && !strings.HasSuffix(rec.Activity, "Inventory") {
			addObj("Vault entity " + e)
		}
		for _, k := range []string{"secrets", "rotated", "pending_manual", "failed"} {
			if xs, ok := m[k].([]any); ok {
				for _, x := range xs {
					if sm, ok := x.(map[string]any); ok {
						addObj(secret(sm))
					}
				}
			}
		}
		if ref := str(m, "ref"); ref != "" {
			addObj("evidence record " + ref + " (sha256 " + short(str(m, "sha256")) + ")")
		}
		if c := str(m, "channel"); c != "" {
			addObj("Slack channel " + c)
		}
		if inc := str(m, "incident_id"); inc != "" {
			addObj("PagerDuty incident " + inc)
		}
	}
	if strings.HasSuffix(rec.Activity, "Inventory") || strings.HasSuffix(rec.Activity, "InventoryMany") {
		if s := str(args, "subject"); s != "" {
			addObj("subject " + s)
		}
	}
	// A secret read at version N and rotated from N is listed once, with its new version.
	out = slices.DeleteFunc(out, func(o string) bool {
		return strings.HasPrefix(o, "Vault KV ") && !strings.Contains(o, "→") && slices.ContainsFunc(out, func(p string) bool { return strings.HasPrefix(p, o+"→") })
	})
	if len(out) > maxObj {
		out = append(out[:maxObj], fmt.Sprintf("and %d more (see the entry's data)", len(out)-maxObj))
	}
	return out
}

// activitySummary says in one line what an activity entry records.
func activitySummary(r ActivityRecord, e *Entry) string {
	var s string
	report := map[string]string{"slack.Post": "Slack message", "slack.Update": "Slack status update", "pagerduty.AddNote": "PagerDuty note"}[r.Activity]
	switch {
	case e.Report && e.Step != "":
		s = fmt.Sprintf("%s on step %s", report, e.Step)
	case e.Report:
		s = fmt.Sprintf("%s on the run", report)
	case e.Step == "":
		s = fmt.Sprintf("activity %s, not tied to a playbook step", r.Activity)
	default:
		s = fmt.Sprintf("step %s", e.Step)
		if e.StepName != "" {
			s += " “" + e.StepName + "”"
		}
		s += fmt.Sprintf(" (%s)", e.Action)
	}
	if e.Kind == KindActivityFailed {
		s += " failed: " + r.Failure
	} else {
		s += " succeeded"
	}
	if r.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", r.Attempts)
	}
	s += fmt.Sprintf("; the activity took %s", workflows.Millis(time.Duration(r.DurationMS)*time.Millisecond))
	if len(e.Objects) > 0 && !e.Report {
		s += " — " + strings.Join(e.Objects, ", ")
	}
	return s
}
