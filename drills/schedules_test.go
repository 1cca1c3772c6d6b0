package drills

import (
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestCalendarCron: a schedule's calendar is shown as the cron people wrote, not a Go struct.
func TestCalendarCron(t *testing.T) {
	all := func(lo, hi, step int) []client.ScheduleRange {
		return []client.ScheduleRange{{Start: lo, End: hi, Step: step}}
	}
	one := func(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v}} }
	for _, tc := range []struct {
		cs   client.ScheduleCalendarSpec
		want string
	}{
		{client.ScheduleCalendarSpec{Second: one(0), Minute: one(30), Hour: one(4), DayOfMonth: all(1, 31, 1), Month: all(1, 12, 1), DayOfWeek: all(0, 6, 1)}, "30 4 * * *"},
		{client.ScheduleCalendarSpec{Minute: one(0), Hour: one(9), DayOfMonth: one(1), Month: all(1, 12, 3), DayOfWeek: all(0, 6, 1)}, "0 9 1 */3 *"},
		{client.ScheduleCalendarSpec{Minute: one(30), Hour: one(9), DayOfWeek: []client.ScheduleRange{{Start: 1, End: 5}}}, "30 9 * * 1-5"},
	} {
		if got := CalendarCron(tc.cs); got != tc.want {
			t.Errorf("CalendarCron(%+v) = %q, want %q", tc.cs, got, tc.want)
		}
	}
}

// TestScheduleAutoApprove: a scheduled drill is a tabletop unless synced with --auto-approve.
func TestScheduleAutoApprove(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	for _, auto := range []bool{false, true} {
		d, err := Desired(lib, "lost-mfa-device", 0, "0 10 * * 3", map[string]string{"subject": "bob"})
		if err != nil {
			t.Fatal(err)
		}
		d.AutoApprove = auto
		in, ok := ScheduleAction(d).Args[0].(workflows.RunInput)
		if !ok || !in.Drill || in.AutoApprove != auto {
			t.Errorf("--auto-approve=%v: scheduled input drill=%v auto_approve=%v", auto, in.Drill, in.AutoApprove)
		}
	}
}
