package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/testenv"
)

// clearSettings unsets every variable a test's configuration file sets, so the file alone
// decides.
func clearSettings(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range append(names, "FIREBREAK_CONFIG", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "FIREBREAK_CODEC_KEY", "FIREBREAK_CODEC_KEY_ID",
		"VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_K8S_ROLE", "FIREBREAK_HTTP_SERVICES",
		"FIREBREAK_EVIDENCE_DIR", "FIREBREAK_EVIDENCE_S3", "FIREBREAK_LOG_FORMAT", "FIREBREAK_LOG_LEVEL", "SLACK_BOT_TOKEN",
		"SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "PAGERDUTY_TOKEN", "PAGERDUTY_WEBHOOK_SECRET", "FIREBREAK_PLAYBOOKS",
		"TEMPORAL_TLS", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_API_KEY", "FIREBREAK_METRICS_LISTEN") {
		t.Setenv(n, "")
	}
}

func writeFile(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "firebreak.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// commandFor parses args with the real command tree and runs the configuration hook, as
// Execute would before RunE.
func commandFor(t *testing.T, args ...string) (*cobra.Command, error) {
	t.Helper()
	root := newRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return cmd, root.PersistentPreRunE(cmd, nil)
}

// TestWorkerStartsFromFile: a production worker configured by firebreak.yaml alone — the
// Temporal address and namespace, the Vault address, the codec key as a vault: reference
// read from the sandbox Vault, the evidence directory — connects and serves.
func TestWorkerStartsFromFile(t *testing.T) {
	clearSettings(t)
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir()) // no codec.key file: the key must come from the file
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	sb.Vault.PutSecret("secret", "firebreak/codec", map[string]string{"key": key})
	sb.Vault.PutSecret("secret", "firebreak/edge", map[string]string{"authorization": "Bearer " + sb.Edge.Token()})
	t.Setenv("VAULT_TOKEN", sb.Vault.RootToken()) // the Vault login stays in the environment

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	embedded, err := dialTemporal(ctx, envSettings(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer embedded.Close()

	evidenceDir := filepath.Join(t.TempDir(), "evidence")
	path := writeFile(t, `
temporal: {address: "`+embedded.Address+`", namespace: default}
vault: {address: "`+sb.Vault.URL()+`", auth: token}
codec: {key: "vault:secret/firebreak/codec#key", key_id: k7}
evidence: {dir: "`+evidenceDir+`"}
logging: {format: json, level: debug}
http_services:
  - {name: edge, base_url: "`+sb.Edge.URL()+`", secret_headers: {Authorization: "vault:secret/firebreak/edge#authorization"}}
`)
	cmd, err := commandFor(t, "worker", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	st := settingsOf(cmd)
	if got := cmd.Flags().Lookup("evidence-dir").Value.String(); got != evidenceDir {
		t.Errorf("--evidence-dir = %q, want the file's %q", got, evidenceDir)
	}
	if got := cmd.Flags().Lookup("log-level").Value.String(); got != "debug" {
		t.Errorf("--log-level = %q, want the file's debug", got)
	}
	if st.get("TEMPORAL_ADDRESS") != embedded.Address || st.get("FIREBREAK_CODEC_KEY") != key || st.get("FIREBREAK_CODEC_KEY_ID") != "k7" {
		t.Errorf("settings from the file: address %q, key id %q, codec key resolved: %v", st.get("TEMPORAL_ADDRESS"), st.get("FIREBREAK_CODEC_KEY_ID"), st.get("FIREBREAK_CODEC_KEY") == key)
	}
	services, err := service.HTTPServices(st.conf())
	if err != nil || len(services) != 1 || services[0].Headers["Authorization"] != "Bearer "+sb.Edge.Token() {
		t.Errorf("http services from the file: %v (err %v)", len(services), err)
	}
	var logs bytes.Buffer
	if l, err := st.logger(&logs, "info"); err != nil {
		t.Fatal(err)
	} else {
		l.Info("x")
	}
	if !strings.HasPrefix(logs.String(), "{") {
		t.Errorf("logging.format json: got %q", logs.String())
	}

	w, conn, err := startWorker(ctx, st, logger, cmd.Flags().Lookup("evidence-dir").Value.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer w.Stop()
	if conn.Embedded || conn.Address != embedded.Address {
		t.Errorf("worker connected to %s (embedded %v), want the file's %s", conn.Address, conn.Embedded, embedded.Address)
	}
	if _, err := os.Stat(evidenceDir); err != nil {
		t.Errorf("the evidence store is not in the file's directory: %v", err)
	}

	// The environment overrides the file: a wrong address in TEMPORAL_ADDRESS wins.
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	if st.get("TEMPORAL_ADDRESS") != "127.0.0.1:1" {
		t.Errorf("TEMPORAL_ADDRESS does not override temporal.address")
	}
}

// TestServeChatopsFromFile: serve's chatops configuration from firebreak.yaml, its secrets
// read from Vault; a reference to nothing stops it with an error naming the key.
func TestServeChatopsFromFile(t *testing.T) {
	clearSettings(t)
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	sb.Vault.PutSecret("secret", "firebreak/slack", map[string]string{"signing_secret": "fbcanary-signing", "bot_token": "xoxb-fbcanary"})
	t.Setenv("VAULT_TOKEN", sb.Vault.RootToken())
	path := writeFile(t, `
vault: {address: "`+sb.Vault.URL()+`"}
slack:
  signing_secret: vault:secret/firebreak/slack#signing_secret
  bot_token: vault:secret/firebreak/slack#bot_token
serve: {listen: "127.0.0.1:0"}
directory: [{subject: alice, slack_id: U0ALICE}]
roles: {responder: {users: [U0ALICE]}}
`)
	cmd, err := commandFor(t, "serve", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("listen").Value.String(); got != "127.0.0.1:0" {
		t.Errorf("--listen = %q, want the file's", got)
	}
	cfg, err := loadChatopsConfig(settingsOf(cmd), path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.SigningSecret != "fbcanary-signing" || cfg.Slack.BotToken != "xoxb-fbcanary" || cfg.Roles["responder"].Users[0] != "U0ALICE" {
		t.Errorf("chatops config from the file is not what Vault and the file hold")
	}

	bad := writeFile(t, `
vault: {address: "`+sb.Vault.URL()+`"}
slack: {signing_secret: "vault:secret/firebreak/nothing#signing_secret"}
`)
	var stdout, stderr bytes.Buffer
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	code := run([]string{"serve", "--config", bad}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "slack.signing_secret: vault:secret/firebreak/nothing#signing_secret: Vault has no secret at secret/data/firebreak/nothing") {
		t.Errorf("a missing reference: exit %d, stderr %q", code, stderr.String())
	}
}

func TestConfigCommands(t *testing.T) {
	clearSettings(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "validate", "../../deploy/firebreak.example.yaml", "--strict"}, &stdout, &stderr); code != exitOK {
		t.Errorf("the example: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	bad := writeFile(t, "temporal:\n  adress: x:1\nlogging: {format: xml}\n")
	stdout.Reset()
	if code := run([]string{"config", "validate", bad}, &stdout, &stderr); code != exitFailed ||
		!strings.Contains(stdout.String(), bad+`:2:3: temporal: unknown key "adress"; did you mean "address"?`) {
		t.Errorf("an unknown key: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"config", "validate"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("no file: exit %d, want %d", code, exitUsage)
	}

	literal := writeFile(t, "slack:\n  bot_token: xoxb-fbcanary-literal\n")
	stdout.Reset()
	if code := run([]string{"config", "validate", literal}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "warning: "+literal+":2:14: slack.bot_token: a literal secret") {
		t.Errorf("a literal: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"config", "validate", "--strict", literal}, &stdout, &stderr); code != exitFailed {
		t.Errorf("a literal with --strict: exit %d", code)
	}

	t.Setenv("PAGERDUTY_TOKEN", "fbcanary-pd-env")
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"config", "show", literal}, &stdout, &stderr); code != exitOK {
		t.Fatalf("show: exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "fbcanary") || !strings.Contains(stdout.String(), "<redacted: from PAGERDUTY_TOKEN>") || !strings.Contains(stdout.String(), "<redacted literal>") {
		t.Errorf("config show:\n%s", stdout.String())
	}

	stdout.Reset()
	if code := run([]string{"config", "schema"}, &stdout, &stderr); code != exitOK || !json.Valid(stdout.Bytes()) {
		t.Errorf("schema: exit %d, valid JSON %v", code, json.Valid(stdout.Bytes()))
	}

	// A command run with a literal in its file (FIREBREAK_CONFIG applies to every command) warns, without the secret.
	t.Setenv("FIREBREAK_CONFIG", literal)
	stderr.Reset()
	if code := run([]string{"actions"}, &stdout, &stderr); code != exitOK || !strings.Contains(stderr.String(), "warning: "+literal+":2:14: slack.bot_token: a literal secret") || strings.Contains(stderr.String(), "fbcanary") {
		t.Errorf("FIREBREAK_CONFIG with a literal: exit %d, stderr %q", code, stderr.String())
	}
	t.Setenv("FIREBREAK_CONFIG", bad)
	stderr.Reset()
	if code := run([]string{"actions"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), ":2:3: temporal: unknown key") {
		t.Errorf("FIREBREAK_CONFIG invalid: exit %d, stderr %q", code, stderr.String())
	}
}

func TestDoctorChecksConfigFirst(t *testing.T) {
	clearSettings(t)
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	skip := "--skip=vault,aws,slack,pagerduty,temporal,oidc,evidence"
	bad := writeFile(t, "slack:\n  bot_tokn: env:X\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"doctor", "--config", bad, skip}, &stdout, &stderr); code != exitFailed ||
		!strings.Contains(stdout.String(), "FAILED     config     file") || !strings.Contains(stdout.String(), `:2:3: slack: unknown key "bot_tokn"; did you mean "bot_token"?`) {
		t.Errorf("invalid file: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	literal := writeFile(t, "slack:\n  bot_token: xoxb-fbcanary-literal\n")
	stdout.Reset()
	if code := run([]string{"doctor", "--config", literal, skip}, &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), "WARNING    config     secrets") || strings.Contains(stdout.String(), "fbcanary") {
		t.Errorf("a literal secret: exit %d\n%s", code, stdout.String())
	}
	missing := writeFile(t, "slack:\n  bot_token: env:FIREBREAK_TEST_UNSET\n")
	stdout.Reset()
	if code := run([]string{"doctor", "--config", missing, skip}, &stdout, &stderr); code != exitFailed ||
		!strings.Contains(stdout.String(), "slack.bot_token: env:FIREBREAK_TEST_UNSET: the environment variable FIREBREAK_TEST_UNSET is not set") {
		t.Errorf("an unresolved reference: exit %d\n%s", code, stdout.String())
	}
}
