// Package audit builds the auditor's record of a firebreak run from its Temporal history: a
// timeline of entries (trigger, playbook and its content hash, inputs, each activity with its
// arguments and results, approvals, the outcome) linked into a SHA-256 hash chain and sealed
// with an Ed25519-signed checkpoint, so the exported file can be verified offline and any
// change to it is located.
package audit

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Format names the export format; it is part of every signature.
const Format = "firebreak-audit/1"

// Entry kinds.
const (
	KindRunStarted        = "run.started"
	KindActivityCompleted = "activity.completed"
	KindActivityFailed    = "activity.failed"
	KindSignal            = "signal"
	KindUpdate            = "update"
	KindRunEnded          = "run.ended"
)

// Entry is one line of a run's timeline. Hash is the SHA-256 of Prev and the entry's other
// fields, so each entry vouches for every one before it.
type Entry struct {
	Seq     int       `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	EventID int64     `json:"event_id,omitempty"` // the history event the entry comes from
	Summary string    `json:"summary"`
	// Who acted: a person (the requester, an approver) or, for what firebreak did, the
	// trigger it acted for.
	Who string `json:"who,omitempty"`
	// Step, StepName and Action say which step of the playbook the entry belongs to and the
	// catalog action it ran; Report names the step a progress report was about.
	Step     string `json:"step,omitempty"`
	StepName string `json:"step_name,omitempty"`
	Action   string `json:"action,omitempty"`
	Report   bool   `json:"report,omitempty"`
	// Objects are what the entry touched, by reference only (key ids, token accessors,
	// entity ids, secret paths and versions, evidence records), never values.
	Objects []string `json:"objects,omitempty"`
	// Outcome is succeeded, failed, approve, deny, refused, or the run's outcome.
	Outcome string          `json:"outcome,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Prev    string          `json:"prev"`
	Hash    string          `json:"hash"`
}

// Checkpoint seals the chain: it names the last entry's hash and the number of entries, and is
// signed with Ed25519. The public key travels with the export; KeyID is its fingerprint, to be
// compared with the one the auditor trusts.
type Checkpoint struct {
	Entries   int       `json:"entries"`
	Head      string    `json:"head"`
	SignedAt  time.Time `json:"signed_at"`
	PublicKey string    `json:"public_key"` // base64 of the 32-byte Ed25519 key
	KeyID     string    `json:"key_id"`     // KeyFingerprint(PublicKey)
	Signature string    `json:"signature"`  // base64
}

// Export is an auditor's record of one run.
type Export struct {
	Format     string     `json:"format"`
	Entries    []Entry    `json:"entries"`
	Checkpoint Checkpoint `json:"checkpoint"`
}

// RunStarted is the data of the run.started entry.
type RunStarted struct {
	WorkflowID   string `json:"workflow_id"`
	RunID        string `json:"run_id"`
	TaskQueue    string `json:"task_queue"`
	Drill        bool   `json:"drill"`
	Playbook     string `json:"playbook"`
	Title        string `json:"title,omitempty"`
	Version      string `json:"version,omitempty"`
	SourceSHA256 string `json:"source_sha256"`
	// PlanSHA256 is recomputed by the export from the plan the run was given
	// (playbooks.PlanSHA256), not copied from it: compare it with the library's plan
	// (`firebreak playbook explain`) and with the plan_check the worker recorded.
	PlanSHA256      string            `json:"plan_sha256"`
	CompilerVersion string            `json:"compiler_version,omitempty"`
	Trigger         workflows.Trigger `json:"trigger"`
	Inputs          map[string]any    `json:"inputs"`
	Report          workflows.Report  `json:"report"`
	// InjectedFaults are the faults a drill injected on purpose (from the run's memo), so a
	// review tells them from real failures.
	InjectedFaults []string `json:"injected_faults,omitempty"`
}

// ActivityRecord is the data of an activity entry: what was asked, what came back.
type ActivityRecord struct {
	ActivityID  string          `json:"activity_id"`
	Activity    string          `json:"activity"`
	Step        string          `json:"step,omitempty"` // from the idempotency key, when the step has one
	Arguments   json.RawMessage `json:"arguments,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Failure     string          `json:"failure,omitempty"`
	Attempts    int32           `json:"attempts"`
	Worker      string          `json:"worker,omitempty"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	StartedAt   time.Time       `json:"started_at,omitzero"`
	DurationMS  int64           `json:"duration_ms"` // scheduled → closed, retries included
}

