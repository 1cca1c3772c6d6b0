package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/testenv"
)

// TestDrillSlackThread: `drill run --slack-thread` prints, after the scorecard, what the
// sandbox Slack channel received during the drill — the run's message and its thread replies
// under it, with times and who posted, mrkdwn simplified — and no secret.
func TestDrillSlackThread(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"drill", "run", "compromised-dev-key", "--slack-thread", "--evidence-dir", t.TempDir()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	i := strings.Index(out, "Slack "+testenv.DrillChannel+" (sandbox), as a responder reads it")
	if i < 0 {
		t.Fatalf("no Slack thread after the scorecard:\n%s", out)
	}
	thread := out[i:]
	if !regexp.MustCompile(`\n    \d\d:\d\d:\d\d `+testenv.SlackBotUserID+`(?: \(edited \d+×\))?: \S`).MatchString(thread) ||
		!regexp.MustCompile(`\n      ↳ \d\d:\d\d:\d\d `+testenv.SlackBotUserID+`(?: \(edited \d+×\))?: \S`).MatchString(thread) {
		t.Errorf("the thread lacks a top-level message and a reply with time and poster:\n%s", thread)
	}
	if !strings.Contains(thread, "Owners rotate the secrets firebreak must not") {
		t.Errorf("the thread does not mention the owners' manual step it reported:\n%s", thread)
	}
	if testenv.ContainsCanary(out) {
		t.Error("the printed thread holds a secret")
	}
}

// TestRedactThread: a credential in a message of the drill's Slack thread is redacted before
// the command shows it.
func TestRedactThread(t *testing.T) {
	secret := "gh" + "p_R7x2Kq9LmZ4vT1wYb8NcJ5hD3sFg6Ae0PuQi" // a GitHub token's shape, made up
	msgs := []drills.ThreadMessage{{Text: "rotated"}, {Text: "token " + secret + " leaked"}}
	redactThread(msgs)
	if msgs[0].Text != "rotated" || strings.Contains(msgs[1].Text, secret) || !strings.HasPrefix(msgs[1].Text, "token ") {
		t.Fatalf("redacted thread: %+v", msgs)
	}
}
