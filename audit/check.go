package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/firebreak-dev/firebreak/activities/evidence"
)

// CheckEvidenceFile checks the evidence file at path (evidence.jsonl) against ex, the verified
// export named name, and writes a line per finding to w: its hash chain, every evidence
// snapshot ex records linked to a record of the file, and the signed head kept beside it
// covering every record (signed by evKey when it is not nil). It reports whether all passed.
func CheckEvidenceFile(w io.Writer, name string, ex *Export, path string, evKey ed25519.PublicKey) bool {
	recs, err := evidence.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "FAIL %s: %v\n", path, err)
		return false
	}
	links, err := VerifyEvidence(ex, recs, evKey)
	if err != nil {
		fmt.Fprintf(w, "FAIL %s with %s: %v\n", name, path, err)
		return false
	}
	if len(links) == 0 {
		fmt.Fprintf(w, "FAIL %s: the export records no evidence snapshot to link to %s\n", name, path)
		return false
	}
	for _, l := range links {
		fmt.Fprintf(w, "OK evidence record %d (sha256 %s, chain %s) matches entry %d\n", l.Seq, l.SHA256, l.ChainSHA256, l.Entry)
	}
	// The head kept beside the file covers every record, other runs' after this one's too: a
	// file cut short or rewritten and re-chained no longer matches it.
	headFile := filepath.Join(filepath.Dir(path), evidence.HeadFileName)
	head, err := evidence.ReadHead(headFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(w, "FAIL %s: no head beside the evidence file, where every append writes one: it was deleted, so the file cannot be checked for truncation or rewriting\n", headFile)
		return false
	case err != nil:
		fmt.Fprintf(w, "FAIL %s: %v\n", headFile, err)
		return false
	}
	if err := evidence.VerifyHead(recs, head, evKey); err != nil {
		fmt.Fprintf(w, "FAIL %s: %v\n", path, err)
		return false
	}
	if head.Count != len(recs) {
		fmt.Fprintf(w, "FAIL %s: records %d to %d are not covered by the signed head (%d records): added after it, or by hand\n", path, head.Count+1, len(recs), head.Count)
		return false
	}
	auth := "NOT AUTHENTICATED: no --evidence-key (FIREBREAK_EVIDENCE_PUBLIC_KEY) given, so anyone who could write the file could have written this head"
	if evKey != nil {
		auth = "signed by evidence key " + head.KeyID
	}
	fmt.Fprintf(w, "OK evidence head: %d records, chain %s, %s\n", head.Count, head.ChainSHA256, auth)
	return true
}
