package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// schedulePrefix starts the id of every Temporal Schedule firebreak manages.
const schedulePrefix = "firebreak-drill-schedule/"

// scheduleID names the n-th schedule of a playbook.
func scheduleID(playbook string, n int) string {
	if n == 0 {
		return schedulePrefix + playbook
	}
	return fmt.Sprintf("%s%s/%d", schedulePrefix, playbook, n)
}

func newDrillScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Turn playbooks' drill schedules (triggers.schedule) into Temporal Schedules",
		Long: `Scheduled drills run on the drill task queue, so a worker bound to the sandbox must serve it:
run 'firebreak dev' and point these commands at it with TEMPORAL_ADDRESS. Each scheduled drill
posts its progress and scorecard summary to the sandbox's drill Slack channel.`,
	}
	cmd.AddCommand(newScheduleSyncCmd(), newScheduleListCmd(), newSchedulePauseCmd())
	for _, c := range cmd.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return cmd
}

// desiredSchedule is one schedule a playbook asks for.
type desiredSchedule struct {
	id     string
	cron   string
	plan   *playbooks.Plan
	inputs map[string]any
	// autoApprove makes the scheduled drill unattended; without it a scheduled drill is a
	// tabletop whose approvals and manual steps wait for people in the drill channel.
	autoApprove bool
}