// MessageRecord is the data of a signal or update entry (approvals arrive this way).
type MessageRecord struct {
	Name     string          `json:"name"`
	Identity string          `json:"identity,omitempty"`
	Input    json.RawMessage `json:"input,omitempty"`
	Outcome  json.RawMessage `json:"outcome,omitempty"`
}

// RunEnded is the data of the run.ended entry.
type RunEnded struct {
	Status     string               `json:"status"` // completed | failed | timed_out | terminated | canceled | continued_as_new
	Outcome    string               `json:"outcome,omitempty"`
	Failure    string               `json:"failure,omitempty"`
	DurationMS int64                `json:"duration_ms"`
	Result     *workflows.RunResult `json:"result,omitempty"`
}

// secretInput matches the names of inputs whose values are redacted from an export.
var secretInput = regexp.MustCompile(`(?i)secret|password|passwd|token|credential|private|api_?key`)

// Redacted replaces the value of a secret-looking input in an export.
const Redacted = "[redacted]"

// Build makes the (unsealed) timeline of the run workflowID/runID from its history. The
// events' payloads must be readable by dc (already decrypted); nil means the SDK's default
// converter.
func Build(workflowID, runID string, events []*historypb.HistoryEvent, dc converter.DataConverter) (*Export, error) {
	return BuildWith(workflowID, runID, events, dc, Options{})
}

// Options refine a record.
type Options struct {
	// People names a person from the directory by any of their identities (Slack user id,
	// PagerDuty user id, email, subject), e.g. "Carol Jones <carol@example.com>"; "" when
	// unknown. nil leaves identities as recorded.
	People func(id string) string
}

