package workflows

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Who asked for a run is what the two-person rule compares approvers against, so it must not
// be whatever the starter of the workflow writes: the front end (firebreak serve, dev, and
// whoever holds the decision key) signs the trigger — requester, how they were established,
// kind, time — together with the workflow id, the playbook and a digest of the inputs, with
// the decision key, and the workflow verifies it. A run whose trigger is not so signed (a
// plain `firebreak run` against TEMPORAL_ADDRESS, or any Temporal client) still runs, but its
// requester is recorded as claimed (Trigger.ByAuth "claimed") and each of its approval gates
// needs one more distinct approver than the playbook says: whoever started it may be one.

// ByAuthClaimed is Trigger.ByAuth for a requester nobody vouches for.
const ByAuthClaimed = "claimed"

// triggerDomain prefixes the bytes a trigger signature covers.
const triggerDomain = "firebreak trigger v1"

// TriggerMaxAge is how long before the workflow starts its trigger may have been signed,
// and DecisionMaxSkew how far after: a signed trigger is used at once by the front end that
// signed it, so an old one is a replay.
const TriggerMaxAge = 5 * time.Minute

// TriggerSignature is the front end's signature over a run's trigger.
type TriggerSignature struct {
	SignedAt  time.Time `json:"signed_at"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"` // base64 of the Ed25519 signature
}

// InputsSHA256 is the hex SHA-256 of a run's inputs as canonical JSON (keys sorted, values
// as JSON writes them after a round trip), the same before and after Temporal encodes them.
func InputsSHA256(inputs map[string]any) string {
	b, err := json.Marshal(inputs)
	if err == nil {
		var norm any
		if json.Unmarshal(b, &norm) == nil {
			b, err = json.Marshal(norm)
		}
	}
	if err != nil {
		b = []byte(fmt.Sprintf("unencodable: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TriggerBytes returns the canonical bytes a trigger signature covers.
func TriggerBytes(trig Trigger, workflowID, playbook, inputsSHA256 string, signedAt time.Time) []byte {
	fields := []string{
		triggerDomain,
		"workflow_id=" + strconv.Quote(workflowID),
		"playbook=" + strconv.Quote(playbook),
		"inputs_sha256=" + strconv.Quote(inputsSHA256),
		"kind=" + strconv.Quote(trig.Kind),
		"by=" + strconv.Quote(trig.By),
		"by_auth=" + strconv.Quote(trig.ByAuth),
		"confirmed_by=" + strconv.Quote(trig.ConfirmedBy),
		"reason=" + strconv.Quote(trig.Reason),
		"at=" + strconv.Quote(trig.At.UTC().Format(time.RFC3339Nano)),
		"signed_at=" + strconv.Quote(signedAt.UTC().Format(time.RFC3339Nano)),
	}
	return []byte(strings.Join(fields, "\n") + "\n")
}

// SignTrigger returns in with its trigger signed for the workflow id at time at: what the
// front end does just before it starts the run.
func (s *Signer) SignTrigger(in RunInput, workflowID string, at time.Time) RunInput {
	at = at.UTC()
	in.Trigger.At = in.Trigger.At.UTC()
	in.Trigger.Signature = nil
	sig := ed25519.Sign(s.key, TriggerBytes(in.Trigger, workflowID, in.Plan.Name, InputsSHA256(in.Inputs), at))
	in.Trigger.Signature = &TriggerSignature{SignedAt: at, KeyID: s.id, Signature: base64.StdEncoding.EncodeToString(sig)}
	return in
}

// ErrUnsignedTrigger is wrapped by VerifyTrigger when a trigger carries no signature.
var ErrUnsignedTrigger = errors.New("the trigger is not signed by a decision key")

// VerifyTrigger checks that in's trigger is signed by one of keys for the workflow id, the
// playbook and the inputs of in, no earlier than TriggerMaxAge and no later than
// DecisionMaxSkew relative to now (the workflow's start).
func VerifyTrigger(in RunInput, workflowID string, now time.Time, keys []ed25519.PublicKey) error {
	sig := in.Trigger.Signature
	if sig == nil {
		return fmt.Errorf("%w: runs started by firebreak serve, firebreak dev or a holder of the decision key carry one; this one was started without", ErrUnsignedTrigger)
	}
	var pub ed25519.PublicKey
	for _, k := range keys {
		if DecisionKeyID(k) == sig.KeyID {
			pub = k
		}
	}
	if pub == nil {
		return fmt.Errorf("the trigger is signed with key %q, which this worker does not trust", sig.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	trig := in.Trigger
	trig.Signature = nil
	if err != nil || !ed25519.Verify(pub, TriggerBytes(trig, workflowID, in.Plan.Name, InputsSHA256(in.Inputs), sig.SignedAt), raw) {
		return fmt.Errorf("the trigger's signature does not verify with key %s for run %s of %s by %s: the trigger, the inputs or the run id were altered", sig.KeyID, workflowID, in.Plan.Name, trig.By)
	}
	if age := now.Sub(sig.SignedAt); age > TriggerMaxAge || age < -DecisionMaxSkew {
		return fmt.Errorf("the trigger was signed at %s, %s before the run started; expected within %s: a replayed trigger", sig.SignedAt.UTC().Format(time.RFC3339), age.Round(time.Second), TriggerMaxAge)
	}
	return nil
}

// changeSignedTriggers versions the check of a run's trigger signature.
const changeSignedTriggers = "signed-triggers"

// checkTrigger decides whether the run's requester is only claimed, and says how it was
// checked. Drills run on the sandbox with a published decision key: not checked. A child run
// of a batch takes its parent's verdict (Trigger.ByAuth), since only workflow code can start
// a child. The verdict is taken at the start of the run, from its input and the worker's
// keys, once: it is recorded in the version marker's branch and the run's result.
//
//workflowcheck:ignore json.Marshal of the plain-data inputs (map keys sorted)
func checkTrigger(ctx workflow.Context, in RunInput, t trust) (claimed bool, check string) {
	if in.Drill {
		return false, ""
	}
	info := workflow.GetInfo(ctx)
	if info.ParentWorkflowExecution != nil {
		if in.Trigger.ByAuth == ByAuthClaimed {
			return true, "claimed: checked by the parent run " + info.ParentWorkflowExecution.ID
		}
		return false, ""
	}
	if workflow.GetVersion(ctx, changeSignedTriggers, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false, ""
	}
	type verdict struct{ Signed, Claimed string }
	var v verdict
	// The keys a worker trusts may change while a run is open; the verdict is recorded so the
	// run replays as it was checked.
	_ = workflow.SideEffect(ctx, func(workflow.Context) any {
		if err := VerifyTrigger(in, info.WorkflowExecution.ID, info.WorkflowStartTime, t.keysFor(false)); err != nil {
			return verdict{Claimed: err.Error()}
		}
		return verdict{Signed: in.Trigger.Signature.KeyID}
	}).Get(&v)
	if v.Claimed != "" {
		return true, "claimed: " + v.Claimed + "; each approval gate needs one more approver than the playbook says"
	}
	return false, "signed by the front end's decision key " + v.Signed
}
