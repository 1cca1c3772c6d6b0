package main

import (
	"bytes"
	"testing"

	"github.com/firebreak-dev/firebreak/testenv"
)

// TestDrillsNeverReachProduction sets every production credential and endpoint variable to a
// second set of servers standing in for production, drills every bundled playbook, and checks
// that "production" received not a single request: a drill worker is built only with the
// sandbox's endpoints (rule 5).
func TestDrillsNeverReachProduction(t *testing.T) {
	prod := testenv.NewSandbox(nil)
	defer prod.Close()
	for k, v := range map[string]string{
		"TEMPORAL_ADDRESS": "", "FIREBREAK_CODEC_KEY": "", "FIREBREAK_STATE_DIR": t.TempDir(),
		"VAULT_ADDR": prod.Vault.URL(), "VAULT_TOKEN": prod.Vault.RootToken(),
		"AWS_ENDPOINT_URL_IAM": prod.IAM.URL(), "AWS_ACCESS_KEY_ID": prod.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY": prod.IAM.SecretAccessKey(), "AWS_REGION": "us-east-1",
		"SLACK_BOT_TOKEN": prod.Slack.BotToken(), "SLACK_API_URL": prod.Slack.URL() + "/api/",
		"PAGERDUTY_TOKEN": prod.PagerDuty.Token(), "PAGERDUTY_API_URL": prod.PagerDuty.URL(), "PAGERDUTY_FROM": testenv.PagerDutyBotEmail,
		"OIDC_ISSUER": prod.OIDC.URL(), "OIDC_CLIENT_ID": testenv.OIDCClientID, "OIDC_CLIENT_SECRET": prod.OIDC.ClientSecret(),
		"FIREBREAK_HTTP_SERVICES": `[{"name":"edge","base_url":"` + prod.Edge.URL() + `"}]`,
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"drill", "run", "--all", "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if calls := prod.Recorder.Calls(""); len(calls) != 0 {
		t.Fatalf("a drill reached production: %d requests, first %s %s", len(calls), calls[0].Service, calls[0].Op)
	}
}