// BuildWith is Build, naming people through opts.
func BuildWith(workflowID, runID string, events []*historypb.HistoryEvent, dc converter.DataConverter, opts Options) (*Export, error) {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	if len(events) == 0 {
		return nil, errors.New("audit: the history is empty: expected at least a WorkflowExecutionStarted event")
	}
	raw := func(p *commonpb.Payloads) (json.RawMessage, error) {
		if p == nil || len(p.GetPayloads()) == 0 {
			return nil, nil
		}
		var vals []json.RawMessage
		for _, pl := range p.GetPayloads() {
			var v json.RawMessage
			if err := dc.FromPayload(pl, &v); err != nil {
				return nil, fmt.Errorf("audit: decoding a payload: %w", err)
			}
			if len(v) == 0 {
				v = json.RawMessage("null")
			}
			vals = append(vals, v)
		}
		if len(vals) == 1 {
			return compact(vals[0])
		}
		b, err := json.Marshal(vals)
		if err != nil {
			return nil, err
		}
		return compact(b)
	}
	ex := &Export{Format: Format}
	// Activity entries are finished once the run's result is known: it ties activities to
	// steps. acts keeps each one's index and record.
	type actEntry struct {
		i   int
		rec ActivityRecord
	}
	var actEntries []actEntry
	add := func(ev *historypb.HistoryEvent, kind, summary string, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if b, err = compact(b); err != nil {
			return err
		}
		ex.Entries = append(ex.Entries, Entry{Seq: len(ex.Entries) + 1, At: ev.GetEventTime().AsTime().UTC(), Kind: kind, EventID: ev.GetEventId(), Summary: summary, Data: b})
		if rec, ok := data.(ActivityRecord); ok {
			actEntries = append(actEntries, actEntry{len(ex.Entries) - 1, rec})
		}
		return nil
	}
	last := func() *Entry { return &ex.Entries[len(ex.Entries)-1] }

	first := events[0]
	st := first.GetWorkflowExecutionStartedEventAttributes()
	if st == nil {
		return nil, fmt.Errorf("audit: the history starts with %s, expected WorkflowExecutionStarted", first.GetEventType())
	}
	var in workflows.RunInput
	if p := st.GetInput().GetPayloads(); len(p) > 0 {
		if err := dc.FromPayload(p[0], &in); err != nil {
			return nil, fmt.Errorf("audit: the run's input is not a firebreak RunInput: %w", err)
		}
	}
	inputs := map[string]any{}
	for k, v := range in.Inputs {
		if secretInput.MatchString(k) {
			v = Redacted
		}
		inputs[k] = v
	}
	startedAt := first.GetEventTime().AsTime().UTC()
	rs := RunStarted{
		WorkflowID: workflowID, RunID: runID, TaskQueue: st.GetTaskQueue().GetName(), Drill: in.Drill,
		Playbook: in.Plan.Name, Title: in.Plan.Title, Version: in.Plan.Version, SourceSHA256: in.Plan.SourceSHA256,
		PlanSHA256: playbooks.PlanSHA256(in.Plan), CompilerVersion: in.Plan.CompilerVersion, Trigger: in.Trigger, Inputs: inputs, Report: in.Report,
	}
	if p := st.GetMemo().GetFields()[MemoFaults]; p != nil {
		// A memo that does not decode is left out: it only refines the review.
		_ = dc.FromPayload(p, &rs.InjectedFaults)
	}
	nm := namer{people: opts.People}
	requester, actor := nm.trigger(in.Trigger), nm.actor(in.Trigger)
	mode := "run"
	if in.Drill {
		mode = "drill"
	}
	if err := add(first, KindRunStarted, fmt.Sprintf("%s of playbook %s version %s (source sha256 %s, plan sha256 %s) started: %s", mode, cmp.Or(in.Plan.Name, "-"), cmp.Or(in.Plan.Version, "-"), short(in.Plan.SourceSHA256), short(rs.PlanSHA256), requester), rs); err != nil {
		return nil, err
	}
	last().Who, last().Outcome = requester, "started"
	if subj, ok := in.Inputs["subject"].(string); ok && subj != "" {
		last().Objects = []string{"subject " + subj}
	}
	updates := map[string]approvalInput{} // update id → its request, for the completion

	var result *workflows.RunResult // the run's result, once it has ended
	type pending struct {
		rec ActivityRecord
	}
	acts := map[int64]*pending{}
	for _, ev := range events[1:] {
		at := ev.GetEventTime().AsTime().UTC()
		switch {
		case ev.GetActivityTaskScheduledEventAttributes() != nil:
			a := ev.GetActivityTaskScheduledEventAttributes()
			args, err := raw(a.GetInput())
			if err != nil {
				return nil, err
			}
			acts[ev.GetEventId()] = &pending{rec: ActivityRecord{ActivityID: a.GetActivityId(), Activity: a.GetActivityType().GetName(), Step: stepOf(args), Arguments: args, ScheduledAt: at}}
		case ev.GetActivityTaskStartedEventAttributes() != nil:
			a := ev.GetActivityTaskStartedEventAttributes()
			if p := acts[a.GetScheduledEventId()]; p != nil {
				p.rec.Attempts, p.rec.Worker, p.rec.StartedAt = a.GetAttempt(), a.GetIdentity(), at
			}
		case ev.GetActivityTaskCompletedEventAttributes() != nil:
			a := ev.GetActivityTaskCompletedEventAttributes()
			p := acts[a.GetScheduledEventId()]
			if p == nil {
				continue
			}
			res, err := raw(a.GetResult())
			if err != nil {
				return nil, err
			}
			p.rec.Result, p.rec.DurationMS = res, at.Sub(p.rec.ScheduledAt).Milliseconds()
			if err := add(ev, KindActivityCompleted, "", p.rec); err != nil {
				return nil, err
			}
		case ev.GetActivityTaskFailedEventAttributes() != nil || ev.GetActivityTaskTimedOutEventAttributes() != nil || ev.GetActivityTaskCanceledEventAttributes() != nil:
			var sched int64
			var msg string
			switch {
			case ev.GetActivityTaskFailedEventAttributes() != nil:
				a := ev.GetActivityTaskFailedEventAttributes()
				sched, msg = a.GetScheduledEventId(), a.GetFailure().GetMessage()
			case ev.GetActivityTaskTimedOutEventAttributes() != nil:
				a := ev.GetActivityTaskTimedOutEventAttributes()
				sched, msg = a.GetScheduledEventId(), "timed out: "+a.GetFailure().GetMessage()
			default:
				sched, msg = ev.GetActivityTaskCanceledEventAttributes().GetScheduledEventId(), "canceled"
			}
			p := acts[sched]
			if p == nil {
				continue
			}
			p.rec.Failure, p.rec.DurationMS = firstLine(msg), at.Sub(p.rec.ScheduledAt).Milliseconds()
			if err := add(ev, KindActivityFailed, "", p.rec); err != nil {
				return nil, err
			}
		case ev.GetWorkflowExecutionSignaledEventAttributes() != nil:
			a := ev.GetWorkflowExecutionSignaledEventAttributes()
			input, err := raw(a.GetInput())
			if err != nil {
				return nil, err
			}
			m := MessageRecord{Name: a.GetSignalName(), Identity: a.GetIdentity(), Input: input}
			if err := add(ev, KindSignal, fmt.Sprintf("signal %s from %s", m.Name, cmp.Or(m.Identity, "-")), m); err != nil {
				return nil, err
			}
			last().Who = "Temporal client " + cmp.Or(m.Identity, "-")
		case ev.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
			a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes()
			req := a.GetAcceptedRequest()
			input, err := raw(req.GetInput().GetArgs())
			if err != nil {
				return nil, err
			}
			m := MessageRecord{Name: req.GetInput().GetName(), Identity: req.GetMeta().GetIdentity(), Input: input}
			summary := fmt.Sprintf("update %s accepted from %s", m.Name, cmp.Or(m.Identity, "-"))
			var ai approvalInput
			isDecision := m.Name == workflows.UpdateApprove && json.Unmarshal(input, &ai) == nil && ai.Approver != ""
			if isDecision {
				updates[req.GetMeta().GetUpdateId()] = ai
				summary = fmt.Sprintf("%s asks to %s step %s%s: %s", nm.approver(ai), ai.Decision, cmp.Or(ai.Step, "-"), ai.roles(), ai.signed())
			}
			if err := add(ev, KindUpdate, summary, m); err != nil {
				return nil, err
			}
			if isDecision {
				last().Who, last().Step, last().Action, last().Outcome = nm.approver(ai), ai.Step, "approval.request", ai.Decision+" submitted"
			} else {
				last().Who = "Temporal client " + cmp.Or(m.Identity, "-")
			}
		case ev.GetWorkflowExecutionUpdateCompletedEventAttributes() != nil:
			a := ev.GetWorkflowExecutionUpdateCompletedEventAttributes()
			out := a.GetOutcome()
			m := MessageRecord{Name: a.GetMeta().GetUpdateId(), Identity: a.GetMeta().GetIdentity()}
			summary := "update " + m.Name + " completed"
			if f := out.GetFailure(); f != nil {
				b, _ := json.Marshal(firstLine(f.GetMessage()))
				m.Outcome = b
				summary = "update " + m.Name + " refused: " + firstLine(f.GetMessage())
			} else {
				res, err := raw(out.GetSuccess())
				if err != nil {
					return nil, err
				}
				m.Outcome = res
			}
			ai, isDecision := updates[m.Name]
			if isDecision {
				if f := out.GetFailure(); f != nil {
					summary = fmt.Sprintf("%s's %s of step %s refused: %s", nm.approver(ai), ai.Decision, cmp.Or(ai.Step, "-"), firstLine(f.GetMessage()))
				} else {
					summary = fmt.Sprintf("%s's %s of step %s recorded%s: %s", nm.approver(ai), ai.Decision, cmp.Or(ai.Step, "-"), ai.roles(), ai.signed())
				}
			}
			if err := add(ev, KindUpdate, summary, m); err != nil {
				return nil, err
			}
			if isDecision {
				last().Who, last().Step, last().Action = nm.approver(ai), ai.Step, "approval.request"
				if out.GetFailure() != nil {
					last().Outcome = "refused"
				} else {
					last().Outcome = ai.Decision
				}
			} else {
				last().Who = "Temporal client " + cmp.Or(m.Identity, "-")
			}
		default:
			if end, ok, err := ended(ev, dc, raw); err != nil {
				return nil, err
			} else if ok {
				end.DurationMS = at.Sub(startedAt).Milliseconds()
				summary := "run " + end.Status
				if end.Outcome != "" {
					summary += ": " + end.Outcome
				}
				if end.Result != nil && end.Result.TimeToContainMS > 0 {
					summary += fmt.Sprintf(", contained %d ms after the trigger", end.Result.TimeToContainMS)
				}
				if end.Result != nil {
					summary += rotationSummary(end.Result)
				}
				if end.Failure != "" {
					summary += " — " + end.Failure
				}
				if err := add(ev, KindRunEnded, summary, end); err != nil {
					return nil, err
				}
				last().Outcome, last().Who = cmp.Or(end.Outcome, "-"), actor
				if end.Status == "terminated" {
					last().Who = "Temporal client " + terminatedBy(ev)
				}
				if end.Result != nil {
					result = end.Result
				}
			}
		}
	}
	// Tie each activity to its step, name what it touched, and say it in the summary.
	steps := newStepIndex(in.Plan, result)
	for _, ae := range actEntries {
		e, rec := &ex.Entries[ae.i], ae.rec
		st, report := steps.of(rec)
		e.Who = actor
		e.Report = report
		if st != nil {
			e.Step, e.StepName = st.ID, st.Name
			if !report {
				e.Action = st.Action
				rec.Step = st.ID
			}
		}
		e.Objects = objectsOf(rec)
		e.Outcome = "succeeded"
		if e.Kind == KindActivityFailed {
			e.Outcome = "failed"
		}
		e.Summary = activitySummary(rec, e)
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		if e.Data, err = compact(b); err != nil {
			return nil, err
		}
	}
	return ex, nil
}

