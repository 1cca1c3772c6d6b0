// Package evidence stores snapshots of what a run is about to change, before it changes it.
// Records are JSON lines with SHA-256 digests chained record by record, so any later edit,
// insertion or deletion shows when the chain is verified.
package evidence

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

// ActivityPrefix prefixes the names of this package's activities in a worker.
const ActivityPrefix = "evidence."

// Record is one evidence entry.
type Record struct {
	Seq         int             `json:"seq"`
	Key         string          `json:"key"` // idempotency key: one record per run step
	WorkflowID  string          `json:"workflow_id"`
	RunID       string          `json:"run_id"`
	Subject     string          `json:"subject"`
	Kind        string          `json:"kind"`
	At          time.Time       `json:"at"`
	Data        json.RawMessage `json:"data"`
	SHA256      string          `json:"sha256"`       // of Data
	PrevChain   string          `json:"prev_chain"`   // ChainSHA256 of the previous record ("" for the first)
	ChainSHA256 string          `json:"chain_sha256"` // of PrevChain and this record's other fields
}

// chainDigest computes a record's chain digest from every field but the digest itself.
func chainDigest(r Record) string {
	r.ChainSHA256 = ""
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Store appends records to the evidence chain.
type Store interface {
	// Append adds r at the end of the chain and returns it with Seq and digests set. A record
	// whose Key is already stored is not added again: the stored one is returned.
	Append(ctx context.Context, r Record) (Record, error)
}

// FileStore is an append-only evidence store in one JSON-lines file, fsynced on every append.
type FileStore struct {
	path string
	mu   sync.Mutex
	last Record
	keys map[string]Record
	head Head
	// HeadKey signs the chain's head after every append (Head, HeadFileName); nil leaves
	// heads unsigned.
	HeadKey ed25519.PrivateKey
	// found is the head the file was left with at open, if any.
	found *Head
}

// OpenFileStore opens (creating if needed) the evidence file in dir and checks its chain.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("evidence store: %w", err)
	}
	// Evidence holds what a run saw of people's access: the owner's only, whatever mode an
	// earlier version or a umask left.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("evidence store: %w", err)
	}
	s := &FileStore{path: filepath.Join(dir, "evidence.jsonl"), keys: map[string]Record{}}
	for _, f := range []string{s.path, filepath.Join(dir, HeadFileName)} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("evidence store: %w", err)
		}
	}
	recs, err := ReadFile(s.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := Verify(recs); err != nil {
		return nil, fmt.Errorf("evidence store %s: %w", s.path, err)
	}
	for _, r := range recs {
		s.keys[r.Key] = r
		s.last = r
	}
	// The signed head the file was left with must still match it: a file truncated or
	// rewritten while the worker was down is refused, not extended.
	// A store with records always has a head (every append writes one): a missing head is
	// a deleted one, and the records it covered may have been cut or rewritten.
	h, err := ReadHead(filepath.Join(dir, HeadFileName))
	switch {
	case errors.Is(err, os.ErrNotExist) && len(recs) > 0:
		return nil, fmt.Errorf("evidence store %s: %w: it holds %d records but has no head (%s) beside it; expected the head every append writes: it was deleted", s.path, ErrHead, len(recs), HeadFileName)
	case err == nil:
		if err := VerifyHead(recs, h, nil); err != nil {
			return nil, fmt.Errorf("evidence store %s: %w", s.path, err)
		}
		s.found = &h
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	s.head = Head{Count: s.last.Seq, ChainSHA256: s.last.ChainSHA256}
	return s, nil
}

// OpenSignedFileStore opens the file store in dir (OpenFileStore) whose heads key signs, and
// checks the head the file was left with against key's public half: a head rewritten
// without the key (to match a truncated or re-chained file) is refused, not extended.
func OpenSignedFileStore(dir string, key ed25519.PrivateKey) (*FileStore, error) {
	s, err := OpenFileStore(dir)
	if err != nil {
		return nil, err
	}
	if s.found != nil {
		recs, err := ReadFile(s.path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := VerifyHead(recs, *s.found, key.Public().(ed25519.PublicKey)); err != nil {
			return nil, fmt.Errorf("evidence store %s: %w", s.path, err)
		}
	}
	s.HeadKey = key
	return s, nil
}

// Head implements Header: the head after the last append, signed when HeadKey is set.
func (s *FileStore) Head() Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}

// writeHead signs the head after r and replaces the head file with it atomically.
func (s *FileStore) writeHead(r Record) error {
	h := signHead(Head{Count: r.Seq, ChainSHA256: r.ChainSHA256, At: time.Now().UTC()}, s.HeadKey)
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(s.path), HeadFileName+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("evidence head: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(filepath.Dir(s.path), HeadFileName)); err != nil {
		return fmt.Errorf("evidence head: %w", err)
	}
	s.head = h
	return nil
}

// Path is the file the store appends to.
func (s *FileStore) Path() string { return s.path }

// Append implements Store.
func (s *FileStore) Append(_ context.Context, r Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.keys[r.Key]; ok {
		return old, nil
	}
	sum := sha256.Sum256(r.Data)
	r.SHA256 = hex.EncodeToString(sum[:])
	r.Seq = s.last.Seq + 1
	r.PrevChain = s.last.ChainSHA256
	r.ChainSHA256 = chainDigest(r)
	line, err := json.Marshal(r)
	if err != nil {
		return Record{}, err
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return Record{}, fmt.Errorf("evidence store: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return Record{}, fmt.Errorf("evidence store: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Record{}, fmt.Errorf("evidence store: fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return Record{}, err
	}
	s.keys[r.Key] = r
	s.last = r
	if err := s.writeHead(r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// ReadFile reads every record of an evidence file.
func ReadFile(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: not an evidence record: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// ErrChainBroken is wrapped by Verify when a record does not verify.
var ErrChainBroken = errors.New("evidence chain broken")

// Verify checks every record's data digest and chain link, and names the first that fails.
func Verify(recs []Record) error {
	prev := ""
	for i, r := range recs {
		sum := sha256.Sum256(r.Data)
		switch {
		case r.Seq != i+1:
			return fmt.Errorf("%w at record %d: sequence number %d, expected %d", ErrChainBroken, i+1, r.Seq, i+1)
		case hex.EncodeToString(sum[:]) != r.SHA256:
			return fmt.Errorf("%w at record %d: data does not match its sha256", ErrChainBroken, r.Seq)
		case r.PrevChain != prev:
			return fmt.Errorf("%w at record %d: prev_chain does not match the previous record", ErrChainBroken, r.Seq)
		case chainDigest(r) != r.ChainSHA256:
			return fmt.Errorf("%w at record %d: chain_sha256 does not match the record", ErrChainBroken, r.Seq)
		}
		prev = r.ChainSHA256
	}
	return nil
}

// Activities records evidence.
type Activities struct {
	Store Store
}

// SnapshotInput is the input of Snapshot.
type SnapshotInput struct {
	Subject        string         `json:"subject"`
	Kind           string         `json:"kind"`
	Data           map[string]any `json:"data"`
	IdempotencyKey string         `json:"idempotency_key"`
}

// SnapshotResult refers to the stored record; it never repeats the data.
type SnapshotResult struct {
	Ref         string `json:"ref"`
	SHA256      string `json:"sha256"`
	ChainSHA256 string `json:"chain_sha256"`
	Seq         int    `json:"seq"`
	// Head is the whole chain's head after this snapshot (count and digest, signed by the
	// evidence key), recorded in the run's history; nil for stores without one (S3).
	Head *Head `json:"head,omitempty"`
}

// Snapshot stores data as one evidence record of the running workflow. Retrying with the same
// idempotency key returns the record already stored.
func (a *Activities) Snapshot(ctx context.Context, in SnapshotInput) (SnapshotResult, error) {
	if in.IdempotencyKey == "" {
		return SnapshotResult{}, temporal.NewNonRetryableApplicationError("evidence.snapshot: missing idempotency key", "InvalidInput", nil)
	}
	data, err := json.Marshal(in.Data)
	if err != nil {
		return SnapshotResult{}, temporal.NewNonRetryableApplicationError("evidence.snapshot: data is not JSON: "+err.Error(), "InvalidInput", nil)
	}
	kind := in.Kind
	if kind == "" {
		kind = "snapshot"
	}
	var wfID, runID string
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		wfID, runID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	}
	r, err := a.Store.Append(ctx, Record{Key: in.IdempotencyKey, WorkflowID: wfID, RunID: runID, Subject: in.Subject, Kind: kind, At: time.Now().UTC(), Data: data})
	if err != nil {
		return SnapshotResult{}, err
	}
	res := SnapshotResult{Ref: fmt.Sprintf("evidence:%d", r.Seq), SHA256: r.SHA256, ChainSHA256: r.ChainSHA256, Seq: r.Seq}
	if hs, ok := a.Store.(Header); ok {
		h := hs.Head()
		res.Head = &h
	}
	return res, nil
}

// Register registers the evidence activities on a worker.
func Register(r worker.Registry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}
