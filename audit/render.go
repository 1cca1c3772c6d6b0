package audit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Markdown renders an export as an incident record: a summary, the timeline, then the
// hash-chained entries and the checkpoint. It is a reading copy; the JSON export is the one
// that verifies.
func Markdown(ex *Export) string {
	var b strings.Builder
	r, err := Summarize(ex)
	if err != nil {
		fmt.Fprintf(&b, "# firebreak audit record\n\n_The record has no readable summary: %s._\n", mdCell(err.Error()))
	} else {
		fmt.Fprintf(&b, "# %s\n\n", mdCell(recordTitle(r)))
		b.WriteString("_A reading copy of firebreak's signed audit export. The JSON export is the record that verifies._\n\n## Summary\n\n| | |\n|---|---|\n")
		for _, f := range summaryFields(r) {
			fmt.Fprintf(&b, "| %s | %s |\n", f.Name, mdCell(f.Text))
		}
		if r.Result != nil && len(r.Result.Verifications)+len(r.Result.Expectations) > 0 {
			b.WriteString("\n## Verifications\n\n")
			for _, c := range append(append([]workflows.Check(nil), r.Result.Verifications...), r.Result.Expectations...) {
				fmt.Fprintf(&b, "- %s %s\n", mark(c.Passed), mdCell(checkText(c)))
			}
		}
		b.WriteString("\n## Timeline\n\nTimes are from the trigger; step durations are the run's own, as on the drill scorecard.\n\n| T+ | UTC | Who | What | Objects | Outcome | Took | Entries |\n|---:|---|---|---|---|---|---:|---|\n")
		for _, row := range r.Timeline {
			what := mdCell(row.What)
			if row.Marker {
				what = "**" + what + "**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", offset(row.Offset), clock(row.At), mdCell(row.Who), what, mdCell(strings.Join(row.Objects, "; ")), row.Outcome, row.Duration, seqs(row.Entries))
		}
		if r.Reports > 0 {
			fmt.Fprintf(&b, "\n%d progress reports to Slack and PagerDuty are among the entries below and are left out of the timeline.\n", r.Reports)
		}
	}
	b.WriteString("\n## Hash-chained entries\n\nEach entry's hash covers the one before it; the checkpoint below signs the last.\n\n| # | UTC | Who | What | Outcome | Hash |\n|---:|---|---|---|---|---|\n")
	for _, e := range ex.Entries {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | `%s` |\n", e.Seq, e.At.UTC().Format("15:04:05.000"), mdCell(cmp.Or(e.Who, "-")), mdCell(e.Summary), cmp.Or(e.Outcome, "-"), short(e.Hash))
	}
	b.WriteString("\n### Entry data\n")
	for _, e := range ex.Entries {
		fmt.Fprintf(&b, "\n#### %d. %s\n\n- event %d at %s\n- prev `%s`\n- hash `%s`\n\n```json\n%s\n```\n", e.Seq, e.Kind, e.EventID, e.At.UTC().Format(time.RFC3339Nano), cmp.Or(e.Prev, "-"), e.Hash, indent(e.Data))
	}
	c := ex.Checkpoint
	fmt.Fprintf(&b, "\n## Checkpoint\n\n- Entries sealed: %d\n- Head: `%s`\n- Signed at: %s\n- Ed25519 key id: `%s`\n- Public key: `%s`\n- Signature: `%s`\n\nVerify the JSON export offline with `firebreak audit verify FILE --key-id ID`, where ID is your organisation's audit key id as the operators published it (`firebreak audit key`) — not the id above, which only says which key signed this copy.\n",
		c.Entries, c.Head, c.SignedAt.UTC().Format(time.RFC3339), c.KeyID, c.PublicKey, c.Signature)
	return b.String()
}

// field is one line of the summary; Lines, when set, are shown one under another.
type field struct {
	Name, Text string
	Lines      []string
}

func recordTitle(r Record) string {
	kind := "Incident record"
	if r.Start.Drill {
		kind = "Drill record"
	}
	t := kind + ": " + cmp.Or(r.Start.Playbook, "-")
	if r.Subject != "" {
		t += " — " + r.Subject
	}
	return t
}

