package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestHistoryHoldsOnlyCiphertext runs a drill and reads its history twice: as the Temporal
// server stores it (every payload encrypted; no subject, playbook text or step output in
// clear) and decrypted through the connection's codec (readable, and free of canaries).
func TestHistoryHoldsOnlyCiphertext(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	t.Setenv("FIREBREAK_CODEC_KEY", "")
	ctx := context.Background()
	rg, err := startRig(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	lib, _ := playbooks.LoadLibrary("")
	p, _ := lib.Get("compromised-dev-key")
	inputs, _ := p.BindInputs(map[string]string{"subject": "alice"})
	card := rg.Drill(ctx, p, inputs, drills.Settings{Timeout: time.Minute})
	if !card.Passed {
		t.Fatalf("drill failed: %s %s", card.Error, card.FailureCause)
	}
	it := rg.conn.Client.GetWorkflowHistory(ctx, card.WorkflowID, card.RunID, false, 0)
	raw := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		s := ev.String()
		for _, clear := range []string{"acc-alice-laptop", "AKFBSANDBOXALICE0001", "Snapshot evidence", `"subject"`} {
			if strings.Contains(s, clear) {
				t.Fatalf("event %d (%s) holds %q in clear", ev.GetEventId(), ev.GetEventType(), clear)
			}
		}
		raw++
	}
	events, err := rg.conn.DecodeEvents(ctx, card.WorkflowID, card.RunID)
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, ev := range events {
		all += ev.String()
	}
	if len(events) != raw || !strings.Contains(all, "acc-alice-laptop") {
		t.Fatalf("decoded history is not readable (%d of %d events)", len(events), raw)
	}
}
