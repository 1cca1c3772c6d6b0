package chatops_test

import (
	"strings"
	"testing"
)

// Runs' steps and errors are for people who hold a role: alice is in the directory but holds none.
func TestStatusNeedsARole(t *testing.T) {
	h := newHarness(t)
	m := decodeMsg(t, h.command(t, "U0ALICE", "/firebreak", "status"))
	if !strings.Contains(m.Text, "you hold no firebreak role") {
		t.Fatalf("status for a user without a role: %q", m.Text)
	}
	if m := decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "status")); strings.Contains(m.Text, "cannot see runs") {
		t.Fatalf("status for a responder: %q", m.Text)
	}
}
