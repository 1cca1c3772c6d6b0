package drills

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Trend is one playbook's drill record in `drill history`.
type Trend struct {
	Playbook  string         `json:"playbook"`
	Drills    int            `json:"drills"`
	Failed    int            `json:"failed"`
	MedianTTC int64          `json:"median_ttc_ms"`
	LatestTTC int64          `json:"latest_ttc_ms"`
	Runs      []runs.Summary `json:"runs"`
}

// Trends groups finished drills by playbook, oldest first.
func Trends(summaries []runs.Summary) []Trend {
	by := map[string]*Trend{}
	var names []string
	sort.Slice(summaries, func(i, j int) bool { return summaries[i].StartedAt.Before(summaries[j].StartedAt) })
	for _, r := range summaries {
		if r.Status == "running" {
			continue
		}
		t := by[r.Playbook]
		if t == nil {
			t = &Trend{Playbook: r.Playbook}
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
	var out []Trend
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

// PrintTrends writes drill trends for a person reading a terminal, with a bar per drill.
func PrintTrends(w io.Writer, trends []Trend) {
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

// WithoutReplays leaves out the runs that replay a recorded run: they check the interpreter,
// they are not drills of the team.
func WithoutReplays(all []runs.Summary) []runs.Summary {
	var out []runs.Summary
	for _, s := range all {
		if s.ReplayOf == "" {
			out = append(out, s)
		}
	}
	return out
}
