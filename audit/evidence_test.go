package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/audit"
)

// evidenceExport makes an export of run wf/run-1 whose entry 2 records the snapshot stored as
// rec, and the evidence file's records.
func evidenceExport(t *testing.T) (*audit.Export, []evidence.Record, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := evidence.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Append(ctx, evidence.Record{Key: "other/snapshot", WorkflowID: "other", RunID: "r0", Kind: "snapshot", Data: json.RawMessage(`{"n":0}`)}); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Append(ctx, evidence.Record{Key: "wf/snapshot", WorkflowID: "wf", RunID: "run-1", Kind: "snapshot", Data: json.RawMessage(`{"tokens":["acc-1"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	started, _ := json.Marshal(audit.RunStarted{WorkflowID: "wf", RunID: "run-1", Playbook: "p"})
	res, _ := json.Marshal(evidence.SnapshotResult{Ref: "evidence:2", SHA256: rec.SHA256, ChainSHA256: rec.ChainSHA256, Seq: rec.Seq})
	act, _ := json.Marshal(audit.ActivityRecord{Activity: evidence.ActivityPrefix + "Snapshot", Step: "snapshot", Result: res, Attempts: 1})
	ex := &audit.Export{Format: audit.Format, Entries: []audit.Entry{
		{Seq: 1, Kind: audit.KindRunStarted, Data: started},
		{Seq: 2, Kind: audit.KindActivityCompleted, Data: act},
	}}
	recs, err := evidence.ReadFile(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	return ex, recs, st.Path()
}

func TestVerifyEvidence(t *testing.T) {
	ex, recs, path := evidenceExport(t)
	links, err := audit.VerifyEvidence(ex, recs)
	if err != nil || len(links) != 1 || links[0].Entry != 2 || links[0].Seq != 2 || links[0].SHA256 != recs[1].SHA256 {
		t.Fatalf("links %+v, err %v: want entry 2 linked to record 2", links, err)
	}

	wantFail := func(t *testing.T, recs []evidence.Record, entry int, reason string) {
		t.Helper()
		_, err := audit.VerifyEvidence(ex, recs)
		var ve *audit.VerifyError
		if !errors.As(err, &ve) || ve.Entry != entry || !strings.Contains(ve.Reason, reason) {
			t.Fatalf("VerifyEvidence: %v, want entry %d failing with %q", err, entry, reason)
		}
	}
	t.Run("changed evidence data", func(t *testing.T) {
		b, _ := os.ReadFile(path)
		b = []byte(strings.Replace(string(b), "acc-1", "acc-2", 1))
		bad := filepath.Join(t.TempDir(), "evidence.jsonl")
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		changed, err := evidence.ReadFile(bad)
		if err != nil {
			t.Fatal(err)
		}
		wantFail(t, changed, 0, "record 2: data does not match its sha256")
	})
	t.Run("record missing", func(t *testing.T) { wantFail(t, recs[:1], 2, "evidence record 2 is not in the evidence file") })
	t.Run("another evidence file", func(t *testing.T) {
		// A self-consistent file whose record 2 is another snapshot: the digests differ.
		st, _ := evidence.OpenFileStore(t.TempDir())
		ctx := context.Background()
		_, _ = st.Append(ctx, recs[0])
		_, _ = st.Append(ctx, evidence.Record{Key: "wf/snapshot", WorkflowID: "wf", RunID: "run-1", Kind: "snapshot", Data: json.RawMessage(`{"tokens":[]}`)})
		other, _ := evidence.ReadFile(st.Path())
		wantFail(t, other, 2, "evidence record 2 has data sha256")
	})
	t.Run("another run's record", func(t *testing.T) {
		var a audit.ActivityRecord
		_ = json.Unmarshal(ex.Entries[1].Data, &a)
		res, _ := json.Marshal(evidence.SnapshotResult{SHA256: recs[0].SHA256, ChainSHA256: recs[0].ChainSHA256, Seq: 1})
		a.Result = res
		orig := ex.Entries[1].Data
		ex.Entries[1].Data, _ = json.Marshal(a)
		defer func() { ex.Entries[1].Data = orig }()
		wantFail(t, recs, 2, "belongs to run other/r0")
	})
}