func summaryFields(r Record) []field {
	s := r.Start
	pb := s.Playbook
	if s.Title != "" {
		pb += " “" + s.Title + "”"
	}
	pb += " version " + cmp.Or(s.Version, "-") + ", sha256 " + cmp.Or(s.SourceSHA256, "-")
	kind := "incident response (production task queue " + s.TaskQueue + ")"
	if s.Drill {
		kind = "drill against the sandbox (task queue " + s.TaskQueue + ")"
	}
	trig := s.Trigger
	trigger := r.Requester
	if !trig.At.IsZero() {
		trigger += ", at " + trig.At.UTC().Format("2006-01-02 15:04:05.000 UTC")
	}
	if trig.Reason != "" {
		trigger += " — “" + trig.Reason + "”"
	}
	fs := []field{
		{Name: "Playbook", Text: pb},
		{Name: "Kind", Text: kind},
		{Name: "Trigger", Text: trigger},
		{Name: "Subject", Text: cmp.Or(r.Subject, "-")},
		{Name: "Requester", Text: r.Requester},
	}
	var approvers []string
	for _, a := range r.Approvals {
		line := fmt.Sprintf("%s — %s on %s", a.Approver, a.Decision, a.Step)
		if len(a.Roles) > 0 {
			line += " as " + strings.Join(a.Roles, ", ")
		}
		line += fmt.Sprintf(", after %s; %s", workflows.Millis(a.Response), a.Signed)
		approvers = append(approvers, line)
	}
	if len(approvers) == 0 {
		approvers = []string{"none: no step needed a decision"}
	}
	fs = append(fs, field{Name: "Approvers", Text: strings.Join(approvers, "; "), Lines: approvers})
	if len(s.InjectedFaults) > 0 {
		fs = append(fs, field{Name: "Faults injected on purpose", Text: strings.Join(s.InjectedFaults, ", ")})
	}
	outcome := "still running"
	if r.End != nil {
		outcome = r.End.Status
		if r.End.Outcome != "" && r.End.Outcome != r.End.Status {
			outcome = r.End.Outcome + " (run " + r.End.Status + ")"
		}
		if r.End.Failure != "" {
			outcome += " — " + r.End.Failure
		}
		if r.Result != nil && len(r.Result.RemediationPending) > 0 {
			outcome += fmt.Sprintf("; remediation pending: %d secret(s) left for their owners to rotate", len(r.Result.RemediationPending))
		}
	}
	fs = append(fs, field{Name: "Outcome", Text: outcome})
	t := r.Times
	if t.FirstCutStep != "" {
		fs = append(fs, field{Name: "Time to first cut", Text: workflows.Millis(t.ToFirstCut) + " (trigger → " + t.FirstCutStep + ")"})
	}
	if t.ToContain > 0 {
		fs = append(fs, field{Name: "Time to contain", Text: workflows.Millis(t.ToContain) + " (trigger → the subject's access cut)"})
	} else if r.End != nil {
		fs = append(fs, field{Name: "Time to contain", Text: "not contained"})
	}
	if t.ToRemediate > 0 {
		fs = append(fs, field{Name: "Time to remediate", Text: workflows.Millis(t.ToRemediate) + " (trigger → every containment step, gated irreversible ones included)"})
	}
	if t.Total > 0 {
		fs = append(fs, field{Name: "Duration", Text: workflows.Millis(t.Total) + " (trigger → end of run)"})
	}
	if r.Result != nil {
		checks := append(append([]workflows.Check(nil), r.Result.Verifications...), r.Result.Expectations...)
		passed := 0
		for _, c := range checks {
			if c.Passed {
				passed++
			}
		}
		v := fmt.Sprintf("%d of %d passed", passed, len(checks))
		if len(checks) == 0 {
			v = "none recorded"
		}
		fs = append(fs, field{Name: "Verifications", Text: v})
		if len(r.Result.RemediationPending) > 0 {
			var l []string
			for _, p := range r.Result.RemediationPending {
				l = append(l, fmt.Sprintf("%s/%s (owner %s)", p.Mount, p.Path, cmp.Or(p.Owner, "-")))
			}
			fs = append(fs, field{Name: "Left for people to rotate", Text: strings.Join(l, ", ")})
		}
	}
	fs = append(fs, field{Name: "Run", Text: s.WorkflowID + " (run id " + cmp.Or(s.RunID, "-") + ")"})
	return fs
}