// ended recognises a run's closing event.
func ended(ev *historypb.HistoryEvent, dc converter.DataConverter, raw func(*commonpb.Payloads) (json.RawMessage, error)) (RunEnded, bool, error) {
	var e RunEnded
	decodeResult := func(p *commonpb.Payloads) error {
		if len(p.GetPayloads()) == 0 {
			return nil
		}
		var r workflows.RunResult
		if err := dc.FromPayload(p.GetPayloads()[0], &r); err != nil {
			return fmt.Errorf("audit: the run's result is not a firebreak RunResult: %w", err)
		}
		e.Result, e.Outcome = &r, r.Outcome
		return nil
	}
	switch {
	case ev.GetWorkflowExecutionCompletedEventAttributes() != nil:
		e.Status = "completed"
		return e, true, decodeResult(ev.GetWorkflowExecutionCompletedEventAttributes().GetResult())
	case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
		f := ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
		e.Status, e.Failure = "failed", firstLine(f.GetMessage())
		// A run that did not contain fails with its RunResult as the error's details.
		if d := f.GetApplicationFailureInfo().GetDetails(); d != nil {
			if err := decodeResult(d); err != nil {
				return e, true, err
			}
		}
		if e.Outcome == "" {
			e.Outcome = workflows.OutcomeFailed
		}
		return e, true, nil
	case ev.GetWorkflowExecutionTimedOutEventAttributes() != nil:
		e.Status, e.Outcome = "timed_out", workflows.OutcomeFailed
	case ev.GetWorkflowExecutionTerminatedEventAttributes() != nil:
		a := ev.GetWorkflowExecutionTerminatedEventAttributes()
		e.Status, e.Outcome, e.Failure = "terminated", workflows.OutcomeFailed, "terminated by "+cmp.Or(a.GetIdentity(), "-")+": "+a.GetReason()
	case ev.GetWorkflowExecutionCanceledEventAttributes() != nil:
		e.Status = "canceled"
		// A cancelled run closes with its RunResult as the cancellation's details: how far
		// it got, what it changed.
		if err := decodeResult(ev.GetWorkflowExecutionCanceledEventAttributes().GetDetails()); err != nil {
			return e, true, err
		}
		if e.Outcome == "" {
			e.Outcome = workflows.OutcomeFailed
		}
	case ev.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil:
		e.Status = "continued_as_new"
	default:
		return e, false, nil
	}
	return e, true, nil
}

