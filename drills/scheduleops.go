package drills

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// DesiredSchedules are the schedules the playbooks names ask for (every playbook of lib when
// names is empty): each entry of their triggers.schedule; with cron, the one playbook named,
// on cron with raw inputs. autoApprove marks them unattended. Every error is the caller's.
func DesiredSchedules(lib *playbooks.Library, names []string, cron string, raw map[string]string, autoApprove bool) ([]DesiredSchedule, error) {
	var want []DesiredSchedule
	if cron != "" {
		if len(names) != 1 {
			return nil, fmt.Errorf("--cron schedules one playbook: give exactly one name, found %d", len(names))
		}
		d, err := Desired(lib, names[0], 0, cron, raw)
		if err != nil {
			return nil, err
		}
		want = append(want, d)
	} else {
		if len(names) == 0 {
			names = lib.Names()
		}
		for _, n := range names {
			p, err := lib.Get(n)
			if err != nil {
				return nil, err
			}
			for i, s := range p.Triggers.Schedule {
				d, err := Desired(lib, n, i, s.Cron, s.Inputs)
				if err != nil {
					return nil, err
				}
				want = append(want, d)
			}
		}
	}
	for i := range want {
		want[i].AutoApprove = autoApprove
	}
	return want, nil
}

// WriteSchedules writes schedules as a table.
func WriteSchedules(w io.Writer, scheds []ScheduleInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
}

// ErrNoSchedule is wrapped by PauseSchedules' error when the playbook has no drill schedule.
var ErrNoSchedule = errors.New("no drill schedule")

// PauseSchedules pauses (with resume, unpauses) every drill schedule of playbook with note,
// and tells out of each.
func PauseSchedules(ctx context.Context, c client.Client, playbook, note string, resume bool, out io.Writer) error {
	scheds, err := ListSchedules(ctx, c)
	if err != nil {
		return err
	}
	var ids, known []string
	for _, s := range scheds {
		if s.Playbook == playbook {
			ids = append(ids, s.ID)
		}
		if !slices.Contains(known, s.Playbook) {
			known = append(known, s.Playbook)
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w for playbook %q (scheduled: %s); run `firebreak drill schedule sync` first", ErrNoSchedule, playbook, cmp.Or(strings.Join(known, ", "), "-"))
	}
	verb := "paused"
	if resume {
		verb = "resumed"
	}
	for _, id := range ids {
		h := c.ScheduleClient().GetHandle(ctx, id)
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
		fmt.Fprintf(out, "%s %s\n", verb, id)
	}
	return nil
}
