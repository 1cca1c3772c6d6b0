package evidence_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/evidence"
)

func TestFileStoreChainsAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	s, err := evidence.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r1, err := s.Append(ctx, evidence.Record{Key: "wf/a", Data: []byte(`{"x":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Append(ctx, evidence.Record{Key: "wf/b", Data: []byte(`{"x":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, evidence.Record{Key: "wf/a", Data: []byte(`{"x":"different"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Seq != 1 || r2.Seq != 2 || r2.PrevChain != r1.ChainSHA256 || !sameRecords([]evidence.Record{again}, []evidence.Record{r1}) {
		t.Fatalf("chain: %+v %+v; retry returned %+v", r1, r2, again)
	}
	// Reopening reads the chain back, checks it and keeps appending to it.
	s2, err := evidence.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := s2.Append(ctx, evidence.Record{Key: "wf/c", Data: []byte(`{}`)})
	if err != nil || r3.Seq != 3 || r3.PrevChain != r2.ChainSHA256 {
		t.Fatalf("after reopening: %+v %v", r3, err)
	}
	recs, err := evidence.ReadFile(s2.Path())
	if err != nil || len(recs) != 3 || evidence.Verify(recs) != nil {
		t.Fatalf("read back %d records: %v / %v", len(recs), err, evidence.Verify(recs))
	}
}

// Every single-byte change to the evidence file is caught: by the JSON reader, or by Verify
// naming the record that no longer verifies.
func TestVerifyCatchesEveryByteChange(t *testing.T) {
	dir := t.TempDir()
	s, _ := evidence.OpenFileStore(dir)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := s.Append(context.Background(), evidence.Record{Key: k, Subject: "alice", Data: []byte(`{"tokens":["acc-1"]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	orig, _ := os.ReadFile(s.Path())
	for i := range orig {
		if orig[i] == '\n' {
			continue
		}
		mod := bytes.Clone(orig)
		mod[i] ^= 0x01
		path := t.TempDir() + "/evidence.jsonl"
		_ = os.WriteFile(path, mod, 0o600)
		recs, err := evidence.ReadFile(path)
		if err != nil {
			continue // no longer JSON: caught by the reader
		}
		if err := evidence.Verify(recs); !errors.Is(err, evidence.ErrChainBroken) {
			// A flipped bit may leave a byte that decodes to the same value (e.g. JSON
			// escapes); only an unchanged record is acceptable then.
			if again, _ := evidence.ReadFile(s.Path()); !sameRecords(again, recs) {
				t.Fatalf("byte %d changed and the chain still verifies", i)
			}
		}
	}
	if _, err := evidence.OpenFileStore(dir); err != nil {
		t.Fatalf("the untouched store no longer opens: %v", err)
	}
}

func sameRecords(a, b []evidence.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Key != b[i].Key || a[i].Subject != b[i].Subject || a[i].Kind != b[i].Kind ||
			!a[i].At.Equal(b[i].At) || !bytes.Equal(a[i].Data, b[i].Data) || a[i].SHA256 != b[i].SHA256 ||
			a[i].PrevChain != b[i].PrevChain || a[i].ChainSHA256 != b[i].ChainSHA256 || a[i].WorkflowID != b[i].WorkflowID || a[i].RunID != b[i].RunID {
			return false
		}
	}
	return true
}

func TestOpenRefusesATamperedStore(t *testing.T) {
	dir := t.TempDir()
	s, _ := evidence.OpenFileStore(dir)
	_, _ = s.Append(context.Background(), evidence.Record{Key: "a", Data: []byte(`{"n":1}`)})
	b, _ := os.ReadFile(s.Path())
	_ = os.WriteFile(s.Path(), bytes.Replace(b, []byte(`{"n":1}`), []byte(`{"n":2}`), 1), 0o600)
	if _, err := evidence.OpenFileStore(dir); !errors.Is(err, evidence.ErrChainBroken) || !strings.Contains(err.Error(), "record 1") {
		t.Fatalf("expected a broken chain at record 1, got %v", err)
	}
}

func TestSnapshotActivity(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	store, _ := evidence.OpenFileStore(t.TempDir())
	a := &evidence.Activities{Store: store}
	env.RegisterActivity(a)
	in := evidence.SnapshotInput{Subject: "alice", Kind: "pre-containment", Data: map[string]any{"vault": map[string]any{"accessors": []any{"acc-1"}}}, IdempotencyKey: "wf/snapshot"}
	v1, err := env.ExecuteActivity(a.Snapshot, in)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := env.ExecuteActivity(a.Snapshot, in)
	if err != nil {
		t.Fatal(err)
	}
	var r1, r2 evidence.SnapshotResult
	_ = v1.Get(&r1)
	_ = v2.Get(&r2)
	if r1.Head == nil || r2.Head == nil || *r1.Head != *r2.Head || r1.Head.Count != 1 {
		t.Fatalf("heads %+v %+v; want the chain's head of 1 record with both", r1.Head, r2.Head)
	}
	r1.Head, r2.Head = nil, nil
	if r1 != r2 || r1.Seq != 1 || len(r1.SHA256) != 64 || r1.Ref != "evidence:1" {
		t.Fatalf("a retried snapshot was stored twice or differs: %+v %+v", r1, r2)
	}
	in.IdempotencyKey = ""
	_, err = env.ExecuteActivity(a.Snapshot, in)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "InvalidInput" || !appErr.NonRetryable() {
		t.Fatalf("missing key: %v", err)
	}
}
