package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestPagesRenderInChromium renders the drill scorecard and the audit record of the recorded
// compromised-dev-key run in headless Chromium (scripts/screenshot-html.sh) and checks that
// both give the same times. FIREBREAK_RENDER_DIR keeps the pages, PNGs and PDFs for people
// to look at.
func TestPagesRenderInChromium(t *testing.T) {
	browser := findBinary("CHROMIUM_BIN", "chromium", "chromium-browser", "google-chrome")
	if browser == "" {
		if os.Getenv("FIREBREAK_REAL_SERVERS") == "required" {
			t.Fatal("no Chromium (FIREBREAK_REAL_SERVERS=required): apt-get install chromium, or set CHROMIUM_BIN")
		}
		t.Skip("no Chromium to render the pages with: apt-get install chromium, or set CHROMIUM_BIN")
	}
	events, err := drills.ReadHistoryFile(filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, res, _, err := drills.PinnedRun(events)
	if err != nil {
		t.Fatal(err)
	}
	var card strings.Builder
	if err := drills.HTML(&card, []drills.Scorecard{{RunResult: res, Passed: true}}); err != nil {
		t.Fatal(err)
	}
	ex, err := audit.Build(res.WorkflowID, res.RunID, events, nil)
	if err != nil {
		t.Fatal(err)
	}
	record, err := audit.HTML(ex)
	if err != nil {
		t.Fatal(err)
	}
	contain := workflows.Millis(res.Times().ToContain)
	for name, page := range map[string]string{"scorecard": card.String(), "audit record": string(record)} {
		if !strings.Contains(page, contain) {
			t.Errorf("the %s does not give the time to contain as %s", name, contain)
		}
	}
	dir := os.Getenv("FIREBREAK_RENDER_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "screenshot-html.sh"))
	for file, page := range map[string]string{"scorecard.html": card.String(), "audit-record.html": string(record)} {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", script, path)
		cmd.Env = append(os.Environ(), "CHROMIUM="+browser)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rendering %s: %v\n%s", file, err, out)
		}
		png := strings.TrimSuffix(path, ".html") + ".png"
		if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
			t.Errorf("%s: %v; expected a rendered page", png, err)
		}
	}
}
