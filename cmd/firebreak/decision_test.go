package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// testDecisions is the decision key the tests' production workers trust
// (FIREBREAK_DECISION_PUBLIC_KEYS), as firebreak serve's would be.
var testDecisions = workflows.NewSigner(ed25519.NewKeyFromSeed([]byte("firebreak-test-decision-key-32by")))

// testApprover approves as a security lead: neither the tests' requester nor their subject.
const testApprover = "test-security-lead"

// answerGates approves, signed with testDecisions, every decision run workflowID waits for —
// two-person gates as testApprover with the gate's first role, a manual step as its first
// owner when it names no role — until ctx ends, and returns the steps it approved.
func answerGates(ctx context.Context, t *testing.T, addr, namespace string, codec *workflows.Codec, workflowID string) <-chan []string {
	t.Helper()
	done := make(chan []string, 1)
	codec = codec.WithNamespace(namespace) // the run's payloads are sealed for its namespace
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: namespace,
		DataConverter: workflows.DataConverter(codec), FailureConverter: workflows.FailureConverter(codec)})
	if err != nil {
		t.Fatalf("dialing Temporal at %s to decide: %v", addr, err)
	}
	rc := runs.New(c, codec)
	rc.Signer = testDecisions
	go func() {
		defer c.Close()
		var approved []string
		lastErr := ""
		// The watcher offers a gate again after each approval it counts: one decision per
		// approval so far, since a run whose requester is only claimed (firebreak run signs no
		// trigger) needs one more distinct approver.
		runs.WatchPending(ctx, rc, []string{workflowID}, 200*time.Millisecond, func(_ string, p workflows.PendingApproval) bool {
			req := workflows.ApprovalRequest{Step: p.Step, Decision: workflows.DecisionApprove, Approver: testApprover, Reason: "test"}
			if p.Approvals > 0 {
				req.Approver = fmt.Sprintf("%s-%d", testApprover, p.Approvals+1)
			}
			switch {
			case len(p.Roles) > 0:
				req.ApproverRoles = p.Roles[:1]
			case len(p.Owners) > p.Approvals:
				req.Approver = p.Owners[p.Approvals]
			}
			if _, err := rc.Decide(ctx, workflowID, req); err != nil {
				if msg := err.Error(); msg != lastErr {
					lastErr = msg
					t.Logf("deciding %s/%d/%d as %s: %v", p.Step, p.Seq, p.Approvals, req.Approver, err)
				}
				return false
			}
			if !slices.Contains(approved, p.Step) {
				approved = append(approved, p.Step)
			}
			return true
		})
		done <- approved
	}()
	return done
}