// stepOf finds the step id in an activity's idempotency key ("<workflow id>/<step id>").
func stepOf(args json.RawMessage) string {
	var in struct {
		Key string `json:"idempotency_key"`
	}
	if json.Unmarshal(args, &in) != nil || in.Key == "" {
		return ""
	}
	return in.Key[strings.LastIndex(in.Key, "/")+1:]
}

func compact(b []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return cmp.Or(h, "-")
}

// entryHash is the chain digest of e: SHA-256 over the previous hash and the entry's JSON
// without its own hash.
func entryHash(e Entry) string {
	e.Hash = ""
	b, _ := json.Marshal(e)
	h := sha256.New()
	h.Write([]byte(e.Prev))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// KeyFingerprint is the key id of an Ed25519 public key: the first 32 hex digits (128 bits) of
// its SHA-256, long enough that nobody can make a second key with the same id.
func KeyFingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

func checkpointMessage(c Checkpoint) []byte {
	return fmt.Appendf(nil, "%s\nentries=%d\nhead=%s\nsigned_at=%s\nkey_id=%s\n", Format, c.Entries, c.Head, c.SignedAt.UTC().Format(time.RFC3339Nano), c.KeyID)
}

// Seal links the entries into the hash chain and signs a checkpoint over its head.
func (ex *Export) Seal(key ed25519.PrivateKey, at time.Time) {
	prev := ""
	for i := range ex.Entries {
		e := &ex.Entries[i]
		e.Seq, e.Prev = i+1, prev
		e.Hash = entryHash(*e)
		prev = e.Hash
	}
	pub := key.Public().(ed25519.PublicKey)
	c := Checkpoint{Entries: len(ex.Entries), Head: prev, SignedAt: at.UTC(), PublicKey: base64.StdEncoding.EncodeToString(pub), KeyID: KeyFingerprint(pub)}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, checkpointMessage(c)))
	ex.Checkpoint = c
}

