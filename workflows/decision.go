package workflows

import (
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Decisions (approvals, denials, manual-step answers, escalation choices) count only when
// they are signed by a decision key: a key that the front end (`firebreak serve`, `firebreak
// dev`, `firebreak approve` for whoever holds it) keeps, and that workers, drills and plain
// Temporal clients do not. The signature binds the run (workflow id and run id), the step,
// the decision, the approver, the roles the front end resolved for them from the directory,
// their email (on-call checks), the reason and when it was signed, so someone who can reach
// Temporal can neither forge a decision nor replay one on another run, step or day.

// DecisionMaxAge is how old a signed decision may be when the workflow sees it, and
// DecisionMaxSkew how far in the future its time may lie (clocks differ a little).
const (
	DecisionMaxAge  = 5 * time.Minute
	DecisionMaxSkew = time.Minute
)

// decisionDomain prefixes the signed bytes, so a decision signature can never be taken for a
// signature over anything else. decisionDomainV2 is that of a signature that also binds the
// kind and the occurrence of the pending decision it answers (DecisionSignature.Kind, Seq).
const (
	decisionDomain   = "firebreak decision v1"
	decisionDomainV2 = "firebreak decision v2"
)

// DecisionSignature is the front end's signature over a decision.
type DecisionSignature struct {
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	SignedAt   time.Time `json:"signed_at"`
	KeyID      string    `json:"key_id"`
	Signature  string    `json:"signature"` // base64 of the Ed25519 signature
	// Kind and Seq name the pending decision the signature answers: an approval gate, a
	// manual step or an escalation (PendingApproval.Kind), and which occurrence of a pending
	// decision in the run (PendingApproval.Seq), so that a signed approval of one gate, or of
	// an earlier occurrence of it, cannot be replayed to another. Empty in signatures made
	// before they were bound (decisionDomain v1).
	Kind string `json:"kind,omitempty"`
	Seq  int    `json:"seq,omitempty"`
}

// DecisionBytes returns the canonical bytes a decision signature covers: each field quoted
// on its own line, roles sorted, so that no two different decisions share them. A kind names
// the pending decision answered (with its occurrence seq) and makes a v2 signature; an empty
// kind the v1 bytes of signatures made before decisions were bound to their occurrence.
func DecisionBytes(req ApprovalRequest, step, kind string, seq int, workflowID, runID string, signedAt time.Time) []byte {
	roles := slices.Clone(req.ApproverRoles)
	slices.Sort(roles)
	quoted := make([]string, len(roles))
	for i, r := range roles {
		quoted[i] = strconv.Quote(r)
	}
	fields := []string{
		decisionDomain,
		"workflow_id=" + strconv.Quote(workflowID),
		"run_id=" + strconv.Quote(runID),
		"step=" + strconv.Quote(step),
		"decision=" + strconv.Quote(req.Decision),
		"approver=" + strconv.Quote(req.Approver),
		"roles=[" + strings.Join(quoted, ",") + "]",
		"email=" + strconv.Quote(req.ApproverEmail),
		"reason=" + strconv.Quote(req.Reason),
		"signed_at=" + strconv.Quote(signedAt.UTC().Format(time.RFC3339Nano)),
	}
	if kind != "" {
		fields[0] = decisionDomainV2
		fields = append(fields, "kind="+strconv.Quote(kind), "seq="+strconv.Itoa(seq))
	}
	return []byte(strings.Join(fields, "\n") + "\n")
}

// DecisionKeyID names a decision public key: the first 8 bytes of its SHA-256, in hex.
func DecisionKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Signer signs decisions with a decision key. Only the front end holds one.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a signer for the Ed25519 private key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: DecisionKeyID(key.Public().(ed25519.PublicKey))}
}

// Public is the public half of the signer's key, which workers trust.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID is the id of the signer's key.
func (s *Signer) KeyID() string { return s.id }

// Sign returns req signed as the answer to the pending decision p (its step, kind and
// occurrence, as the run's pending query gives them) of the run (workflowID, runID) at time
// at. req.Step is set to p.Step: a signed decision always names its step.
func (s *Signer) Sign(req ApprovalRequest, p PendingApproval, workflowID, runID string, at time.Time) ApprovalRequest {
	at = at.UTC()
	req.Step = p.Step
	sig := ed25519.Sign(s.key, DecisionBytes(req, p.Step, p.Kind, p.Seq, workflowID, runID, at))
	req.Signature = &DecisionSignature{WorkflowID: workflowID, RunID: runID, SignedAt: at, KeyID: s.id, Signature: base64.StdEncoding.EncodeToString(sig), Kind: p.Kind, Seq: p.Seq}
	return req
}

