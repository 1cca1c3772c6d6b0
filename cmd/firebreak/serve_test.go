package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSlackManifestCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"slack", "manifest", "--url", "https://fb.example.com"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("manifest is not JSON: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"request_url": "https://fb.example.com/slack/interactions"`) || !strings.Contains(out.String(), `"/revoke-dev"`) {
		t.Errorf("manifest:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"slack", "manifest", "--url", "fb.example.com"}, &out, &errb); code != exitUsage {
		t.Errorf("a URL without a scheme: exit %d, want %d", code, exitUsage)
	}
}

func TestServeNeedsTemporalAddress(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--listen", "127.0.0.1:0"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "TEMPORAL_ADDRESS") {
		t.Errorf("exit %d, stderr %q; want a usage error naming TEMPORAL_ADDRESS", code, errb.String())
	}
}

func TestLoadChatopsConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(path, []byte(`
slack:
  bot_token: xoxb-from-file
directory:
  - {subject: alice, email: alice@example.test}
roles:
  responder: {users: [U0BOB], groups: [S0SEC]}
pagerduty:
  rules:
    - {service: PSVCDEV, urgency: high, playbook: compromised-dev-key, inputs: {subject: {from: title, pattern: 'for (\w+)'}}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_SIGNING_SECRET", "from-env")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
	t.Setenv("PAGERDUTY_WEBHOOK_SECRET", "pd-from-env")
	cfg, err := loadChatopsConfig(envSettings(), path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.SigningSecret != "from-env" || cfg.Slack.BotToken != "xoxb-from-env" || cfg.PagerDuty.WebhookSecret != "pd-from-env" {
		t.Errorf("secrets: the environment overrides the file (firebreak.yaml); got %+v", cfg.Slack)
	}
	if len(cfg.Directory) != 1 || cfg.Roles["responder"].Groups[0] != "S0SEC" || cfg.PagerDuty.Rules[0].Inputs["subject"].Pattern != `for (\w+)` {
		t.Errorf("config %+v", cfg)
	}
	if err := os.WriteFile(path, []byte("roles:\n  responder: {userz: [U1]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadChatopsConfig(envSettings(), path); err == nil || !strings.Contains(err.Error(), "userz") {
		t.Errorf("an unknown field: %v; want it named", err)
	}
}