func newScheduleSyncCmd() *cobra.Command {
	var cron, playbookDir string
	var inputs []string
	var autoApprove bool
	cmd := &cobra.Command{
		Use:   "sync [PLAYBOOK...] [--cron EXPR --input k=v...]",
		Short: "Create, update and delete Temporal Schedules to match the playbooks' drill schedules",
		Long: `With no --cron, every playbook's triggers.schedule entries become Temporal Schedules, and
schedules of playbooks that no longer ask for one are deleted. With --cron EXPR and one
playbook, that playbook is scheduled with EXPR (five cron fields, UTC) and --input values.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := playbooks.LoadLibrary(playbookDir)
			if err != nil {
				return err
			}
			raw, err := parseKV(inputs)
			if err != nil {
				return err
			}
			var want []desiredSchedule
			if cron != "" {
				if len(args) != 1 {
					return usagef("--cron schedules one playbook: give exactly one name, found %d", len(args))
				}
				d, err := desired(lib, args[0], 0, cron, raw)
				if err != nil {
					return err
				}
				want = append(want, d)
			} else {
				names := args
				if len(names) == 0 {
					names = lib.Names()
				}
				for _, n := range names {
					p, err := lib.Get(n)
					if err != nil {
						return usageError{err}
					}
					for i, s := range p.Triggers.Schedule {
						d, err := desired(lib, n, i, s.Cron, s.Inputs)
						if err != nil {
							return err
						}
						want = append(want, d)
					}
				}
			}
			for i := range want {
				want[i].autoApprove = autoApprove
			}
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if conn.Embedded {
				fmt.Fprintln(cmd.ErrOrStderr(), "firebreak: warning: TEMPORAL_ADDRESS is not set, so these schedules live on an embedded server that stops with this command; run `firebreak dev` and set TEMPORAL_ADDRESS")
			}
			// Deleting is only right when every playbook was considered.
			prune := cron == "" && len(args) == 0
			return syncSchedules(ctx, conn.Client, want, prune, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&cron, "cron", "", "schedule the named playbook with this cron expression (five fields, UTC) instead of its triggers.schedule")
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "with --cron: playbook input as key=value (repeatable); subject defaults to alice")
	cmd.Flags().StringVar(&playbookDir, "playbooks", "", playbooksFlagUsage)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "scheduled drills grant approvals and manual steps at once (unattended); default: tabletop, they wait for participants in the drill's Slack channel and escalate when late")
	return cmd
}

func desired(lib *playbooks.Library, name string, n int, cron string, raw map[string]string) (desiredSchedule, error) {
	p, err := lib.Get(name)
	if err != nil {
		return desiredSchedule{}, usageError{err}
	}
	if len(strings.Fields(cron)) != 5 && !strings.HasPrefix(cron, "@") {
		return desiredSchedule{}, usagef("playbook %s: cron %q: expected five fields (minute hour day month weekday) or a @descriptor", name, cron)
	}
	bound, err := p.BindInputs(runs.DrillInputs(p, raw, nil))
	if err != nil {
		return desiredSchedule{}, usageError{fmt.Errorf("playbook %s: %w", name, err)}
	}
	return desiredSchedule{id: scheduleID(name, n), cron: cron, plan: p, inputs: bound}, nil
}

// scheduleAction is what a drill schedule starts: the compiled Plan, pinned at sync time, as a
// drill on the drill task queue.
func scheduleAction(d desiredSchedule) *client.ScheduleWorkflowAction {
	run := runs.PrepareBound(d.plan, d.inputs, runs.Request{
		Drill: true, AutoApprove: d.autoApprove, Nonce: runs.ScheduledNonce,
		Report:  workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident},
		Trigger: workflows.Trigger{Kind: "schedule", By: d.id, Reason: "scheduled drill"},
	})
	return &client.ScheduleWorkflowAction{
		// Temporal appends the scheduled time to this id, so every drill has its own.
		ID:        run.ID,
		Workflow:  workflows.Run,
		TaskQueue: workflows.DrillTaskQueue,
		Args:      []any{run.Input},
		Memo:      map[string]any{"playbook": d.plan.Name, "drill": true},
	}
}

// syncSchedules makes the server's firebreak drill schedules match want.
func syncSchedules(ctx context.Context, c client.Client, want []desiredSchedule, prune bool, out io.Writer) error {
	sc := c.ScheduleClient()
	existing := map[string]bool{}
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return fmt.Errorf("listing schedules: %w", err)
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return fmt.Errorf("listing schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, schedulePrefix) {
			existing[e.ID] = true
		}
	}
	wanted := map[string]bool{}
	for _, d := range want {
		wanted[d.id] = true
		spec := client.ScheduleSpec{CronExpressions: []string{d.cron}}
		if existing[d.id] {
			h := sc.GetHandle(ctx, d.id)
			err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec = &spec
				s.Action = scheduleAction(d)
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
			if err != nil {
				return fmt.Errorf("updating schedule %s: %w", d.id, err)
			}
			fmt.Fprintf(out, "updated %s  %s\n", d.id, d.cron)
			continue
		}
		_, err := sc.Create(ctx, client.ScheduleOptions{ID: d.id, Spec: spec, Action: scheduleAction(d), Memo: map[string]any{"playbook": d.plan.Name}})
		if err != nil {
			return fmt.Errorf("creating schedule %s (%s): %w", d.id, d.cron, err)
		}
		fmt.Fprintf(out, "created %s  %s\n", d.id, d.cron)
	}
	if prune {
		ids := make([]string, 0, len(existing))
		for id := range existing {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if wanted[id] {
				continue
			}
			if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil {
				return fmt.Errorf("deleting schedule %s: %w", id, err)
			}
			fmt.Fprintf(out, "deleted %s\n", id)
		}
	}
	return nil
}

// scheduleInfo is one firebreak drill schedule as `drill schedule list` shows it.
type scheduleInfo struct {
	ID         string      `json:"id"`
	Playbook   string      `json:"playbook"`
	Cron       []string    `json:"cron"`
	Paused     bool        `json:"paused"`
	Note       string      `json:"note,omitempty"`
	NextRuns   []time.Time `json:"next_runs,omitempty"`
	RecentRuns []string    `json:"recent_runs,omitempty"` // workflow ids of recent drills
}

func listSchedules(ctx context.Context, c client.Client) ([]scheduleInfo, error) {
	sc := c.ScheduleClient()
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	var out []scheduleInfo
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("listing schedules: %w", err)
		}
		if !strings.HasPrefix(e.ID, schedulePrefix) {
			continue
		}
		d, err := sc.GetHandle(ctx, e.ID).Describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing schedule %s: %w", e.ID, err)
		}
		si := scheduleInfo{ID: e.ID, Paused: d.Schedule.State.Paused, Note: d.Schedule.State.Note, NextRuns: d.Info.NextActionTimes}
		name := strings.TrimPrefix(e.ID, schedulePrefix)
		si.Playbook, _, _ = strings.Cut(name, "/")
		if d.Schedule.Spec != nil {
			si.Cron = d.Schedule.Spec.CronExpressions
			for _, cs := range d.Schedule.Spec.Calendars {
				si.Cron = append(si.Cron, calendarCron(cs))
			}
		}
		for _, a := range d.Info.RecentActions {
			if a.StartWorkflowResult != nil {
				si.RecentRuns = append(si.RecentRuns, a.StartWorkflowResult.WorkflowID)
			}
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func newScheduleListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List firebreak's drill schedules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			scheds, err := listSchedules(ctx, conn.Client)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"schedules": scheds})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE\tPLAYBOOK\tCRON\tSTATE\tNEXT RUN (UTC)\tRECENT DRILLS")
			for _, s := range scheds {
				state, next := "active", "-"
				if s.Paused {
					state = "paused"
				}
				if len(s.NextRuns) > 0 {
					next = s.NextRuns[0].UTC().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.Playbook, strings.Join(s.Cron, "; "), state, next, len(s.RecentRuns))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSchedulePauseCmd() *cobra.Command {
	var note string
	var resume bool
	cmd := &cobra.Command{
		Use:   "pause PLAYBOOK [--note TEXT] [--resume]",
		Short: "Pause (or with --resume, unpause) every drill schedule of a playbook",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			scheds, err := listSchedules(ctx, conn.Client)
			if err != nil {
				return err
			}
			var ids []string
			for _, s := range scheds {
				if s.Playbook == args[0] {
					ids = append(ids, s.ID)
				}
			}
			if len(ids) == 0 {
				known := []string{}
				for _, s := range scheds {
					if !slices.Contains(known, s.Playbook) {
						known = append(known, s.Playbook)
					}
				}
				return usagef("no drill schedule for playbook %q (scheduled: %s); run `firebreak drill schedule sync` first", args[0], orDash(strings.Join(known, ", ")))
			}
			if note == "" {
				note = "paused by " + currentUser() + " with firebreak drill schedule pause"
				if resume {
					note = "resumed by " + currentUser()
				}
			}
			for _, id := range ids {
				h := conn.Client.ScheduleClient().GetHandle(ctx, id)
				if resume {
					err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
				} else {
					err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
				}
				var nf *serviceerror.NotFound
				if errors.As(err, &nf) {
					return fmt.Errorf("schedule %s disappeared: %w", id, err)
				}
				if err != nil {
					return err
				}
				verb := "paused"
				if resume {
					verb = "resumed"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", verb, id)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (recorded on the schedule)")
	cmd.Flags().BoolVar(&resume, "resume", false, "unpause instead")
	return cmd
}

// drillTrend is one playbook's drill record in `drill history`.
type drillTrend struct {
	Playbook  string       `json:"playbook"`
	Drills    int          `json:"drills"`
	Failed    int          `json:"failed"`
	MedianTTC int64        `json:"median_ttc_ms"`
	LatestTTC int64        `json:"latest_ttc_ms"`
	Runs      []runSummary `json:"runs"`
}

func newDrillHistoryCmd() *cobra.Command {
	var asJSON bool
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "history [PLAYBOOK] [--since 720h] [--json]",
		Short: "Show the trend of time to contain and failures over past drills",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			prefix, playbook := "drill/", ""
			if len(args) == 1 {
				playbook = args[0]
				prefix += playbook + "/"
			}
			var from time.Time
			if since > 0 {
				from = time.Now().Add(-since)
			}
			all, err := listRuns(ctx, conn, from, prefix, playbook, true)
			if err != nil {
				return err
			}
			drills := withoutReplays(all)
			throwawayHint(cmd.ErrOrStderr(), conn, len(drills))
			trends := drillTrends(drills)
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"playbooks": trends})
			}
			printTrends(cmd.OutOrStdout(), trends)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().DurationVar(&since, "since", 0, "only drills started within this long; default all")
	return cmd
}

// drillTrends groups finished drills by playbook, oldest first.
func drillTrends(runs []runSummary) []drillTrend {
	by := map[string]*drillTrend{}
	var names []string
	sort.Slice(runs, func(i, j int) bool { return runs[i].StartedAt.Before(runs[j].StartedAt) })
	for _, r := range runs {
		if r.Status == "running" {
			continue
		}
		t := by[r.Playbook]
		if t == nil {
			t = &drillTrend{Playbook: r.Playbook}
			by[r.Playbook] = t
			names = append(names, r.Playbook)
		}
		t.Drills++
		t.Runs = append(t.Runs, r)
		if r.Result == nil || r.Result.Outcome != workflows.OutcomeContained {
			t.Failed++
		}
	}
	sort.Strings(names)
	var out []drillTrend
	for _, n := range names {
		t := by[n]
		var ttcs []int64
		for _, r := range t.Runs {
			if r.Result != nil && r.Result.Outcome == workflows.OutcomeContained {
				ttcs = append(ttcs, r.Result.TimeToContainMS)
				t.LatestTTC = r.Result.TimeToContainMS
			}
		}
		if len(ttcs) > 0 {
			s := slices.Clone(ttcs)
			slices.Sort(s)
			t.MedianTTC = s[len(s)/2]
		}
		out = append(out, *t)
	}
	return out
}

func printTrends(w io.Writer, trends []drillTrend) {
	if len(trends) == 0 {
		fmt.Fprintln(w, "no finished drills")
		return
	}
	for _, t := range trends {
		fmt.Fprintf(w, "\n%s: %d drills, %d failed; time to contain median %d ms, latest %d ms\n", t.Playbook, t.Drills, t.Failed, t.MedianTTC, t.LatestTTC)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  STARTED (UTC)\tOUTCOME\tTTC\t\tWORKFLOW ID")
		var maxTTC int64 = 1
		for _, r := range t.Runs {
			if r.Result != nil && r.Result.TimeToContainMS > maxTTC {
				maxTTC = r.Result.TimeToContainMS
			}
		}
		for _, r := range t.Runs {
			outcome, ttc, bar := r.Status, "-", ""
			if r.Result != nil {
				outcome = r.Result.Outcome
				if r.Result.Outcome == workflows.OutcomeContained {
					ttc = fmt.Sprintf("%d ms", r.Result.TimeToContainMS)
					bar = strings.Repeat("█", int(1+19*r.Result.TimeToContainMS/maxTTC))
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05"), outcome, ttc, bar, r.WorkflowID)
		}
		tw.Flush()
	}
}

// calendarCron writes a calendar spec back as the cron expression people wrote (Temporal
// stores cron strings as calendars): "minute hour day-of-month month day-of-week", with a
// leading seconds field only when it is not 0 and a trailing year only when one is set.
func calendarCron(cs client.ScheduleCalendarSpec) string {
	field := func(rs []client.ScheduleRange, lo, hi int) string {
		if len(rs) == 0 {
			return "*"
		}
		var parts []string
		for _, r := range rs {
			end, step := r.End, r.Step
			if end < r.Start {
				end = r.Start
			}
			if step <= 0 {
				step = 1
			}
			var p string
			switch {
			case r.Start == lo && end == hi:
				p = "*"
			case r.Start == end:
				p = strconv.Itoa(r.Start)
			default:
				p = fmt.Sprintf("%d-%d", r.Start, end)
			}
			if step != 1 {
				p += "/" + strconv.Itoa(step)
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, ",")
	}
	out := fmt.Sprintf("%s %s %s %s %s", field(cs.Minute, 0, 59), field(cs.Hour, 0, 23), field(cs.DayOfMonth, 1, 31), field(cs.Month, 1, 12), field(cs.DayOfWeek, 0, 6))
	if sec := field(cs.Second, 0, 59); sec != "0" && sec != "*" {
		out = sec + " " + out
	}
	if len(cs.Year) > 0 {
		out += " " + field(cs.Year, 0, 0)
	}
	return out
}

// withoutReplays leaves out the runs that replay a recorded run: they check the interpreter,
// they are not drills of the team.
func withoutReplays(all []runSummary) []runSummary {
	var out []runSummary
	for _, s := range all {
		if s.ReplayOf == "" {
			out = append(out, s)
		}
	}
	return out
}
