package drills

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Scorecard is what a drill reports: the run's record plus the sandbox-side checks.
type Scorecard struct {
	workflows.RunResult
	Passed       bool          `json:"passed"`
	LeakChecks   []LeakCheck   `json:"leak_checks"`
	FailureCause string        `json:"failure_cause,omitempty"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	// Faults lists the faults injected into the drill and what each did.
	Faults []testenv.FaultReport `json:"faults,omitempty"`
	// Retries lists the activities that needed more than one attempt: how the run coped.
	Retries []ActivityAttempts `json:"retries,omitempty"`
	// UpstreamChecks ask the sandbox's database and rotation service whether each reported
	// rotation changed the credential where it is checked.
	UpstreamChecks []workflows.Check `json:"upstream_checks,omitempty"`
	// Verdict is PASS, FAIL or CONTAINED, REMEDIATION PENDING.
	Verdict string `json:"verdict"`
	// SlackThread is what the sandbox Slack channel received during the drill, as a responder
	// reads it (see SlackThread).
	SlackThread []ThreadMessage `json:"slack_thread,omitempty"`
}

// ActivityAttempts is one activity of a run that was retried.
type ActivityAttempts struct {
	Activity    string `json:"activity"`
	Attempts    int32  `json:"attempts"`
	LastFailure string `json:"last_failure,omitempty"`
}

// LeakCheck is the result of scanning one artefact of a drill for the sandbox's canary secrets.
type LeakCheck struct {
	Artefact string `json:"artefact"`
	Scanned  int    `json:"scanned"`
	Leaks    int    `json:"leaks"`
}

// Verdicts of a scorecard.
const (
	VerdictPass = "PASS"
	VerdictFail = "FAIL"
	// VerdictRemediationPending: nothing failed and the subject is contained, but some secrets
	// are left for their owners to rotate and nothing checked that they were. Not a pass; the
	// exit code is still 0 (no check failed), and --json carries remediation_pending.
	VerdictRemediationPending = "CONTAINED, REMEDIATION PENDING"
)

// Verdict is what a scorecard says of its run: VerdictPass, VerdictFail or
// VerdictRemediationPending.
func Verdict(c Scorecard) string {
	switch {
	case !c.Passed:
		return VerdictFail
	case len(c.RemediationPending) > 0:
		return VerdictRemediationPending
	}
	return VerdictPass
}

// rotationLines describes, for the scorecard, what each rotation step did to each secret:
// rotated (and how), left to a person (and whose), or failed (and why). Only "rotated" lines
// are rotations: the credential changed where it is checked.
func rotationLines(c Scorecard) []string {
	var out []string
	list := func(s workflows.StepResult, name string) []map[string]any {
		raw, _ := s.Outputs[name].([]any)
		var ms []map[string]any
		for _, it := range raw {
			if m, ok := it.(map[string]any); ok {
				ms = append(ms, m)
			}
		}
		return ms
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for _, s := range c.Steps {
		switch s.Action {
		case "vault.rotate_secrets":
			for _, m := range list(s, "rotated") {
				how := str(m, "strategy")
				if up := str(m, "upstream"); up != "" {
					how += " via " + up
				}
				out = append(out, fmt.Sprintf("✓ rotated %s/%s: %s, version %v → %v", str(m, "mount"), str(m, "path"), cmp.Or(how, "-"), m["previous_version"], m["new_version"]))
			}
			for _, m := range list(s, "failed") {
				out = append(out, fmt.Sprintf("✗ failed %s/%s (%s): %s", str(m, "mount"), str(m, "path"), str(m, "kind"), str(m, "error")))
			}
		case "vault.plan_rotation":
			for _, m := range list(s, "problems") {
				out = append(out, fmt.Sprintf("✗ cannot rotate %s/%s as marked (%s): %s", str(m, "mount"), str(m, "path"), str(m, "kind"), str(m, "error")))
			}
		}
	}
	for _, p := range c.RemediationPending {
		out = append(out, fmt.Sprintf("… pending %s/%s: left to its owner %s (not rotated by firebreak, not checked)", p.Mount, p.Path, cmp.Or(p.Owner, "-")))
	}
	return out
}

// upstreamChecks asks the sandbox's own systems whether each rotation the run reports happened
// where the credential is checked, not only in Vault's copy: for database:, the database
// refuses the previous version's password and accepts the new one; for service:, the rotation
// service refuses the previous value and accepts the new one; for generate:, the named fields
// changed and no other did. Details never carry values.
func upstreamChecks(sb *testenv.Sandbox, c Scorecard) []workflows.Check {
	var out []workflows.Check
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(m map[string]any, k string) int {
		switch n := m[k].(type) {
		case float64:
			return int(n)
		case int:
			return n
		case int64:
			return int(n)
		}
		return 0
	}
	for _, s := range c.Steps {
		if s.Action != "vault.rotate_secrets" {
			continue
		}
		raw, _ := s.Outputs["rotated"].([]any)
		for _, it := range raw {
			m, _ := it.(map[string]any)
			mount, path, strategy := str(m, "mount"), str(m, "path"), str(m, "strategy")
			prev, okPrev := sb.Vault.SecretVersion(mount, path, num(m, "previous_version"))
			cur, okCur := sb.Vault.SecretVersion(mount, path, num(m, "new_version"))
			ck := workflows.Check{Step: s.ID, Name: "rotated upstream: " + mount + "/" + path}
			kind, arg, _ := strings.Cut(strategy, ":")
			switch {
			case !okPrev || !okCur:
				ck.Detail = fmt.Sprintf("versions %v and %v not both in the sandbox's Vault", m["previous_version"], m["new_version"])
			case kind == "database":
				dbMount := arg[:max(strings.LastIndex(arg, "/"), 0)]
				user := cur["username"]
				oldOK, newOK := sb.Vault.DatabaseLogin(dbMount, user, prev["password"]), sb.Vault.DatabaseLogin(dbMount, user, cur["password"])
				ck.Passed = !oldOK && newOK
				ck.Detail = fmt.Sprintf("the database refuses %s's previous password: %v; accepts the copy's: %v", user, !oldOK, newOK)
			case kind == "service" && strings.HasPrefix(arg, testenv.SecretServiceName+"/"):
				cred := arg[strings.LastIndex(arg, "/")+1:]
				ck.Passed = true
				var fields []string
				for f, v := range cur {
					if prev[f] != v {
						fields = append(fields, f)
						ck.Passed = ck.Passed && !sb.PaymentsAdmin.Valid(cred, prev[f]) && sb.PaymentsAdmin.Valid(cred, v)
					}
				}
				ck.Passed = ck.Passed && len(fields) > 0
				slices.Sort(fields)
				ck.Detail = fmt.Sprintf("%s refuses the previous %s and accepts the copy's: %v", testenv.SecretServiceName, strings.Join(fields, ", "), ck.Passed)
			case kind == "generate":
				named := strings.Split(arg, ",")
				ck.Passed = len(prev) == len(cur)
				for f, v := range prev {
					changed := cur[f] != v
					ck.Passed = ck.Passed && changed == slices.Contains(named, f)
				}
				ck.Detail = fmt.Sprintf("%s changed and no other field: %v", arg, ck.Passed)
			default:
				continue // nothing in the sandbox to ask
			}
			out = append(out, ck)
		}
	}
	return out
}

// responses are a scorecard's lines about people: each decision with its response time, and
// each escalation.
func responses(c Scorecard) []string {
	var out []string
	for _, d := range c.Decisions {
		who := d.Approver
		if who == workflows.DrillApprover || strings.HasPrefix(who, workflows.DrillApprover+"-") {
			who += " (auto-approved)"
		}
		out = append(out, fmt.Sprintf("%s %s: %s by %s after %d ms%s", d.Kind, d.Step, d.Decision, who, d.ResponseMS, strings.TrimSuffix(" — "+d.Reason, " — ")))
	}
	for _, e := range c.Escalations {
		out = append(out, fmt.Sprintf("escalation %s: %s — %s", e.Step, e.Outcome, firstLine(e.Reason)))
	}
	return out
}

// ActivityRetries reads from the run's history which activities needed more than one attempt.
func ActivityRetries(ctx context.Context, rc *runs.Client, wfID, runID string) []ActivityAttempts {
	if wfID == "" {
		return nil
	}
	types := map[int64]string{}
	var out []ActivityAttempts
	events, _ := rc.History(ctx, wfID, runID) // the leak check reports an unreadable history
	for _, ev := range events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			out = append(out, ActivityAttempts{Activity: types[a.GetScheduledEventId()], Attempts: a.GetAttempt(), LastFailure: a.GetLastFailure().GetMessage()})
		}
	}
	return out
}

// LeakChecks scans what left the workflow — its history, and every message sent to Slack and
// PagerDuty — for the sandbox's canary secrets.
func LeakChecks(ctx context.Context, rc *runs.Client, sb *testenv.Sandbox, wfID, runID string) []LeakCheck {
	var out []LeakCheck
	// firebreak's own credential for each service is meant to reach that service; everything
	// else in the request is content and must be free of secrets.
	ownToken := map[string]string{"slack": sb.Slack.BotToken(), "pagerduty": sb.PagerDuty.Token()}
	for _, svc := range []string{"slack", "pagerduty"} {
		lc := LeakCheck{Artefact: svc + " requests"}
		for _, call := range sb.Recorder.Calls(svc) {
			lc.Scanned++
			body := strings.ReplaceAll(call.Body, ownToken[svc], "")
			body = strings.ReplaceAll(body, url.QueryEscape(ownToken[svc]), "")
			if testenv.ContainsCanary(body) {
				lc.Leaks++
			}
		}
		out = append(out, lc)
	}
	if wfID != "" {
		lc := LeakCheck{Artefact: "workflow history events (decrypted)"}
		events, err := rc.History(ctx, wfID, runID)
		if err != nil {
			lc.Leaks++ // unreadable history cannot be vouched for
		}
		for _, ev := range events {
			lc.Scanned++
			if testenv.ContainsCanary(ev.String()) {
				lc.Leaks++
			}
		}
		out = append(out, lc)
	}
	return out
}

// RunScorecard is the scorecard of a real run (firebreak run): its result, why it failed when
// the result does not say so itself (recorded is false), the run's own duration, and passed
// when it was contained without error.
func RunScorecard(res workflows.RunResult, recorded bool, err error) Scorecard {
	card := Scorecard{RunResult: res}
	if err != nil && !recorded {
		card.FailureCause = err.Error()
	}
	card.Elapsed = runs.Elapsed(res)
	card.Passed = err == nil && card.Outcome == workflows.OutcomeContained
	return card
}
