package evidence

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Head is the state of the whole evidence chain after an append: how many records it holds
// and the chain digest of the last. Signed with the evidence key and recorded in the run's
// history with every snapshot (SnapshotResult.Head), and kept beside the file
// (HeadFileName), it shows a truncated file (fewer records than a head counts) and a record
// rewritten with the rest re-chained (a head's digest no longer matches), which the chain
// alone, re-computed by whoever rewrote it, would not.
type Head struct {
	Count       int       `json:"count"`
	ChainSHA256 string    `json:"chain_sha256"`
	At          time.Time `json:"at"`
	KeyID       string    `json:"key_id,omitempty"`
	Signature   string    `json:"signature,omitempty"` // base64 Ed25519 over HeadBytes; "" when no key is configured
}

// HeadFileName is the signed head kept beside evidence.jsonl.
const HeadFileName = "evidence.head.json"

// HeadBytes are the bytes a head's signature covers.
func HeadBytes(h Head) []byte {
	return []byte("firebreak evidence head v1\ncount=" + strconv.Itoa(h.Count) + "\nchain_sha256=" + h.ChainSHA256 + "\nat=" + h.At.UTC().Format(time.RFC3339Nano) + "\n")
}

// HeadKeyID names an evidence key: the first 8 bytes of the SHA-256 of its public half.
func HeadKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// signHead signs h with key (nil: h stays unsigned).
func signHead(h Head, key ed25519.PrivateKey) Head {
	if key == nil {
		return h
	}
	h.At = h.At.UTC()
	h.KeyID = HeadKeyID(key.Public().(ed25519.PublicKey))
	h.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, HeadBytes(h)))
	return h
}

// ErrHead is wrapped by VerifyHead's errors.
var ErrHead = errors.New("evidence head does not match the evidence")

// VerifyHead checks recs against a head: the file holds at least the records the head
// counts, the last of them has the head's chain digest, and — when pub is given — the head
// is signed by that key. recs must already verify as a chain (Verify).
func VerifyHead(recs []Record, h Head, pub ed25519.PublicKey) error {
	switch {
	case h.Count > len(recs):
		return fmt.Errorf("%w: a head signed at %s counts %d records, the file holds %d: it was truncated", ErrHead, h.At.UTC().Format(time.RFC3339), h.Count, len(recs))
	case h.Count > 0 && recs[h.Count-1].ChainSHA256 != h.ChainSHA256:
		return fmt.Errorf("%w: record %d has chain_sha256 %s, the head signed at %s says %s: a record up to it was rewritten and the chain recomputed", ErrHead, h.Count, recs[h.Count-1].ChainSHA256, h.At.UTC().Format(time.RFC3339), h.ChainSHA256)
	}
	if pub == nil {
		return nil
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	switch {
	case h.Signature == "":
		return fmt.Errorf("%w: the head of %d records is not signed, and evidence key %s is trusted", ErrHead, h.Count, HeadKeyID(pub))
	case h.KeyID != HeadKeyID(pub):
		return fmt.Errorf("%w: the head of %d records is signed with key %s, not the trusted %s", ErrHead, h.Count, h.KeyID, HeadKeyID(pub))
	case err != nil || !ed25519.Verify(pub, HeadBytes(h), sig):
		return fmt.Errorf("%w: the signature of the head of %d records does not verify with key %s", ErrHead, h.Count, h.KeyID)
	}
	return nil
}

// ReadHead reads a head file (HeadFileName).
func ReadHead(path string) (Head, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Head{}, err
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return Head{}, fmt.Errorf("%s: not an evidence head: %w", path, err)
	}
	return h, nil
}

// Header is a store that reports its chain's signed head.
type Header interface {
	Head() Head
}
