package chatops_test

import (
	"errors"
	"github.com/firebreak-dev/firebreak/chatops"
	"strings"
	"testing"
)

// TestRepliesRedactCredentials: a person's free text and an error message are quoted back to
// Slack, in the immediate answer and through response_url; neither may carry a credential.
func TestRepliesRedactCredentials(t *testing.T) {
	const secret = "sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF"
	h := newHarness(t)
	h.fake.startErr = errors.New("upstream said: bad key " + secret + " (401)")
	rec := h.command(t, "U0BOB", "/revoke-dev", "alice pasted "+secret+" in a channel")
	if body := rec.Body.String(); strings.Contains(body, secret) {
		t.Fatalf("the immediate answer carries the credential: %s", body)
	}
	value := confirmValue(t, decodeMsg(t, rec))
	h.press(t, "U0BOB", chatops.ActionConfirm, value)
	h.srv.Wait()
	m := h.resp.next(t)
	if strings.Contains(m.Text, secret) || !strings.Contains(m.Text, "[redacted ") {
		t.Fatalf("the response_url message: %q; want the credential redacted", m.Text)
	}
}