// Encode writes the export in its one canonical layout: one entry per line, so a change is
// easy to see in a diff and to locate. Verify accepts exactly these bytes.
func (ex *Export) Encode() ([]byte, error) {
	var b bytes.Buffer
	f, _ := json.Marshal(ex.Format)
	b.WriteString(`{"format":`)
	b.Write(f)
	b.WriteString(",\"entries\":[\n")
	for i, e := range ex.Entries {
		line, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		b.Write(line)
		if i < len(ex.Entries)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	cp, err := json.Marshal(ex.Checkpoint)
	if err != nil {
		return nil, err
	}
	b.WriteString("],\n\"checkpoint\":")
	b.Write(cp)
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// VerifyError says where an export stops verifying. Entry is the 1-based number of the first
// entry that does not verify; 0 means the header (format) and -1 the checkpoint.
type VerifyError struct {
	Entry  int
	Reason string
}

// Where names the part of the export that failed.
func (e *VerifyError) Where() string {
	switch {
	case e.Entry == 0:
		return "header"
	case e.Entry < 0:
		return "checkpoint"
	}
	return fmt.Sprintf("entry %d", e.Entry)
}

func (e *VerifyError) Error() string { return e.Where() + " does not verify: " + e.Reason }

// ErrUntrustedKey is wrapped by Verify when the export is intact but signed with a key other
// than the one the caller trusts.
var ErrUntrustedKey = errors.New("signed with an untrusted key")

// Verify checks an encoded export offline: that it is the canonical encoding, that every
// entry's hash chains to the one before, and that the checkpoint names the chain's head and is
// signed by the embedded key (and, when trusted is not empty, that this key has the fingerprint
// trusted). On failure it returns a *VerifyError naming the first part that does not verify.
func Verify(data []byte, trusted string) (*Export, error) {
	var ex Export
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ex); err != nil {
		return nil, &VerifyError{Entry: locate(data), Reason: "not a valid export: " + err.Error()}
	}
	if dec.More() {
		return nil, &VerifyError{Entry: locate(data), Reason: "unexpected data after the export"}
	}
	if ex.Format != Format {
		return nil, &VerifyError{Entry: 0, Reason: fmt.Sprintf("format %q, expected %q", ex.Format, Format)}
	}
	prev := ""
	for i, e := range ex.Entries {
		switch {
		case e.Seq != i+1:
			return nil, &VerifyError{Entry: i + 1, Reason: fmt.Sprintf("sequence number %d, expected %d", e.Seq, i+1)}
		case e.Prev != prev:
			return nil, &VerifyError{Entry: i + 1, Reason: "prev does not match the hash of the entry before"}
		case entryHash(e) != e.Hash:
			return nil, &VerifyError{Entry: i + 1, Reason: "its content does not match its hash"}
		}
		prev = e.Hash
	}
	c := ex.Checkpoint
	// Strict: the padding bits of the last character must be zero, or two spellings would
	// decode to one key or signature.
	pub, err := base64.StdEncoding.Strict().DecodeString(c.PublicKey)
	sig, err2 := base64.StdEncoding.Strict().DecodeString(c.Signature)
	switch {
	case c.Entries != len(ex.Entries):
		return nil, &VerifyError{Entry: -1, Reason: fmt.Sprintf("it seals %d entries, the export has %d", c.Entries, len(ex.Entries))}
	case c.Head != prev:
		return nil, &VerifyError{Entry: -1, Reason: "its head is not the hash of the last entry"}
	case err != nil || len(pub) != ed25519.PublicKeySize:
		return nil, &VerifyError{Entry: -1, Reason: "public_key is not a base64 Ed25519 public key"}
	case KeyFingerprint(pub) != c.KeyID:
		return nil, &VerifyError{Entry: -1, Reason: "key_id is not the fingerprint of public_key"}
	case err2 != nil || !ed25519.Verify(pub, checkpointMessage(c), sig):
		return nil, &VerifyError{Entry: -1, Reason: "the signature does not match"}
	}
	canon, err := ex.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		off := 0
		for off < len(canon) && off < len(data) && canon[off] == data[off] {
			off++
		}
		return nil, &VerifyError{Entry: partAt(canon, len(ex.Entries), off), Reason: fmt.Sprintf("byte %d differs from the export's canonical encoding", off)}
	}
	if trusted != "" && !strings.EqualFold(trusted, c.KeyID) {
		return &ex, fmt.Errorf("%w: key %s, expected %s", ErrUntrustedKey, c.KeyID, trusted)
	}
	return &ex, nil
}

