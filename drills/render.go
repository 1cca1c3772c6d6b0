package drills

import (
	"cmp"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// PrintScorecard writes a scorecard for a person reading a terminal.
func PrintScorecard(w io.Writer, c Scorecard) {
	verdict := Verdict(c)
	kind := "RUN"
	if c.Drill {
		kind = "DRILL"
	}
	fmt.Fprintf(w, "\n%s %s — %s  subject=%s\n", kind, c.Playbook, verdict, cmp.Or(c.Subject, "-"))
	fmt.Fprintf(w, "  run %s\n\n", c.WorkflowID)
	idw, actw := 24, 26 // column widths: the longest id and action, at least these
	for _, s := range c.Steps {
		idw, actw = max(idw, len(s.ID)), max(actw, len(s.Action))
	}
	fmt.Fprintf(w, "  %-4s %-*s %-*s %9s\n", "", idw, "STEP", actw, "ACTION", "DURATION")
	for _, s := range c.Steps {
		dur := "-"
		if s.Status == workflows.StatusSucceeded || s.Status == workflows.StatusFailed {
			dur = fmt.Sprintf("%d ms", s.DurationMS)
		}
		fmt.Fprintf(w, "  %-4s %-*s %-*s %9s", statusMark(s.Status), idw, s.ID, actw, s.Action, dur)
		switch s.Status {
		case workflows.StatusFailed:
			fmt.Fprintf(w, "  %s", s.Error)
		case workflows.StatusSkipped:
			fmt.Fprintf(w, "  skipped: %s", s.SkipReason)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if tt := c.Times(); c.TimeToContainMS > 0 || c.Outcome == workflows.OutcomeContained {
		if tt.FirstCutStep != "" {
			fmt.Fprintf(w, "  Time to first cut: %s (trigger → %s)\n", workflows.Millis(tt.ToFirstCut), tt.FirstCutStep)
		}
		fmt.Fprintf(w, "  Time to contain: %s (trigger → the subject's access cut)\n", workflows.Millis(tt.ToContain))
		if c.TimeToRemediateMS > 0 {
			fmt.Fprintf(w, "  Time to remediate: %s (trigger → every containment step, gated irreversible ones included)\n", workflows.Millis(tt.ToRemediate))
		}
	} else {
		fmt.Fprintf(w, "  Time to contain: not contained\n")
	}
	if len(c.Verifications) > 0 {
		fmt.Fprintln(w, "  Verifications:")
		for _, v := range c.Verifications {
			fmt.Fprintf(w, "    %s %s: %s %s\n", checkMark(v.Passed), v.Step, v.Name, detail(v.Detail))
		}
	}
	if len(c.Expectations) > 0 {
		fmt.Fprintln(w, "  Expectations:")
		for _, e := range c.Expectations {
			fmt.Fprintf(w, "    %s %s %s\n", checkMark(e.Passed), e.Name, detail(e.Detail))
		}
	}
	if rl := rotationLines(c); len(rl) > 0 {
		fmt.Fprintln(w, "  Shared secrets:")
		for _, l := range rl {
			fmt.Fprintf(w, "    %s\n", l)
		}
		for _, uc := range c.UpstreamChecks {
			fmt.Fprintf(w, "    %s %s %s\n", checkMark(uc.Passed), uc.Name, detail(uc.Detail))
		}
	}
	fmt.Fprintln(w, "  Secrets leaked:")
	for _, lc := range c.LeakChecks {
		fmt.Fprintf(w, "    %s %d canary hits in %d %s\n", checkMark(lc.Leaks == 0), lc.Leaks, lc.Scanned, lc.Artefact)
	}
	if rs := responses(c); len(rs) > 0 {
		fmt.Fprintln(w, "  Responses (approvals, manual steps, escalations):")
		for _, l := range rs {
			fmt.Fprintf(w, "    - %s\n", l)
		}
	}
	if len(c.Faults) > 0 {
		fmt.Fprintln(w, "  Faults injected:")
		for _, f := range c.Faults {
			fmt.Fprintf(w, "    - %s\n", faultSummary(f))
		}
	}
	if len(c.Retries) > 0 {
		fmt.Fprintln(w, "  Retried activities:")
		for _, a := range c.Retries {
			fmt.Fprintf(w, "    - %s: %d attempts %s\n", a.Activity, a.Attempts, detail(firstLine(a.LastFailure)))
		}
	}
	if len(c.ReportErrors) > 0 {
		fmt.Fprintln(w, "  Reporting delays/errors (containment was not held up):")
		for _, e := range c.ReportErrors {
			fmt.Fprintf(w, "    - %s\n", e)
		}
	}
	if c.Error != "" {
		fmt.Fprintf(w, "  Why: %s\n", c.Error)
	}
	if c.FailureCause != "" {
		fmt.Fprintf(w, "  Failure: %s\n", c.FailureCause)
	}
	fmt.Fprintf(w, "  Result: %s in %s\n", verdict, c.Elapsed.Round(time.Millisecond))
}

func statusMark(s string) string {
	switch s {
	case workflows.StatusSucceeded:
		return "ok"
	case workflows.StatusFailed:
		return "FAIL"
	case workflows.StatusSkipped:
		return "skip"
	}
	return s
}

func checkMark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func detail(s string) string {
	if s == "" {
		return ""
	}
	return "— " + s
}

// faultSummary says in one line what an injected fault did and the delay it caused.
func faultSummary(f testenv.FaultReport) string {
	switch {
	case f.Service == "worker" && !f.RecoveredAt.IsZero():
		return fmt.Sprintf("%s: worker stopped after the evidence snapshot, restarted after %d ms; run resumed %d ms after the crash", f.Fault, f.ClearedAt.Sub(f.InjectedAt).Milliseconds(), f.DelayMS)
	case f.Service == "worker":
		return fmt.Sprintf("%s: the run did not resume after the crash", f.Fault)
	case strings.HasPrefix(f.Fault, testenv.FaultLatency+"="):
		return fmt.Sprintf("%s: %d sandbox calls answered that much later, %d ms added in all", f.Fault, f.Hits, f.DelayMS)
	case strings.HasPrefix(f.Fault, testenv.FaultBystanders+"="):
		return fmt.Sprintf("%s: the sandbox Vault held that many more live tokens", f.Fault)
	case f.Hits == 0:
		return fmt.Sprintf("%s: no %s request was affected", f.Fault, f.Service)
	case strings.HasPrefix(f.Fault, testenv.FaultVaultSlow):
		return fmt.Sprintf("%s: %d vault requests slowed, %d ms added in all", f.Fault, f.Hits, f.DelayMS)
	case f.RecoveredAt.IsZero():
		return fmt.Sprintf("%s: %d %s requests failed; no later request succeeded", f.Fault, f.Hits, f.Service)
	}
	return fmt.Sprintf("%s: %d %s requests failed; the run got through %d ms after the first failure", f.Fault, f.Hits, f.Service, f.DelayMS)
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// Markdown renders drill scorecards as a Markdown document.
func Markdown(cards []Scorecard) string {
	var b strings.Builder
	b.WriteString("# Drill scorecards\n")
	for _, c := range cards {
		fmt.Fprintf(&b, "\n## %s — %s\n\n", c.Playbook, Verdict(c))
		fmt.Fprintf(&b, "- Subject: `%s`\n- Run: `%s` (run id `%s`)\n- Playbook sha256: `%s`\n", cmp.Or(c.Subject, "-"), c.WorkflowID, c.RunID, cmp.Or(c.PlaybookSHA256, "-"))
		if tt := c.Times(); c.Outcome == workflows.OutcomeContained {
			if tt.FirstCutStep != "" {
				fmt.Fprintf(&b, "- Time to first cut: %s (trigger → %s)\n", workflows.Millis(tt.ToFirstCut), tt.FirstCutStep)
			}
			fmt.Fprintf(&b, "- Time to contain: **%s** (trigger → the subject's access cut)\n", workflows.Millis(tt.ToContain))
			if c.TimeToRemediateMS > 0 {
				fmt.Fprintf(&b, "- Time to remediate: %s (trigger → every containment step, gated irreversible ones included)\n", workflows.Millis(tt.ToRemediate))
			}
		} else {
			b.WriteString("- Time to contain: **not contained**\n")
		}
		fmt.Fprintf(&b, "- Elapsed: %s\n\n", c.Elapsed.Round(time.Millisecond))
		b.WriteString("| | Step | Action | Duration | Note |\n|---|---|---|---:|---|\n")
		for _, s := range c.Steps {
			note := s.Error
			if s.Status == workflows.StatusSkipped {
				note = "skipped: " + s.SkipReason
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %d ms | %s |\n", statusMark(s.Status), mdCell(s.ID), s.Action, s.DurationMS, mdCell(note))
		}
		section := func(title string, checks []workflows.Check) {
			if len(checks) == 0 {
				return
			}
			fmt.Fprintf(&b, "\n### %s\n\n", title)
			for _, v := range checks {
				name := v.Name
				if v.Step != "" {
					name = v.Step + ": " + name
				}
				fmt.Fprintf(&b, "- %s %s %s\n", checkMark(v.Passed), mdCell(name), mdCell(detail(v.Detail)))
			}
		}
		section("Verifications", c.Verifications)
		section("Expectations", c.Expectations)
		if rl := rotationLines(c); len(rl) > 0 {
			b.WriteString("\n### Shared secrets\n\n")
			for _, l := range rl {
				fmt.Fprintf(&b, "- %s\n", mdCell(l))
			}
			for _, uc := range c.UpstreamChecks {
				fmt.Fprintf(&b, "- %s %s %s\n", checkMark(uc.Passed), mdCell(uc.Name), mdCell(detail(uc.Detail)))
			}
		}
		b.WriteString("\n### Secrets leaked\n\n")
		for _, lc := range c.LeakChecks {
			fmt.Fprintf(&b, "- %s %d canary hits in %d %s\n", checkMark(lc.Leaks == 0), lc.Leaks, lc.Scanned, lc.Artefact)
		}
		if rs := responses(c); len(rs) > 0 {
			b.WriteString("\n### Responses\n\n")
			for _, l := range rs {
				fmt.Fprintf(&b, "- %s\n", mdCell(l))
			}
		}
		if len(c.Faults) > 0 {
			b.WriteString("\n### Faults injected\n\n")
			for _, f := range c.Faults {
				fmt.Fprintf(&b, "- %s\n", mdCell(faultSummary(f)))
			}
		}
		if len(c.Retries) > 0 {
			b.WriteString("\n### Retried activities\n\n")
			for _, a := range c.Retries {
				fmt.Fprintf(&b, "- `%s`: %d attempts %s\n", a.Activity, a.Attempts, mdCell(detail(firstLine(a.LastFailure))))
			}
		}
		if len(c.ReportErrors) > 0 {
			b.WriteString("\n### Reporting delays (containment was not held up)\n\n")
			for _, e := range c.ReportErrors {
				fmt.Fprintf(&b, "- %s\n", mdCell(e))
			}
		}
		if c.FailureCause != "" {
			fmt.Fprintf(&b, "\n**Failure:** %s\n", mdCell(c.FailureCause))
		}
	}
	return b.String()
}

// printCSS styles firebreak's HTML documents for the screen and for paper.
const printCSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;max-width:62rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;border-bottom:2px solid #111;padding-bottom:.3rem}
h2{font-size:1.2rem;margin-top:2rem;page-break-after:avoid}
h3{font-size:1rem;margin:1.2rem 0 .4rem;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#eee}
tr{page-break-inside:avoid}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:.85em;word-break:break-all}
.pass{color:#06612a;font-weight:600}.fail{color:#a00;font-weight:700}
li.pass{color:inherit;font-weight:normal}li.fail{font-weight:600}
.meta td:first-child{width:12rem;font-weight:600}
section.card{page-break-inside:auto}
@media print{body{margin:0;max-width:none;font-size:11pt}a{color:inherit;text-decoration:none}h2{page-break-before:auto}}
`

// HTML renders drill scorecards as one self-contained page, printable.
func HTML(w io.Writer, cards []Scorecard) error { return scorecardHTML.Execute(w, cards) }

var scorecardHTML = htmltemplate.Must(htmltemplate.New("scorecards").Funcs(htmltemplate.FuncMap{
	"verdict": Verdict, "rotations": rotationLines, "mark": statusMark, "firstLine": firstLine, "check": checkMark, "fault": faultSummary,
	"ms":        func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"contained": func(c Scorecard) bool { return c.Outcome == workflows.OutcomeContained },
	"css":       func() htmltemplate.CSS { return htmltemplate.CSS(printCSS) },
	"responses": responses,
	"millis":    workflows.Millis,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>firebreak drill scorecards</title>
<style>{{css}}</style></head><body>
<h1>firebreak drill scorecards</h1>
{{range .}}<section class="card">
<h2>{{.Playbook}} — <span class="{{if .Passed}}pass{{else}}fail{{end}}">{{verdict .}}</span></h2>
<table class="meta">
<tr><td>Subject</td><td><code>{{or .Subject "-"}}</code></td></tr>
<tr><td>Run</td><td><code>{{.WorkflowID}}</code> / <code>{{.RunID}}</code></td></tr>
<tr><td>Playbook sha256</td><td><code>{{or .PlaybookSHA256 "-"}}</code></td></tr>
{{$t := .Times}}{{if $t.FirstCutStep}}<tr><td>Time to first cut</td><td>{{millis $t.ToFirstCut}} (trigger → {{$t.FirstCutStep}})</td></tr>{{end}}
<tr><td>Time to contain</td><td>{{if contained .}}<b>{{millis $t.ToContain}}</b> (trigger → the subject's access cut){{else}}<span class="fail">not contained</span>{{end}}</td></tr>
{{if .TimeToRemediateMS}}<tr><td>Time to remediate</td><td>{{millis $t.ToRemediate}} (trigger → every containment step, gated irreversible ones included)</td></tr>{{end}}
<tr><td>Elapsed</td><td>{{ms .Elapsed}}</td></tr>
</table>
<h3>Steps</h3>
<table><tr><th></th><th>Step</th><th>Action</th><th>Duration</th><th>Note</th></tr>
{{range .Steps}}<tr><td>{{mark .Status}}</td><td>{{.ID}}</td><td><code>{{.Action}}</code></td><td>{{.DurationMS}} ms</td><td>{{if .Error}}{{.Error}}{{else if .SkipReason}}skipped: {{.SkipReason}}{{end}}</td></tr>
{{end}}</table>
{{if .Verifications}}<h3>Verifications</h3><ul>{{range .Verifications}}<li class="{{if .Passed}}pass{{else}}fail{{end}}">{{check .Passed}} {{.Step}}: {{.Name}} {{if .Detail}}— {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}
{{with rotations .}}<h3>Shared secrets</h3><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .UpstreamChecks}}<ul>{{range .UpstreamChecks}}<li class="{{if .Passed}}pass{{else}}fail{{end}}">{{check .Passed}} {{.Name}} {{if .Detail}}— {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}
{{if .Expectations}}<h3>Expectations</h3><ul>{{range .Expectations}}<li class="{{if .Passed}}pass{{else}}fail{{end}}">{{check .Passed}} {{.Name}} {{if .Detail}}— {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}
<h3>Secrets leaked</h3><ul>{{range .LeakChecks}}<li>{{check (eq .Leaks 0)}} {{.Leaks}} canary hits in {{.Scanned}} {{.Artefact}}</li>{{end}}</ul>
{{with responses .}}<h3>Responses</h3><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Faults}}<h3>Faults injected</h3><ul>{{range .Faults}}<li>{{fault .}}</li>{{end}}</ul>{{end}}
{{if .Retries}}<h3>Retried activities</h3><ul>{{range .Retries}}<li><code>{{.Activity}}</code>: {{.Attempts}} attempts{{if .LastFailure}} — {{firstLine .LastFailure}}{{end}}</li>{{end}}</ul>{{end}}
{{if .ReportErrors}}<h3>Reporting delays (containment was not held up)</h3><ul>{{range .ReportErrors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .FailureCause}}<p class="fail">Failure: {{.FailureCause}}</p>{{end}}
</section>
{{end}}</body></html>
`))

// firstLine is s up to its first line break: vendor errors append request dumps.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
