package drills

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// SchedulePrefix starts the id of every Temporal Schedule firebreak manages.
const SchedulePrefix = "firebreak-drill-schedule/"

// ScheduleID names the n-th schedule of a playbook.
func ScheduleID(playbook string, n int) string {
	if n == 0 {
		return SchedulePrefix + playbook
	}
	return fmt.Sprintf("%s%s/%d", SchedulePrefix, playbook, n)
}

// DesiredSchedule is one schedule a playbook asks for.
type DesiredSchedule struct {
	ID     string
	Cron   string
	Plan   *playbooks.Plan
	Inputs map[string]any
	// AutoApprove makes the scheduled drill unattended; without it a scheduled drill is a
	// tabletop whose approvals and manual steps wait for people in the drill channel.
	AutoApprove bool
}

// Desired is the n-th schedule of playbook name in lib with cron and raw inputs (a playbook's
// drill inputs, with subject defaulted). Its errors are the caller's usage errors.
func Desired(lib *playbooks.Library, name string, n int, cron string, raw map[string]string) (DesiredSchedule, error) {
	p, err := lib.Get(name)
	if err != nil {
		return DesiredSchedule{}, err
	}
	if len(strings.Fields(cron)) != 5 && !strings.HasPrefix(cron, "@") {
		return DesiredSchedule{}, fmt.Errorf("playbook %s: cron %q: expected five fields (minute hour day month weekday) or a @descriptor", name, cron)
	}
	bound, err := p.BindInputs(runs.DrillInputs(p, raw, nil))
	if err != nil {
		return DesiredSchedule{}, fmt.Errorf("playbook %s: %w", name, err)
	}
	return DesiredSchedule{ID: ScheduleID(name, n), Cron: cron, Plan: p, Inputs: bound}, nil
}

// ScheduleAction is what a drill schedule starts: the compiled Plan, pinned at sync time, as a
// drill on the drill task queue.
func ScheduleAction(d DesiredSchedule) *client.ScheduleWorkflowAction {
	run := runs.PrepareBound(d.Plan, d.Inputs, runs.Request{
		Drill: true, AutoApprove: d.AutoApprove, Nonce: runs.ScheduledNonce,
		Report:  workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident},
		Trigger: workflows.Trigger{Kind: "schedule", By: d.ID, Reason: "scheduled drill"},
	})
	return &client.ScheduleWorkflowAction{
		// Temporal appends the scheduled time to this id, so every drill has its own.
		ID:        run.ID,
		Workflow:  workflows.Run,
		TaskQueue: workflows.DrillTaskQueue,
		Args:      []any{run.Input},
		Memo:      map[string]any{"playbook": d.Plan.Name, "drill": true},
	}
}

// SyncSchedules makes the server's firebreak drill schedules match want.
func SyncSchedules(ctx context.Context, c client.Client, want []DesiredSchedule, prune bool, out io.Writer) error {
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
		if strings.HasPrefix(e.ID, SchedulePrefix) {
			existing[e.ID] = true
		}
	}
	wanted := map[string]bool{}
	for _, d := range want {
		wanted[d.ID] = true
		spec := client.ScheduleSpec{CronExpressions: []string{d.Cron}}
		if existing[d.ID] {
			h := sc.GetHandle(ctx, d.ID)
			err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec = &spec
				s.Action = ScheduleAction(d)
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
			if err != nil {
				return fmt.Errorf("updating schedule %s: %w", d.ID, err)
			}
			fmt.Fprintf(out, "updated %s  %s\n", d.ID, d.Cron)
			continue
		}
		_, err := sc.Create(ctx, client.ScheduleOptions{ID: d.ID, Spec: spec, Action: ScheduleAction(d), Memo: map[string]any{"playbook": d.Plan.Name}})
		if err != nil {
			return fmt.Errorf("creating schedule %s (%s): %w", d.ID, d.Cron, err)
		}
		fmt.Fprintf(out, "created %s  %s\n", d.ID, d.Cron)
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

// ScheduleInfo is one firebreak drill schedule as `drill schedule list` shows it.
type ScheduleInfo struct {
	ID         string      `json:"id"`
	Playbook   string      `json:"playbook"`
	Cron       []string    `json:"cron"`
	Paused     bool        `json:"paused"`
	Note       string      `json:"note,omitempty"`
	NextRuns   []time.Time `json:"next_runs,omitempty"`
	RecentRuns []string    `json:"recent_runs,omitempty"` // workflow ids of recent drills
}

// ListSchedules lists firebreak's drill schedules, by id.
func ListSchedules(ctx context.Context, c client.Client) ([]ScheduleInfo, error) {
	sc := c.ScheduleClient()
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	var out []ScheduleInfo
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("listing schedules: %w", err)
		}
		if !strings.HasPrefix(e.ID, SchedulePrefix) {
			continue
		}
		d, err := sc.GetHandle(ctx, e.ID).Describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing schedule %s: %w", e.ID, err)
		}
		si := ScheduleInfo{ID: e.ID, Paused: d.Schedule.State.Paused, Note: d.Schedule.State.Note, NextRuns: d.Info.NextActionTimes}
		name := strings.TrimPrefix(e.ID, SchedulePrefix)
		si.Playbook, _, _ = strings.Cut(name, "/")
		if d.Schedule.Spec != nil {
			si.Cron = d.Schedule.Spec.CronExpressions
			for _, cs := range d.Schedule.Spec.Calendars {
				si.Cron = append(si.Cron, CalendarCron(cs))
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

// CalendarCron writes a calendar spec back as the cron expression people wrote (Temporal
// stores cron strings as calendars): "minute hour day-of-month month day-of-week", with a
// leading seconds field only when it is not 0 and a trailing year only when one is set.
func CalendarCron(cs client.ScheduleCalendarSpec) string {
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