// partAt names the part of a canonical encoding with n entries that byte off lies in: line 1
// is the header, lines 2…n+1 the entries, the rest the checkpoint.
func partAt(canon []byte, n, off int) int {
	line := bytes.Count(canon[:min(off, len(canon))], []byte{'\n'}) + 1
	switch {
	case line == 1:
		return 0
	case line-1 <= n:
		return line - 1
	}
	return -1
}

// headerLine is the first line of every export.
const headerLine = `{"format":"` + Format + `","entries":[`

// locate finds the first part of a damaged export by reading its canonical layout line by
// line: the header line, one strictly valid entry per line (each but the last ending in a
// comma), then "]," and the checkpoint line.
func locate(data []byte) int {
	lines := strings.Split(string(data), "\n")
	if lines[0] != headerLine {
		return 0
	}
	end := slices.Index(lines, "],") // the line that closes the entries; -1 when it is damaged
	i := 1
	for ; i < len(lines) && (end < 0 || i < end); i++ {
		body, comma := strings.CutSuffix(lines[i], ",")
		ok := strictEntry(body)
		switch {
		case ok && comma != (i+1 == end):
			continue
		case end >= 0:
			return i // within the entries, this line is not what it should be
		case ok && !comma:
			return -1 // the last entry is intact: what follows it is damaged
		case strings.Contains(lines[i], `"seq"`) || strings.Contains(lines[i], `"prev"`) || strings.Contains(lines[i], `"hash"`):
			return i
		}
		return -1
	}
	// The header and every entry read well: the damage is in the tail.
	return -1
}

func strictEntry(line string) bool {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	var e Entry
	if dec.Decode(&e) != nil || dec.More() {
		return false
	}
	b, err := json.Marshal(e)
	return err == nil && string(b) == line
}

// rotationSummary counts, for a run's closing entry, the shared secrets rotated where they are
// checked, those left to their owners (remediation pending) and those that failed: only the
// first are rotations.
func rotationSummary(r *workflows.RunResult) string {
	rotated, failed, seen := 0, 0, false
	for _, s := range r.Steps {
		count := func(name string) int {
			for _, t := range s.Truncated { // the result keeps a sample of long lists
				if t.Path == name {
					return t.Total
				}
			}
			l, _ := s.Outputs[name].([]any)
			return len(l)
		}
		switch s.Action {
		case "vault.rotate_secrets":
			seen = true
			rotated += count("rotated")
			failed += count("failed")
		case "vault.plan_rotation":
			seen = true
			failed += count("problems")
		}
	}
	if !seen {
		return ""
	}
	out := fmt.Sprintf("; shared secrets: %d rotated where checked, %d left to their owners, %d failed", rotated, len(r.RemediationPending), failed)
	if len(r.RemediationPending) > 0 {
		out += " (remediation pending)"
	}
	return out
}