func checkText(c workflows.Check) string {
	s := c.Name
	if c.Step != "" {
		s = c.Step + ": " + s
	}
	if c.Detail != "" {
		s += " — " + c.Detail
	}
	return s
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func offset(d time.Duration) string {
	if d < 0 {
		return "−" + workflows.Millis(-d)
	}
	return "+" + workflows.Millis(d)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

func seqs(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func mdCell(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }

func indent(raw []byte) string {
	var out bytes.Buffer
	if len(raw) == 0 {
		return "null"
	}
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw)
	}
	return out.String()
}

// HTML renders an export as one self-contained page (no scripts, no external resources) that
// reads as an incident record on screen and on paper.
func HTML(ex *Export) ([]byte, error) {
	var b bytes.Buffer
	r, err := Summarize(ex)
	data := map[string]any{"Ex": ex, "Err": err, "R": r, "Title": "firebreak audit record"}
	if err == nil {
		data["Title"] = recordTitle(r)
		data["Fields"] = summaryFields(r)
		if r.Result != nil {
			data["Checks"] = append(append([]workflows.Check(nil), r.Result.Verifications...), r.Result.Expectations...)
		}
	}
	err = htmlPage.Execute(&b, data)
	return b.Bytes(), err
}

const css = `
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;max-width:72rem;margin:2rem auto;padding:0 1.2rem}
h1{font-size:1.6rem;margin:0 0 .2rem}
.sub{color:#555;margin:0 0 1.2rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d0d0d0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}
tr{page-break-inside:avoid}
table.summary th{width:13rem;background:#f7f7f7}
td.n,th.n{text-align:right;white-space:nowrap}
.nowrap{white-space:nowrap}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:.85em}
td.obj{font-size:.85em;color:#333}
td.obj span{display:block}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.4rem;margin:.3rem 0;white-space:pre-wrap;word-break:break-all}
tr.marker td{background:#eef6ee;font-weight:600}
.ok .m{color:#06612a;font-weight:700}.bad,.bad .m{color:#a00;font-weight:700}
td.obj{min-width:15rem}td.who{max-width:11rem}
.succeeded,.approve,.contained,.completed{color:#06612a}
.failed,.deny,.refused,.timeout{color:#a00;font-weight:600}
.skipped{color:#777}
details summary{cursor:pointer;color:#444}
.hash{color:#555}
ul.checks{padding-left:1.2rem}ul.checks li{margin:.15rem 0}
@media print{body{margin:0;max-width:none;font-size:9.5pt}details{display:none}h2{page-break-before:auto}}
`

var htmlPage = template.Must(template.New("audit").Funcs(template.FuncMap{
	"css":    func() template.CSS { return template.CSS(css) },
	"time":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") },
	"clock":  clock,
	"offset": offset,
	"json":   func(raw []byte) string { return indent(raw) },
	"short":  short,
	"seqs":   seqs,
	"mark":   mark,
	"check":  checkText,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title><style>{{css}}</style></head><body>
<h1>{{.Title}}</h1>
<p class="sub">A reading copy of firebreak's signed audit export. The JSON export is the record that verifies.</p>
{{if .Err}}<p class="bad">The record has no readable summary: {{.Err}}</p>{{else}}
<h2>Summary</h2>
<table class="summary">{{range .Fields}}<tr><th>{{.Name}}</th><td>{{if .Lines}}{{range .Lines}}<div>{{.}}</div>{{end}}{{else}}{{.Text}}{{end}}</td></tr>{{end}}</table>
{{with .Checks}}<h2>Verifications</h2><ul class="checks">{{range .}}<li class="{{if .Passed}}ok{{else}}bad{{end}}"><span class="m">{{mark .Passed}}</span> {{check .}}</li>{{end}}</ul>{{end}}
<h2>Timeline</h2>
<p>Times are from the trigger; step durations are the run's own, as on the drill scorecard.</p>
<table><tr><th class="n">T+</th><th>UTC</th><th>Who</th><th>What</th><th>Objects</th><th>Outcome</th><th class="n">Took</th><th>Entries</th></tr>
{{range .R.Timeline}}<tr{{if .Marker}} class="marker"{{end}}><td class="n">{{offset .Offset}}</td><td class="nowrap">{{clock .At}}</td><td class="who">{{.Who}}</td><td>{{.What}}</td><td class="obj">{{range .Objects}}<span>{{.}}</span>{{end}}</td><td class="{{.Outcome}}">{{.Outcome}}</td><td class="n">{{.Duration}}</td><td>{{seqs .Entries}}</td></tr>
{{end}}</table>
{{if .R.Reports}}<p>{{.R.Reports}} progress reports to Slack and PagerDuty are among the entries below and are left out of the timeline.</p>{{end}}
{{end}}
<h2>Hash-chained entries</h2>
<p>Each entry's hash covers the one before it; the checkpoint below signs the last. Open an entry's data to see exactly what was recorded.</p>
<table><tr><th class="n">#</th><th>UTC</th><th>Who</th><th>What</th><th>Outcome</th><th>Hash</th></tr>
{{range .Ex.Entries}}<tr><td class="n">{{.Seq}}</td><td class="nowrap">{{clock .At}}</td><td>{{or .Who "-"}}</td><td>{{.Summary}}{{if .Data}}<details><summary>data</summary><pre>{{json .Data}}</pre></details>{{end}}</td><td class="{{.Outcome}}">{{or .Outcome "-"}}</td><td><code class="hash">{{short .Hash}}</code></td></tr>
{{end}}</table>
<h2>Checkpoint</h2>
<table class="summary">
<tr><th>Entries sealed</th><td>{{.Ex.Checkpoint.Entries}}</td></tr>
<tr><th>Head</th><td><code>{{.Ex.Checkpoint.Head}}</code></td></tr>
<tr><th>Signed at</th><td>{{time .Ex.Checkpoint.SignedAt}} UTC</td></tr>
<tr><th>Ed25519 key id</th><td><code>{{.Ex.Checkpoint.KeyID}}</code></td></tr>
<tr><th>Public key</th><td><code>{{.Ex.Checkpoint.PublicKey}}</code></td></tr>
<tr><th>Signature</th><td><code>{{.Ex.Checkpoint.Signature}}</code></td></tr>
</table>
<p>Verify the JSON export offline: <code>firebreak audit verify FILE --key-id ID</code>, with ID your organisation's audit key id as the operators published it (<code>firebreak audit key</code>), not read from this page.</p>
</body></html>
`))