// ErrUnsignedDecision is wrapped by VerifyDecision when a decision carries no signature.
var ErrUnsignedDecision = errors.New("decision is not signed by a decision key")

// VerifyDecision checks that req is signed, by one of keys, for the pending decision p of the
// run (workflowID, runID), at a time no older than DecisionMaxAge and no later than
// DecisionMaxSkew relative to now. With bindPending the signature must also name p's kind
// and occurrence (p.Kind, p.Seq); without it (runs recorded before), only its step.
func VerifyDecision(req ApprovalRequest, p PendingApproval, bindPending bool, workflowID, runID string, now time.Time, keys []ed25519.PublicKey) error {
	step := p.Step
	sig := req.Signature
	if sig == nil {
		return fmt.Errorf("%w: decisions come from firebreak serve, firebreak dev or `firebreak approve` by a holder of the decision key; one sent straight to Temporal does not count", ErrUnsignedDecision)
	}
	if len(keys) == 0 {
		return errors.New("this worker trusts no decision key, so it counts no decision: configure decision.public_keys (FIREBREAK_DECISION_PUBLIC_KEYS) on the worker")
	}
	if sig.WorkflowID != workflowID || sig.RunID != runID {
		return fmt.Errorf("decision is signed for run %s (%s), not for this run %s (%s)", sig.WorkflowID, sig.RunID, workflowID, runID)
	}
	if req.Step != "" && req.Step != step {
		return fmt.Errorf("decision names step %q but is applied to %q", req.Step, step)
	}
	if bindPending && (sig.Kind != p.Kind || sig.Seq != p.Seq) {
		return fmt.Errorf("decision is signed for the %s of %s numbered %d, but the pending decision is the %s numbered %d: sign it afresh for the decision pending now", cmp.Or(sig.Kind, "-"), step, sig.Seq, p.Kind, p.Seq)
	}
	var pub ed25519.PublicKey
	for _, k := range keys {
		if DecisionKeyID(k) == sig.KeyID {
			pub = k
		}
	}
	if pub == nil {
		return fmt.Errorf("decision is signed with key %q, which this worker does not trust", sig.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || !ed25519.Verify(pub, DecisionBytes(req, step, sig.Kind, sig.Seq, workflowID, runID, sig.SignedAt), raw) {
		return fmt.Errorf("decision signature does not verify with key %s for step %s, %s by %s: the decision was altered or signed for something else", sig.KeyID, step, req.Decision, req.Approver)
	}
	if age := now.Sub(sig.SignedAt); age > DecisionMaxAge || age < -DecisionMaxSkew {
		return fmt.Errorf("decision was signed at %s, %s from now (%s); expected within %s before and %s after: sign it afresh", sig.SignedAt.UTC().Format(time.RFC3339), age.Round(time.Second), now.UTC().Format(time.RFC3339), DecisionMaxAge, DecisionMaxSkew)
	}
	return nil
}

// SandboxDecisionKey is the drill rig's decision key. It is derived from a published
// string, so anyone can sign with it: drills accept it, and production runs never do,
// whatever a worker is configured with.
func SandboxDecisionKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("firebreak sandbox decision key: drills only, never production"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// ParseDecisionKey reads a decision private key: the base64 of its 32-byte seed.
func ParseDecisionKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, fmt.Errorf("decision key: expected the base64 of a %d-byte Ed25519 seed, found %d characters that are not", ed25519.SeedSize, len(strings.TrimSpace(s)))
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// FormatDecisionKey writes a decision private key as ParseDecisionKey reads it.
func FormatDecisionKey(k ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(k.Seed())
}

// ParseDecisionPublicKeys reads a comma- or space-separated list of decision public keys,
// each the base64 of 32 bytes.
func ParseDecisionPublicKeys(s string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("decision public key %q: expected the base64 of %d bytes", f, ed25519.PublicKeySize)
		}
		out = append(out, ed25519.PublicKey(b))
	}
	return out, nil
}

// FormatDecisionPublicKey writes a decision public key as ParseDecisionPublicKeys reads it.
func FormatDecisionPublicKey(k ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(k)
}
