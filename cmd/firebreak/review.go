package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

func newAuditReviewCmd() *cobra.Command {
	var runID, out string
	var slow time.Duration
	cmd := &cobra.Command{
		Use:   "review WORKFLOW_ID [--run-id RUN_ID] [--slow 1m] [-o FILE]",
		Short: "Draft a post-incident review in Markdown from a finished run's history",
		Long: `Writes a draft post-incident review: the timeline from the trigger to the end of the run,
what went well, what was slow (steps over --slow, human responses and escalations, retried
actions) and follow-ups derived from failed and slow steps, failed checks, escalations and
undelivered reports. It is a draft for the team to complete, built from the same record as
'firebreak audit export'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if runID == "" {
				latest, err := conn.Runs.LatestRun(ctx, args[0])
				if err != nil {
					return fmt.Errorf("no run %q on Temporal at %s: %w", args[0], conn.Address, err)
				}
				runID = latest
			}
			events, err := conn.Runs.History(ctx, args[0], runID)
			if err != nil {
				return err
			}
			ex, err := audit.BuildWith(args[0], runID, events, nil, audit.Options{People: directoryNames()})
			if err != nil {
				return err
			}
			rv, err := reviewOf(ex)
			if err != nil {
				return err
			}
			doc := reviewMarkdown(rv, slow)
			if out == "" || out == "-" {
				_, err = io.WriteString(cmd.OutOrStdout(), doc)
				return err
			}
			return writePrivate(out, []byte(doc)) // a run's decisions, people and errors
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "the run of the workflow id (default: the latest)")
	cmd.Flags().DurationVar(&slow, "slow", time.Minute, "a step or response that took at least this long is listed as slow")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// review is what a post-incident review is drafted from.
type review struct {
	Started    audit.RunStarted
	Ended      audit.RunEnded
	Result     workflows.RunResult
	Activities []audit.ActivityRecord
}

// reviewOf extracts a finished run's record from its export.
func reviewOf(ex *audit.Export) (review, error) {
	var rv review
	if len(ex.Entries) == 0 || ex.Entries[0].Kind != audit.KindRunStarted {
		return rv, errors.New("the export does not start with the run's start")
	}
	if err := json.Unmarshal(ex.Entries[0].Data, &rv.Started); err != nil {
		return rv, fmt.Errorf("run.started: %w", err)
	}
	for _, e := range ex.Entries {
		switch e.Kind {
		case audit.KindActivityCompleted, audit.KindActivityFailed:
			var a audit.ActivityRecord
			if json.Unmarshal(e.Data, &a) == nil {
				rv.Activities = append(rv.Activities, a)
			}
		case audit.KindRunEnded:
			if err := json.Unmarshal(e.Data, &rv.Ended); err != nil {
				return rv, fmt.Errorf("run.ended: %w", err)
			}
		}
	}
	if rv.Ended.Status == "" {
		return rv, errors.New("the run has not finished: review it when it has ended")
	}
	if rv.Ended.Result == nil {
		return rv, fmt.Errorf("the run ended %s without a firebreak result (%s): nothing to review step by step", rv.Ended.Status, orDash(rv.Ended.Failure))
	}
	rv.Result = *rv.Ended.Result
	return rv, nil
}

// reviewMarkdown drafts a post-incident review: timeline, what went well, what was slow,
// follow-ups. slow is the duration from which a step or a response counts as slow.
func reviewMarkdown(rv review, slow time.Duration) string {
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
	fmt.Fprintf(&b, "# Post-incident review (draft): %s — %s\n\n", res.Playbook, orDash(res.Subject))
	fmt.Fprintf(&b, "_Drafted by firebreak from the run's history on %s. Edit before circulating._\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Run | `%s` (run id `%s`), %s |\n", res.WorkflowID, res.RunID, kind)
	fmt.Fprintf(&b, "| Playbook | %s version %s, sha256 `%s` |\n", res.Playbook, orDash(rv.Started.Version), orDash(res.PlaybookSHA256))
	fmt.Fprintf(&b, "| Trigger | %s by %s at %s: %s |\n", orDash(trigger.Kind), orDash(trigger.By), trigger.At.UTC().Format(time.RFC3339), mdCell(orDash(trigger.Reason)))
	fmt.Fprintf(&b, "| Outcome | **%s** |\n", res.Outcome)
	if tt := res.Times(); res.Outcome == workflows.OutcomeContained {
		if tt.FirstCutStep != "" {
			fmt.Fprintf(&b, "| Time to first cut | %s (trigger → %s) |\n", workflows.Millis(tt.ToFirstCut), tt.FirstCutStep)
		}
		fmt.Fprintf(&b, "| Time to contain | %s (trigger → the subject's access cut) |\n", workflows.Millis(tt.ToContain))
		if res.TimeToRemediateMS > 0 {
			fmt.Fprintf(&b, "| Time to remediate | %s (trigger → every containment step, gated irreversible ones included) |\n", msDur(res.TimeToRemediateMS))
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
	evs := []ev{{trigger.At, fmt.Sprintf("triggered (%s) by %s", orDash(trigger.Kind), orDash(trigger.By))}}
	if !res.StartedAt.IsZero() && res.StartedAt.After(trigger.At) {
		evs = append(evs, ev{res.StartedAt, "firebreak run started"})
	}
	for _, s := range res.Steps {
		switch s.Status {
		case workflows.StatusSucceeded:
			evs = append(evs, ev{s.EndedAt, fmt.Sprintf("%s (`%s`) done in %s", s.ID, s.Action, msDur(s.DurationMS))})
		case workflows.StatusFailed:
			evs = append(evs, ev{s.EndedAt, fmt.Sprintf("**%s (`%s`) failed** after %s: %s", s.ID, s.Action, msDur(s.DurationMS), firstLine(s.Error))})
		}
	}
	for _, d := range res.Decisions {
		evs = append(evs, ev{d.At, fmt.Sprintf("%s %s: %s by %s after %s", d.Kind, d.Step, d.Decision, d.Approver, msDur(d.ResponseMS))})
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
			k := orDash(a.Step) + " (`" + a.Activity + "`)"
			retried[k] = a.Attempts
			if f := injectedCause(rv.Started.InjectedFaults, a.Activity, a.Failure); f != "" || (len(rv.Started.InjectedFaults) > 0 && a.Failure == "" && faultTouches(rv.Started.InjectedFaults, a.Activity)) {
				retriedByFault[k] = cmp.Or(f, faultFor(rv.Started.InjectedFaults, a.Activity))
			}
		}
	}
	var well, slowLines, follow, injected []string
	if res.Outcome == workflows.OutcomeContained {
		well = append(well, fmt.Sprintf("Contained %s after the trigger.", msDur(res.TimeToContainMS)))
	}
	ok, failed := 0, 0
	for _, s := range res.Steps {
		switch s.Status {
		case workflows.StatusSucceeded:
			ok++
		case workflows.StatusFailed:
			failed++
			if fault := injectedCause(rv.Started.InjectedFaults, s.Action, s.Error); fault != "" {
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
				slowLines = append(slowLines, fmt.Sprintf("%s (`%s`) waited %s for a second person: that is the two-person gate working, and it stays.", s.ID, s.Action, msDur(s.DurationMS)))
				follow = append(follow, fmt.Sprintf("Make sure a second approver for %s is reachable quickly (on-call rota, paging), so the gate is answered sooner; keep the gate.", s.ID))
				continue
			}
			slowLines = append(slowLines, fmt.Sprintf("%s (`%s`) took %s (threshold %s).", s.ID, s.Action, msDur(s.DurationMS), slow))
			follow = append(follow, fmt.Sprintf("Speed up %s (`%s`): it took %s; raise its concurrency, shorten its retries or find what held it up.", s.ID, s.Action, msDur(s.DurationMS)))
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
		follow = append(follow, fmt.Sprintf("Check failed — %s: %s", strings.TrimPrefix(c.Step+": "+c.Name, ": "), orDash(c.Detail)))
	}
	if len(checks) > 0 && passed == len(checks) {
		well = append(well, fmt.Sprintf("Every verification and expectation passed (%d).", passed))
	}
	for _, d := range res.Decisions {
		late := slow > 0 && time.Duration(d.ResponseMS)*time.Millisecond >= slow
		switch {
		case d.Decision == "timeout":
			slowLines = append(slowLines, fmt.Sprintf("Nobody answered %s %s in time (%s): %s.", d.Kind, d.Step, msDur(d.ResponseMS), orDash(d.Reason)))
			follow = append(follow, fmt.Sprintf("Make sure someone with the role for %s %s is on call and reachable.", d.Kind, d.Step))
		case late:
			slowLines = append(slowLines, fmt.Sprintf("%s %s was answered by %s after %s.", d.Kind, d.Step, d.Approver, msDur(d.ResponseMS)))
		default:
			well = append(well, fmt.Sprintf("%s %s answered by %s in %s.", d.Kind, d.Step, d.Approver, msDur(d.ResponseMS)))
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
		if f := injectedCause(rv.Started.InjectedFaults, e, e); f != "" {
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

// msDur prints milliseconds as a rounded duration.
// It is the scorecard's and the audit record's format (workflows.Millis).
func msDur(ms int64) string { return workflows.Millis(time.Duration(ms) * time.Millisecond) }

// playbookMetrics are a playbook's detection and containment times over past runs.
type playbookMetrics struct {
	Playbook  string `json:"playbook"`
	Drills    bool   `json:"drills"`
	Runs      int    `json:"runs"`
	Contained int    `json:"contained"`
	Failed    int    `json:"failed"`
	// MTTDMS is the mean time from the trigger (the alert or the request) to the run starting.
	MTTDMS int64 `json:"mttd_ms"`
	// MTTRMS is the mean time from the trigger to contained, over contained runs.
	MTTRMS int64 `json:"mttr_ms"`
	// MedianTTCMS and MaxTTCMS describe the spread of time to contain.
	MedianTTCMS int64 `json:"median_ttc_ms"`
	MaxTTCMS    int64 `json:"max_ttc_ms"`
}

// computeMetrics groups finished runs by playbook (drills apart from incidents).
func computeMetrics(runs []runSummary) []playbookMetrics {
	type key struct {
		playbook string
		drill    bool
	}
	acc := map[key]*playbookMetrics{}
	ttcs := map[key][]int64{}
	var detect = map[key][]int64{}
	for _, r := range runs {
		if r.Result == nil || r.Result.Outcome == workflows.OutcomeRunning {
			continue
		}
		res := r.Result
		k := key{orDash(r.Playbook), res.Drill}
		m := acc[k]
		if m == nil {
			m = &playbookMetrics{Playbook: k.playbook, Drills: k.drill}
			acc[k] = m
		}
		m.Runs++
		if !res.Trigger.At.IsZero() && !res.StartedAt.IsZero() {
			detect[k] = append(detect[k], max(res.StartedAt.Sub(res.Trigger.At).Milliseconds(), 0))
		}
		if res.Outcome == workflows.OutcomeContained {
			m.Contained++
			ttcs[k] = append(ttcs[k], res.TimeToContainMS)
		} else {
			m.Failed++
		}
	}
	mean := func(xs []int64) int64 {
		if len(xs) == 0 {
			return 0
		}
		var s int64
		for _, x := range xs {
			s += x
		}
		return s / int64(len(xs))
	}
	var out []playbookMetrics
	for k, m := range acc {
		m.MTTDMS, m.MTTRMS = mean(detect[k]), mean(ttcs[k])
		if xs := ttcs[k]; len(xs) > 0 {
			slices.Sort(xs)
			m.MedianTTCMS, m.MaxTTCMS = xs[len(xs)/2], xs[len(xs)-1]
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Playbook != out[j].Playbook {
			return out[i].Playbook < out[j].Playbook
		}
		return !out[i].Drills && out[j].Drills
	})
	return out
}

func newAuditMetricsCmd() *cobra.Command {
	var since time.Duration
	var playbook string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "metrics [--since 720h] [--playbook NAME] [--json]",
		Short: "MTTD and MTTR per playbook over past runs, incidents and drills apart",
		Long: `Reads the finished runs from Temporal's visibility store and, per playbook, reports how many
ran, contained and failed, the mean time from the trigger to the run starting (MTTD: how long
the alert or request took to become a response; firebreak cannot see when the compromise itself
began) and the mean time from the trigger to contained (MTTR), with the median and the worst.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			var from time.Time
			if since > 0 {
				from = time.Now().Add(-since)
			}
			runs, err := listRuns(ctx, conn, from, "", playbook, true)
			if err != nil {
				return err
			}
			throwawayHint(cmd.ErrOrStderr(), conn, len(runs))
			ms := computeMetrics(runs)
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"playbooks": ms})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PLAYBOOK\tKIND\tRUNS\tCONTAINED\tFAILED\tMTTD\tMTTR\tMEDIAN TTC\tWORST TTC")
			for _, m := range ms {
				kind := "incidents"
				if m.Drills {
					kind = "drills"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", m.Playbook, kind, m.Runs, m.Contained, m.Failed, msDur(m.MTTDMS), msDur(m.MTTRMS), msDur(m.MedianTTCMS), msDur(m.MaxTTCMS))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().DurationVar(&since, "since", 0, "only runs started within this long (e.g. 720h); default all")
	cmd.Flags().StringVar(&playbook, "playbook", "", "only runs of this playbook")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// safetyGate reports whether a step is a person's decision that guards irreversible work: a
// two-person gate (compiler-added or written), an approval or a manual step. A review never
// advises removing or automating one.
func safetyGate(s workflows.StepResult) bool {
	return len(s.Guards) > 0 || s.Action == "approval.request" || s.Action == "manual"
}

// faultSignatures say which actions or activities (by prefix) a sandbox fault strikes and
// what their failures then say.
var faultSignatures = map[string]struct {
	prefixes []string
	says     []string
}{
	testenv.FaultVaultDown:     {[]string{"vault."}, []string{"sealed", "503", "Service Unavailable"}},
	testenv.FaultVaultSlow:     {[]string{"vault."}, []string{"timeout", "deadline"}},
	testenv.FaultIAMThrottle:   {[]string{"awsiam.", "iam"}, []string{"Throttl", "Rate exceeded"}},
	testenv.FaultSlack429:      {[]string{"slack.", "slack"}, []string{"429", "rate", "ratelimited"}},
	testenv.FaultSlackDown:     {[]string{"slack.", "slack"}, []string{"503", "unavailable", "Service Unavailable"}},
	testenv.FaultPagerDutyDown: {[]string{"pagerduty.", "pagerduty"}, []string{"503", "unavailable", "Service Unavailable"}},
	drills.FaultWorkerCrash:    {[]string{""}, []string{"timed out", "timeout", "worker"}},
}

// injectedCause names the injected fault that explains a failure of what (an action, an
// activity or a report error) with message msg; "" when none does, and the failure is real.
func injectedCause(faults []string, what, msg string) string {
	lw, lm := strings.ToLower(what), strings.ToLower(msg)
	for _, f := range faults {
		sig, ok := faultSignatures[f]
		if !ok || !slices.ContainsFunc(sig.prefixes, func(p string) bool { return strings.HasPrefix(lw, p) || strings.Contains(lw, p) && p != "" }) {
			continue
		}
		if slices.ContainsFunc(sig.says, func(s string) bool { return strings.Contains(lm, strings.ToLower(s)) }) {
			return f
		}
	}
	return ""
}

// faultTouches reports whether an injected fault strikes activity (retries of it with no
// recorded failure are the fault's).
func faultTouches(faults []string, activity string) bool { return faultFor(faults, activity) != "" }

func faultFor(faults []string, activity string) string {
	la := strings.ToLower(activity)
	for _, f := range faults {
		if sig, ok := faultSignatures[f]; ok && f != drills.FaultWorkerCrash && slices.ContainsFunc(sig.prefixes, func(p string) bool { return p != "" && strings.HasPrefix(la, p) }) {
			return f
		}
	}
	return ""
}
