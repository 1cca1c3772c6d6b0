package evidence_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/evidence"
)

// chainOf writes n records to a fresh store signed with key and returns its directory.
func chainOf(t *testing.T, key ed25519.PrivateKey, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := evidence.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.HeadKey = key
	for i := range n {
		if _, err := s.Append(context.Background(), evidence.Record{Key: "k" + string(rune('a'+i)), Kind: "snapshot", Data: json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`)}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rechain rewrites record i's data and recomputes every digest from it on, as someone who
// rewrites the file would.
func rechain(t *testing.T, recs []evidence.Record, i int) []evidence.Record {
	t.Helper()
	out := append([]evidence.Record(nil), recs...)
	out[i].Data = json.RawMessage(`{"n":"forged"}`)
	dir := t.TempDir()
	s, err := evidence.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out {
		r.Seq, r.SHA256, r.PrevChain, r.ChainSHA256 = 0, "", "", ""
		if _, err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	re, err := evidence.ReadFile(filepath.Join(dir, "evidence.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return re
}

// TestHeadShowsTruncationAndRechaining is the security review's finding: a truncated
// evidence.jsonl, or one with a record rewritten and the rest re-chained, still verified as
// a chain. The signed head does not match either.
func TestHeadShowsTruncationAndRechaining(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	dir := chainOf(t, key, 3)
	recs, err := evidence.ReadFile(filepath.Join(dir, "evidence.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	head, err := evidence.ReadHead(filepath.Join(dir, evidence.HeadFileName))
	if err != nil {
		t.Fatal(err)
	}
	if head.Count != 3 || head.ChainSHA256 != recs[2].ChainSHA256 || head.Signature == "" {
		t.Fatalf("head %+v; want 3 records, the last one's digest, signed", head)
	}
	if err := evidence.VerifyHead(recs, head, pub); err != nil {
		t.Fatalf("the untouched file: %v", err)
	}
	truncated := recs[:2]
	forged := rechain(t, recs, 1)
	for name, tampered := range map[string][]evidence.Record{"truncated": truncated, "rewritten and re-chained": forged} {
		if err := evidence.Verify(tampered); err != nil {
			t.Fatalf("%s: the chain alone should still verify (that is the finding): %v", name, err)
		}
		if err := evidence.VerifyHead(tampered, head, pub); !errors.Is(err, evidence.ErrHead) {
			t.Errorf("%s: %v; want ErrHead", name, err)
		}
	}
	// A head re-signed with another key is not the trusted one's.
	_, other, _ := ed25519.GenerateKey(nil)
	forgedDir := chainOf(t, other, 3)
	forgedHead, _ := evidence.ReadHead(filepath.Join(forgedDir, evidence.HeadFileName))
	forgedRecs, _ := evidence.ReadFile(filepath.Join(forgedDir, "evidence.jsonl"))
	if err := evidence.VerifyHead(forgedRecs, forgedHead, pub); err == nil || !strings.Contains(err.Error(), "not the trusted") {
		t.Errorf("a head signed with another key: %v", err)
	}
	// The store itself refuses to extend a file cut short behind its head.
	b, _ := os.ReadFile(filepath.Join(dir, "evidence.jsonl"))
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(filepath.Join(dir, "evidence.jsonl"), []byte(strings.Join(lines[:2], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.OpenFileStore(dir); !errors.Is(err, evidence.ErrHead) {
		t.Errorf("opening a truncated store: %v; want ErrHead", err)
	}
}

// TestStoreIsPrivate: an evidence directory and file left world-readable are made the
// owner's only when the store opens.
func TestStoreIsPrivate(t *testing.T) {
	dir := chainOf(t, nil, 1)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "evidence.jsonl"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.OpenFileStore(dir); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "evidence.jsonl"): 0o600, filepath.Join(dir, evidence.HeadFileName): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v); want %#o", path, fi.Mode().Perm(), err, want)
		}
	}
}

// TestOpenFailsClosedOnAMissingOrForgedHead is the review's finding: the store opened when its
// head was deleted, and checked the head without its signature, so a head rewritten to match
// a truncated file passed.
func TestOpenFailsClosedOnAMissingOrForgedHead(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	s, err := evidence.OpenSignedFileStore(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := s.Append(context.Background(), evidence.Record{Key: k, Kind: "snapshot", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := evidence.OpenSignedFileStore(dir, key); err != nil {
		t.Fatalf("reopening an untouched store: %v", err)
	}
	head := filepath.Join(dir, evidence.HeadFileName)
	signed, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	// A head written without the key, matching the file.
	var h evidence.Head
	if err := json.Unmarshal(signed, &h); err != nil {
		t.Fatal(err)
	}
	h.Signature, h.KeyID = "", ""
	forged, _ := json.Marshal(h)
	if err := os.WriteFile(head, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.OpenSignedFileStore(dir, key); !errors.Is(err, evidence.ErrHead) {
		t.Errorf("a head not signed by the store's key: %v; want ErrHead", err)
	}
	if err := os.Remove(head); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.OpenFileStore(dir); !errors.Is(err, evidence.ErrHead) {
		t.Errorf("records with their head deleted: %v; want ErrHead", err)
	}
}
