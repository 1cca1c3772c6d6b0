package audit

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Review is what a post-incident review is drafted from: a finished run's record.
type Review struct {
	Started    RunStarted
	Ended      RunEnded
	Result     workflows.RunResult
	Activities []ActivityRecord
}

// ReviewOf extracts a finished run's record from its export.
func ReviewOf(ex *Export) (Review, error) {
	var rv Review
	if len(ex.Entries) == 0 || ex.Entries[0].Kind != KindRunStarted {
		return rv, errors.New("the export does not start with the run's start")
	}
	if err := json.Unmarshal(ex.Entries[0].Data, &rv.Started); err != nil {
		return rv, fmt.Errorf("run.started: %w", err)
	}
	for _, e := range ex.Entries {
		switch e.Kind {
		case KindActivityCompleted, KindActivityFailed:
			var a ActivityRecord
			if json.Unmarshal(e.Data, &a) == nil {
				rv.Activities = append(rv.Activities, a)
			}
		case KindRunEnded:
			if err := json.Unmarshal(e.Data, &rv.Ended); err != nil {
				return rv, fmt.Errorf("run.ended: %w", err)
			}
		}
	}
	if rv.Ended.Status == "" {
		return rv, errors.New("the run has not finished: review it when it has ended")
	}
	if rv.Ended.Result == nil {
		return rv, fmt.Errorf("the run ended %s without a firebreak result (%s): nothing to review step by step", rv.Ended.Status, cmp.Or(rv.Ended.Failure, "-"))
	}
	rv.Result = *rv.Ended.Result
	return rv, nil
}

// FaultSignature says which actions or activities (by prefix) an injected drill fault strikes
// and what their failures then say, so that a review tells the faults a drill injected on
// purpose from real failures. The drill engine owns the table (drills.FaultSignatures).
type FaultSignature struct {
	Prefixes []string
	Says     []string
}

