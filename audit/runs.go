package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/firebreak-dev/firebreak/runs"
)

// Read builds the export of run runID of workflowID (its latest run when runID is empty) from
// its history, which rc decrypts; where names the Temporal server in errors.
func Read(ctx context.Context, rc *runs.Client, where, workflowID, runID string, opts Options) (*Export, error) {
	if runID == "" {
		latest, err := rc.LatestRun(ctx, workflowID)
		if err != nil {
			return nil, fmt.Errorf("no run %q on Temporal at %s: %w", workflowID, where, err)
		}
		runID = latest
	}
	events, err := rc.History(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	return BuildWith(workflowID, runID, events, nil, opts)
}

// ListRuns lists the interpreter runs f selects, newest first, each with its playbook (from
// its memo, or else its history) and, withResults, its result; a playbook other than "" keeps
// only that playbook's runs.
func ListRuns(ctx context.Context, rc *runs.Client, f runs.Filter, playbook string, withResults bool) ([]runs.Summary, error) {
	all, err := rc.List(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []runs.Summary
	for _, s := range all {
		if s.Playbook == "" || withResults {
			events, err := rc.History(ctx, s.WorkflowID, s.RunID)
			if err == nil {
				if ex, err := Build(s.WorkflowID, s.RunID, events, nil); err == nil {
					var rs RunStarted
					_ = json.Unmarshal(ex.Entries[0].Data, &rs)
					s.Playbook = rs.Playbook
					last := ex.Entries[len(ex.Entries)-1]
					var end RunEnded
					if last.Kind == KindRunEnded && json.Unmarshal(last.Data, &end) == nil {
						s.Result = end.Result
					}
				}
			}
		}
		if playbook != "" && s.Playbook != playbook {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// WriteRuns writes runs as a table for an auditor's sampling.
func WriteRuns(w io.Writer, list []runs.Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tPLAYBOOK\tSTATUS\tWORKFLOW ID\tRUN ID")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05"), cmp.Or(r.Playbook, "-"), r.Status, r.WorkflowID, r.RunID)
	}
	return tw.Flush()
}

// WriteMetrics writes per-playbook MTTD and MTTR as a table.
func WriteMetrics(w io.Writer, ms []PlaybookMetrics) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAYBOOK\tKIND\tRUNS\tCONTAINED\tFAILED\tMTTD\tMTTR\tMEDIAN TTC\tWORST TTC")
	for _, m := range ms {
		kind := "incidents"
		if m.Drills {
			kind = "drills"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", m.Playbook, kind, m.Runs, m.Contained, m.Failed, FormatMillis(m.MTTDMS), FormatMillis(m.MTTRMS), FormatMillis(m.MedianTTCMS), FormatMillis(m.MaxTTCMS))
	}
	return tw.Flush()
}

// Render is ex in format: json (the verifiable export), markdown or html (reading copies).
func Render(ex *Export, format string) ([]byte, error) {
	switch format {
	case "json":
		return ex.Encode()
	case "markdown":
		return []byte(Markdown(ex)), nil
	case "html":
		return HTML(ex)
	}
	return nil, fmt.Errorf("--format: expected json, markdown or html, found %q", format)
}
