package audit

import (
	"cmp"
	"slices"
	"sort"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// PlaybookMetrics are a playbook's detection and containment times over past runs.
type PlaybookMetrics struct {
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

// Metrics groups finished runs by playbook (drills apart from incidents): MTTD, MTTR and the
// spread of time to contain.
func Metrics(summaries []runs.Summary) []PlaybookMetrics {
	type key struct {
		playbook string
		drill    bool
	}
	acc := map[key]*PlaybookMetrics{}
	ttcs := map[key][]int64{}
	var detect = map[key][]int64{}
	for _, r := range summaries {
		if r.Result == nil || r.Result.Outcome == workflows.OutcomeRunning {
			continue
		}
		res := r.Result
		k := key{cmp.Or(r.Playbook, "-"), res.Drill}
		m := acc[k]
		if m == nil {
			m = &PlaybookMetrics{Playbook: k.playbook, Drills: k.drill}
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
	var out []PlaybookMetrics
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