// ReviewMarkdown drafts a post-incident review: timeline, what went well, what was slow,
// follow-ups. slow is the duration from which a step or a response counts as slow; faults
// describes the faults a drill may inject (nil: every failure is taken as real).
func ReviewMarkdown(rv Review, slow time.Duration, faults map[string]FaultSignature) string {
	res := rv.Result
	var b strings.Builder
	kind := "incident"
	if res.Drill {
		kind = "drill"
	}
	trigger := res.Trigger
	if trigger.At.IsZero() {
		trigger.At = res.StartedAt
	}
	fmt.Fprintf(&b, "# Post-incident review (draft): %s — %s\n\n", res.Playbook, cmp.Or(res.Subject, "-"))
	fmt.Fprintf(&b, "_Drafted by firebreak from the run's history on %s. Edit before circulating._\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Run | `%s` (run id `%s`), %s |\n", res.WorkflowID, res.RunID, kind)
	fmt.Fprintf(&b, "| Playbook | %s version %s, sha256 `%s` |\n", res.Playbook, cmp.Or(rv.Started.Version, "-"), cmp.Or(res.PlaybookSHA256, "-"))
	fmt.Fprintf(&b, "| Trigger | %s by %s at %s: %s |\n", cmp.Or(trigger.Kind, "-"), cmp.Or(trigger.By, "-"), trigger.At.UTC().Format(time.RFC3339), mdCell(cmp.Or(trigger.Reason, "-")))
	fmt.Fprintf(&b, "| Outcome | **%s** |\n", res.Outcome)
	if tt := res.Times(); res.Outcome == workflows.OutcomeContained {
		if tt.FirstCutStep != "" {
			fmt.Fprintf(&b, "| Time to first cut | %s (trigger → %s) |\n", workflows.Millis(tt.ToFirstCut), tt.FirstCutStep)
		}
		fmt.Fprintf(&b, "| Time to contain | %s (trigger → the subject's access cut) |\n", workflows.Millis(tt.ToContain))
		if res.TimeToRemediateMS > 0 {
			fmt.Fprintf(&b, "| Time to remediate | %s (trigger → every containment step, gated irreversible ones included) |\n", FormatMillis(res.TimeToRemediateMS))
		}
	}
	if !res.EndedAt.IsZero() {
		fmt.Fprintf(&b, "| Duration | %s (trigger → end of run) |\n", res.EndedAt.Sub(trigger.At).Round(time.Millisecond))
	}

	b.WriteString("\n## Timeline\n\n| T+ | UTC | Event |\n|---:|---|---|\n")
	type ev struct {
		at   time.Time
		what string
	}
	evs := []ev{{trigger.At, fmt.Sprintf("triggered (%s) by %s", cmp.Or(trigger.Kind, "-"), cmp.Or(trigger.By, "-"))}}
	if !res.StartedAt.IsZero() && res.StartedAt.After(trigger.At) {
		evs = append(evs, ev{res.StartedAt, "firebreak run started"})
	}
	for _, s := range res.Steps {
		switch s.Status {
		case workflows.StatusSucceeded:
			evs = append(evs, ev{s.EndedAt, fmt.Sprintf("%s (`%s`) done in %s", s.ID, s.Action, FormatMillis(s.DurationMS))})
		case workflows.StatusFailed:
			evs = append(evs, ev{s.EndedAt, fmt.Sprintf("**%s (`%s`) failed** after %s: %s", s.ID, s.Action, FormatMillis(s.DurationMS), firstLine(s.Error))})
		}
	}
	for _, d := range res.Decisions {
		evs = append(evs, ev{d.At, fmt.Sprintf("%s %s: %s by %s after %s", d.Kind, d.Step, d.Decision, d.Approver, FormatMillis(d.ResponseMS))})
	}
	for _, e := range res.Escalations {
		evs = append(evs, ev{e.At, fmt.Sprintf("escalated %s: %s (%s)", e.Step, firstLine(e.Reason), e.Outcome)})
	}
	if !res.ContainedAt.IsZero() {
		evs = append(evs, ev{res.ContainedAt, "**contained**"})
	}
	if !res.EndedAt.IsZero() {
		evs = append(evs, ev{res.EndedAt, "run ended: " + res.Outcome})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		if e.at.IsZero() {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", e.at.Sub(trigger.At).Round(time.Millisecond), e.at.UTC().Format("15:04:05.000"), mdCell(e.what))
	}

	retried := map[string]int32{}
	retriedByFault := map[string]string{}
	for _, a := range rv.Activities {
		if a.Attempts > 1 {
			k := cmp.Or(a.Step, "-") + " (`" + a.Activity + "`)"
			retried[k] = a.Attempts
			if f := injectedCause(faults, rv.Started.InjectedFaults, a.Activity, a.Failure); f != "" || (len(rv.Started.InjectedFaults) > 0 && a.Failure == "" && faultTouches(faults, rv.Started.InjectedFaults, a.Activity)) {
				retriedByFault[k] = cmp.Or(f, faultFor(faults, rv.Started.InjectedFaults, a.Activity))
			}
		}
	}
	var well, slowLines, follow, injected []string
	if res.Outcome == workflows.OutcomeContained {
		well = append(well, fmt.Sprintf("Contained %s after the trigger.", FormatMillis(res.TimeToContainMS)))
	}
	ok, failed := 0, 0
	for _, s := range res.Steps {
		switch s.Status {
		case workflows.StatusSucceeded:
			ok++
		case workflows.StatusFailed:
			failed++
			if fault := injectedCause(faults, rv.Started.InjectedFaults, s.Action, s.Error); fault != "" {
				injected = append(injected, fmt.Sprintf("%s (`%s`) failed as the injected fault %s meant it to: %s", s.ID, s.Action, fault, firstLine(s.Error)))
				break
			}
			fix := fmt.Sprintf("Find out why %s (`%s`) failed and fix it: %s", s.ID, s.Action, firstLine(s.Error))
			if res.Drill {
				fix += " (not an injected fault: fix the playbook or the sandbox before the next drill)"
			}
			follow = append(follow, fix)
		}
		if s.Status == workflows.StatusSucceeded && slow > 0 && time.Duration(s.DurationMS)*time.Millisecond >= slow {
			if safetyGate(s) {
				// The wait is the gate doing its job: a second person looks before anything
				// irreversible happens. Advise reaching people sooner, never removing the gate.
				slowLines = append(slowLines, fmt.Sprintf("%s (`%s`) waited %s for a second person: that is the two-person gate working, and it stays.", s.ID, s.Action, FormatMillis(s.DurationMS)))
				follow = append(follow, fmt.Sprintf("Make sure a second approver for %s is reachable quickly (on-call rota, paging), so the gate is answered sooner; keep the gate.", s.ID))
				continue
			}
			slowLines = append(slowLines, fmt.Sprintf("%s (`%s`) took %s (threshold %s).", s.ID, s.Action, FormatMillis(s.DurationMS), slow))
			follow = append(follow, fmt.Sprintf("Speed up %s (`%s`): it took %s; raise its concurrency, shorten its retries or find what held it up.", s.ID, s.Action, FormatMillis(s.DurationMS)))
		}
	}
	if failed == 0 && ok > 0 {
		well = append(well, fmt.Sprintf("All %d steps that ran succeeded.", ok))
	} else if ok > 0 {
		well = append(well, fmt.Sprintf("%d of %d steps that ran succeeded.", ok, ok+failed))
	}
	checks := append(append([]workflows.Check(nil), res.Verifications...), res.Expectations...)
	passed := 0
	for _, c := range checks {
		if c.Passed {
			passed++
			continue
		}
		follow = append(follow, fmt.Sprintf("Check failed — %s: %s", strings.TrimPrefix(c.Step+": "+c.Name, ": "), cmp.Or(c.Detail, "-")))
	}
	if len(checks) > 0 && passed == len(checks) {
		well = append(well, fmt.Sprintf("Every verification and expectation passed (%d).", passed))
	}
	for _, d := range res.Decisions {
		late := slow > 0 && time.Duration(d.ResponseMS)*time.Millisecond >= slow
		switch {
		case d.Decision == "timeout":
			slowLines = append(slowLines, fmt.Sprintf("Nobody answered %s %s in time (%s): %s.", d.Kind, d.Step, FormatMillis(d.ResponseMS), cmp.Or(d.Reason, "-")))
			follow = append(follow, fmt.Sprintf("Make sure someone with the role for %s %s is on call and reachable.", d.Kind, d.Step))
		case late:
			slowLines = append(slowLines, fmt.Sprintf("%s %s was answered by %s after %s.", d.Kind, d.Step, d.Approver, FormatMillis(d.ResponseMS)))
		default:
			well = append(well, fmt.Sprintf("%s %s answered by %s in %s.", d.Kind, d.Step, d.Approver, FormatMillis(d.ResponseMS)))
		}
	}
	for _, e := range res.Escalations {
		slowLines = append(slowLines, fmt.Sprintf("%s was escalated: %s (%s).", e.Step, firstLine(e.Reason), e.Outcome))
		follow = append(follow, fmt.Sprintf("Remove the cause of the escalation of %s: %s", e.Step, firstLine(e.Reason)))
	}
	keys := make([]string, 0, len(retried))
	for k := range retried {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if f := retriedByFault[k]; f != "" {
			injected = append(injected, fmt.Sprintf("%s needed %d attempts under the injected fault %s.", k, retried[k], f))
			continue
		}
		slowLines = append(slowLines, fmt.Sprintf("%s needed %d attempts.", k, retried[k]))
	}
	if len(retried) > 0 && res.Outcome == workflows.OutcomeContained {
		well = append(well, fmt.Sprintf("Retries absorbed %d transient failure(s) without anyone stepping in.", len(retried)))
	}
	for _, e := range res.ReportErrors {
		if f := injectedCause(faults, rv.Started.InjectedFaults, e, e); f != "" {
			injected = append(injected, fmt.Sprintf("Reporting was delayed by the injected fault %s (containment was not held up): %s", f, firstLine(e)))
			continue
		}
		follow = append(follow, "Reporting was not delivered (containment was not held up): "+firstLine(e))
	}
	if res.Outcome != workflows.OutcomeContained && res.Error != "" {
		follow = append(follow, "The run did not contain: "+firstLine(res.Error))
	}
	list := func(title string, items []string, box bool, none string) {
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		if len(items) == 0 {
			fmt.Fprintf(&b, "- %s\n", none)
			return
		}
		for _, it := range items {
			if box {
				fmt.Fprintf(&b, "- [ ] %s\n", mdCell(it))
			} else {
				fmt.Fprintf(&b, "- %s\n", mdCell(it))
			}
		}
	}
	list("What went well", well, false, "_(to be written by the team)_")
	if len(rv.Started.InjectedFaults) > 0 {
		list("Faults the drill injected on purpose ("+strings.Join(rv.Started.InjectedFaults, ", ")+")", injected, false,
			"None of them caused a failure or a retry that the record shows.")
	}
	list("What was slow", slowLines, false, fmt.Sprintf("Nothing took %s or longer, and nothing was retried or escalated.", slow))
	list("Follow-ups", follow, true, "None derived from the record; add the team's own.")
	b.WriteString("\n## Notes from the team\n\n_(root cause, detection, what we would change)_\n")
	return b.String()
}

// safetyGate reports whether a step is a person's decision that guards irreversible work: a
// two-person gate (compiler-added or written), an approval or a manual step. A review never
// advises removing or automating one.
func safetyGate(s workflows.StepResult) bool {
	return len(s.Guards) > 0 || s.Action == "approval.request" || s.Action == "manual"
}

// injectedCause names the injected fault that explains a failure of what (an action, an
// activity or a report error) with message msg; "" when none does, and the failure is real.
func injectedCause(sigs map[string]FaultSignature, faults []string, what, msg string) string {
	lw, lm := strings.ToLower(what), strings.ToLower(msg)
	for _, f := range faults {
		sig, ok := sigs[f]
		if !ok || !slices.ContainsFunc(sig.Prefixes, func(p string) bool { return strings.HasPrefix(lw, p) || strings.Contains(lw, p) && p != "" }) {
			continue
		}
		if slices.ContainsFunc(sig.Says, func(s string) bool { return strings.Contains(lm, strings.ToLower(s)) }) {
			return f
		}
	}
	return ""
}

// faultTouches reports whether an injected fault strikes activity (retries of it with no
// recorded failure are the fault's).
func faultTouches(sigs map[string]FaultSignature, faults []string, activity string) bool {
	return faultFor(sigs, faults, activity) != ""
}

func faultFor(sigs map[string]FaultSignature, faults []string, activity string) string {
	la := strings.ToLower(activity)
	for _, f := range faults {
		if sig, ok := sigs[f]; ok && slices.ContainsFunc(sig.Prefixes, func(p string) bool { return p != "" && strings.HasPrefix(la, p) }) {
			return f
		}
	}
	return ""
}

// FormatMillis prints milliseconds as a rounded duration: the scorecard's and the audit
// record's format (workflows.Millis).
func FormatMillis(ms int64) string { return workflows.Millis(time.Duration(ms) * time.Millisecond) }
