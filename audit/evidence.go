package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/firebreak-dev/firebreak/activities/evidence"
)

// snapshotActivity is the activity whose results reference evidence records.
const snapshotActivity = evidence.ActivityPrefix + "Snapshot"

// EvidenceLink is one export entry that references an evidence record, and the record.
type EvidenceLink struct {
	Entry       int    `json:"entry"` // the export entry's seq
	Seq         int    `json:"seq"`   // the evidence record's seq
	SHA256      string `json:"sha256"`
	ChainSHA256 string `json:"chain_sha256"`
}

// VerifyEvidence links a verified export to the evidence file its run wrote: the file's own
// chain must verify, and every evidence snapshot the export records must name a record of
// this run with the same data digest and chain digest, so neither the export nor the evidence
// can be changed or swapped without the other. Call it after Verify. On failure it returns a
// *VerifyError naming the export entry whose evidence does not verify (entry 0 and a reason
// naming the record when the evidence file's own chain is broken).
//
// Each snapshot's result carries the whole chain's head at that moment (evidence.Head); the
// file must match every one, and with pub (the workers' evidence key) every head must be
// signed by it.
func VerifyEvidence(ex *Export, recs []evidence.Record, pub ...ed25519.PublicKey) ([]EvidenceLink, error) {
	var key ed25519.PublicKey
	if len(pub) > 0 {
		key = pub[0]
	}
	if err := evidence.Verify(recs); err != nil {
		return nil, &VerifyError{Entry: 0, Reason: "the evidence file: " + err.Error()}
	}
	var rs RunStarted
	if len(ex.Entries) > 0 {
		_ = json.Unmarshal(ex.Entries[0].Data, &rs)
	}
	bySeq := map[int]evidence.Record{}
	for _, r := range recs {
		bySeq[r.Seq] = r
	}
	var links []EvidenceLink
	for _, e := range ex.Entries {
		if e.Kind != KindActivityCompleted {
			continue
		}
		var a ActivityRecord
		if json.Unmarshal(e.Data, &a) != nil || a.Activity != snapshotActivity {
			continue
		}
		var res evidence.SnapshotResult
		if err := json.Unmarshal(a.Result, &res); err != nil || res.Seq == 0 {
			return links, &VerifyError{Entry: e.Seq, Reason: "the evidence snapshot's result names no evidence record"}
		}
		r, ok := bySeq[res.Seq]
		switch {
		case !ok:
			return links, &VerifyError{Entry: e.Seq, Reason: fmt.Sprintf("evidence record %d is not in the evidence file (%d records)", res.Seq, len(recs))}
		case r.SHA256 != res.SHA256:
			return links, &VerifyError{Entry: e.Seq, Reason: fmt.Sprintf("evidence record %d has data sha256 %s, the export recorded %s", res.Seq, short(r.SHA256), short(res.SHA256))}
		case r.ChainSHA256 != res.ChainSHA256:
			return links, &VerifyError{Entry: e.Seq, Reason: fmt.Sprintf("evidence record %d has chain_sha256 %s, the export recorded %s", res.Seq, short(r.ChainSHA256), short(res.ChainSHA256))}
		case rs.WorkflowID != "" && (r.WorkflowID != rs.WorkflowID || r.RunID != rs.RunID):
			return links, &VerifyError{Entry: e.Seq, Reason: fmt.Sprintf("evidence record %d belongs to run %s/%s, the export is of %s/%s", res.Seq, r.WorkflowID, r.RunID, rs.WorkflowID, rs.RunID)}
		}
		// The chain's head when the snapshot was taken: the file must still hold every
		// record it counts, ending in its digest — so records other runs wrote before it
		// cannot have been cut or rewritten and re-chained either.
		if res.Head != nil {
			if err := evidence.VerifyHead(recs, *res.Head, key); err != nil {
				return links, &VerifyError{Entry: e.Seq, Reason: err.Error()}
			}
		}
		links = append(links, EvidenceLink{Entry: e.Seq, Seq: r.Seq, SHA256: r.SHA256, ChainSHA256: r.ChainSHA256})
	}
	return links, nil
}
