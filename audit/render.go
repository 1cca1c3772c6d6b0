package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Markdown renders an export for people: the run, its timeline and the checkpoint. It is a
// reading copy; the JSON export is the one that verifies.
func Markdown(ex *Export) string {
	var b strings.Builder
	b.WriteString("# firebreak audit record\n\n")
	if len(ex.Entries) > 0 {
		b.WriteString(mdHeader(ex.Entries[0]))
	}
	b.WriteString("\n## Timeline\n\n| # | Time (UTC) | Kind | What | Hash |\n|---:|---|---|---|---|\n")
	for _, e := range ex.Entries {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | `%s` |\n", e.Seq, e.At.UTC().Format("2006-01-02 15:04:05.000"), e.Kind, mdCell(e.Summary), short(e.Hash))
	}
	b.WriteString("\n## Entries in full\n")
	for _, e := range ex.Entries {
		fmt.Fprintf(&b, "\n### %d. %s\n\n- event %d at %s\n- prev `%s`\n- hash `%s`\n\n```json\n%s\n```\n", e.Seq, e.Kind, e.EventID, e.At.UTC().Format(time.RFC3339Nano), orDash(e.Prev), e.Hash, indent(e.Data))
	}
	c := ex.Checkpoint
	fmt.Fprintf(&b, "\n## Checkpoint\n\n- Entries sealed: %d\n- Head: `%s`\n- Signed at: %s\n- Ed25519 key id: `%s`\n- Public key: `%s`\n- Signature: `%s`\n\nVerify the JSON export offline with `firebreak audit verify FILE --key-id ID`, where ID is your organisation's audit key id as the operators published it (`firebreak audit key`) — not the id above, which only says which key signed this copy.\n",
		c.Entries, c.Head, c.SignedAt.UTC().Format(time.RFC3339), c.KeyID, c.PublicKey, c.Signature)
	return b.String()
}

func mdHeader(e Entry) string {
	return fmt.Sprintf("**%s**\n", mdCell(e.Summary))
}

func mdCell(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }

func indent(raw []byte) string {
	var out bytes.Buffer
	if len(raw) == 0 {
		return "null"
	}
	if err := jsonIndent(&out, raw); err != nil {
		return string(raw)
	}
	return out.String()
}

// HTML renders an export as one self-contained page (no scripts, no external resources) that
// reads well on screen and on paper.
func HTML(ex *Export) ([]byte, error) {
	var b bytes.Buffer
	err := htmlPage.Execute(&b, map[string]any{"Ex": ex, "Title": titleOf(ex)})
	return b.Bytes(), err
}

func titleOf(ex *Export) string {
	if len(ex.Entries) == 0 {
		return "firebreak audit record"
	}
	return ex.Entries[0].Summary
}

const css = `
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;max-width:64rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.4rem;border-bottom:2px solid #111;padding-bottom:.3rem}
h2{font-size:1.15rem;margin-top:1.6rem;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#eee}
tr{page-break-inside:avoid}
code,pre{font-family:ui-monospace,Menlo,monospace;font-size:.82em;word-break:break-all;white-space:pre-wrap}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.4rem;margin:.2rem 0}
details{margin:.2rem 0}
.k{white-space:nowrap}
@media print{body{margin:0;max-width:none;font-size:10pt}details>summary{display:none}details>pre{display:block}details{display:block}}
`

var htmlPage = template.Must(template.New("audit").Funcs(template.FuncMap{
	"css":   func() template.CSS { return template.CSS(css) },
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") },
	"json":  func(raw []byte) string { return indent(raw) },
	"short": short,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title><style>{{css}}</style></head><body>
<h1>firebreak audit record</h1>
<p><b>{{.Title}}</b></p>
<h2>Timeline</h2>
<table><tr><th>#</th><th>Time (UTC)</th><th>Kind</th><th>What</th><th>Hash</th></tr>
{{range .Ex.Entries}}<tr><td>{{.Seq}}</td><td class="k">{{time .At}}</td><td class="k">{{.Kind}}</td><td>{{.Summary}}<details open><summary>data</summary><pre>{{json .Data}}</pre></details></td><td><code>{{short .Hash}}</code></td></tr>
{{end}}</table>
<h2>Checkpoint</h2>
<table>
<tr><th>Entries sealed</th><td>{{.Ex.Checkpoint.Entries}}</td></tr>
<tr><th>Head</th><td><code>{{.Ex.Checkpoint.Head}}</code></td></tr>
<tr><th>Signed at</th><td>{{time .Ex.Checkpoint.SignedAt}}</td></tr>
<tr><th>Ed25519 key id</th><td><code>{{.Ex.Checkpoint.KeyID}}</code></td></tr>
<tr><th>Public key</th><td><code>{{.Ex.Checkpoint.PublicKey}}</code></td></tr>
<tr><th>Signature</th><td><code>{{.Ex.Checkpoint.Signature}}</code></td></tr>
</table>
<p>This page is a reading copy. Verify the JSON export offline: <code>firebreak audit verify FILE --key-id ID</code>, with ID your organisation's audit key id as the operators published it (<code>firebreak audit key</code>), not read from this page.</p>
</body></html>
`))

func jsonIndent(out *bytes.Buffer, raw []byte) error { return json.Indent(out, raw, "", "  ") }
