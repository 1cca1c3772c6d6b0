package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
)

const examplePath = "../deploy/firebreak.example.yaml"

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDecodeErrorsNamePositions(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // substrings of the error, in order
	}{
		{"unknown key with a suggestion", "temporal:\n  adress: x:1\n", []string{`f.yaml:2:3: temporal: unknown key "adress"; did you mean "address"?`}},
		{"unknown top-level key", "slak:\n  bot_token: env:X\n", []string{`f.yaml:1:1: unknown key "slak"; did you mean "slack"?`}},
		{"nothing close", "zzzzzzzzz: 1\n", []string{`f.yaml:1:1: unknown key "zzzzzzzzz"; expected one of temporal, vault`}},
		{"bool for a string", "temporal:\n  namespace: true\n", []string{`f.yaml:2:14: temporal.namespace: expected a string, found the boolean true`}},
		{"string for a bool", "temporal:\n  tls:\n    enabled: \"yes\"\n", []string{`f.yaml:3:14: temporal.tls.enabled: expected true or false, found "yes"`}},
		{"list for a mapping", "vault: [a, b]\n", []string{`f.yaml:1:8: vault: expected a mapping of address, namespace, ca_cert, auth, …, found a list`}},
		{"mapping for a list", "directory: {subject: a}\n", []string{`f.yaml:1:12: directory: expected a list, found a mapping`}},
		{"repeated key", "slack:\n  api_url: https://a\n  api_url: https://b\n", []string{`f.yaml:3:3: slack: "api_url" appears twice`}},
		{"chatops keys too", "roles:\n  responder: {userz: [U1]}\n", []string{`f.yaml:2:15: roles.responder: unknown key "userz"; did you mean "users"?`}},
		{"several at once", "temporal:\n  adress: x\nlogging:\n  levle: info\n", []string{`f.yaml:2:3`, `f.yaml:4:3: logging: unknown key "levle"; did you mean "level"?`}},
		{"syntax", "temporal: [\n", []string{`f.yaml: line`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("decoded without an error")
			}
			msg, at := err.Error(), 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error\n%s\nlacks (in order) %q", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}

func TestValidateValues(t *testing.T) {
	src := `temporal:
  address: no-port
  tls: {cert: c.pem}
vault:
  address: vault.internal
  auth: ldap
  approle: {role_id: r, secret_id: "vault:secret/x#y"}
logging: {format: xml}
evidence:
  s3: {url: "https://bucket", retain: forever}
http_services:
  - {name: edge, base_url: "ftp://x", headers: {Authorization: Bearer abc}}
  - {name: edge, base_url: "https://y"}
pagerduty:
  rules: [{service: P1}]
slack:
  bot_token: "vault:secret/no-field"
`
	c, err := config.Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Validate()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Validate: %v; want a *config.Error", err)
	}
	for _, want := range []string{
		`f.yaml:2:12: temporal.address: expected host:port (e.g. 127.0.0.1:7233), found "no-port"`,
		`temporal.tls: cert and key go together`,
		`f.yaml:5:12: vault.address: expected an http(s) URL`,
		`f.yaml:6:9: vault.auth: expected one of token, approle, kubernetes, found "ldap"`,
		`vault.approle.secret_id: expected env:NAME`,
		`logging.format: expected one of text, json, found "xml"`,
		`evidence.s3.url: expected s3://bucket/prefix, found "https://bucket"`,
		`evidence.s3.retain: expected a positive duration`,
		`http_services[0].base_url: expected an http(s) URL`,
		`http_services[0].headers.Authorization: Authorization carries a credential: move it to secret_headers`,
		`http_services[1].name: "edge" is listed twice`,
		`pagerduty.rules[0]: expected a playbook name, found none`,
		`slack.bot_token: expected vault:MOUNT/PATH#FIELD`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%s", want, err)
		}
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	c, err := config.Parse("f.yaml", []byte(`temporal: {address: "file:7233", namespace: from-file}
logging: {format: text}
evidence: {s3: {path_style: true}}
slack: {bot_token: "env:MY_SLACK"}
`))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"TEMPORAL_ADDRESS": "env:7233", "FIREBREAK_LOG_FORMAT": "json", "MY_SLACK": "xoxb-fbcanary-env", "TEMPORAL_NAMESPACE": ""}
	eff, err := c.Effective(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if eff.Temporal.Address != "env:7233" || eff.Logging.Format != "json" || eff.Temporal.Namespace != "from-file" {
		t.Errorf("effective: address %q format %q namespace %q; want the environment's, and the file's where the variable is empty", eff.Temporal.Address, eff.Logging.Format, eff.Temporal.Namespace)
	}
	if e, ok := eff.FromEnv("temporal.address"); !ok || e != "TEMPORAL_ADDRESS" {
		t.Errorf("FromEnv(temporal.address) = %q, %v", e, ok)
	}
	vals, err := config.Resolve(context.Background(), c, config.ResolveOptions{Lookup: env(vars)})
	if err != nil {
		t.Fatal(err)
	}
	// The file's values, except where the environment overrides (the caller reads it first).
	for name, want := range map[string]string{"TEMPORAL_ADDRESS": "", "TEMPORAL_NAMESPACE": "from-file", "FIREBREAK_S3_PATH_STYLE": "true", "SLACK_BOT_TOKEN": "xoxb-fbcanary-env", "FIREBREAK_LOG_FORMAT": ""} {
		if got := vals.Get(name); got != want {
			t.Errorf("Values.Get(%s) = %q, want %q", name, got, want)
		}
	}
	if s := fmt.Sprint(vals) + fmt.Sprintf("%#v", vals); strings.Contains(s, "fbcanary") {
		t.Errorf("Values print a secret: %s", s)
	}
	// An override is validated and named as the variable.
	eff, err = c.Effective(env(map[string]string{"FIREBREAK_LOG_FORMAT": "xml"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eff.Validate(); err == nil || !strings.Contains(err.Error(), `FIREBREAK_LOG_FORMAT (overrides logging.format): expected one of text, json, found "xml"`) {
		t.Errorf("an invalid override: %v", err)
	}
	if _, err := c.Effective(env(map[string]string{"TEMPORAL_TLS": "sometimes"})); err == nil || !strings.Contains(err.Error(), "TEMPORAL_TLS (overrides temporal.tls.enabled): expected true or false") {
		t.Errorf("a bad boolean override: %v", err)
	}
	// An env: reference to an unset variable.
	if _, err := config.Resolve(context.Background(), c, config.ResolveOptions{Lookup: env(nil)}); !errors.Is(err, config.ErrReference) || !strings.Contains(err.Error(), "slack.bot_token: env:MY_SLACK: the environment variable MY_SLACK is not set") {
		t.Errorf("unset env: reference: %v", err)
	}
}

func TestVaultReferencesResolve(t *testing.T) {
	v := testenv.NewVault(testenv.DefaultOrg(), &testenv.Recorder{})
	defer v.Close()
	v.PutSecret("secret", "firebreak/slack", map[string]string{"bot_token": "xoxb-fbcanary-vault", "signing_secret": "fbcanary-signing"})
	v.PutSecret("secret", "firebreak/edge", map[string]string{"authorization": "Bearer fbcanary-edge"})
	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: v.URL()})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(v.RootToken())
	reads := 0
	kv := func(ctx context.Context, mount, path string) (map[string]any, error) {
		reads++
		s, err := vc.KVv2(mount).Get(ctx, path)
		if errors.Is(err, vaultapi.ErrSecretNotFound) {
			return nil, config.ErrSecretNotFound
		}
		if err != nil {
			return nil, err
		}
		return s.Data, nil
	}
	c, err := config.Parse("f.yaml", []byte(`slack:
  bot_token: vault:secret/firebreak/slack#bot_token
  signing_secret: vault:secret/firebreak/slack#signing_secret
http_services:
  - name: edge
    base_url: https://edge.example
    headers: {X-Team: sec}
    secret_headers: {Authorization: "vault:secret/firebreak/edge#authorization"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if n := config.VaultReferences(c, env(nil)); n != 3 {
		t.Errorf("VaultReferences = %d, want 3", n)
	}
	vals, err := config.Resolve(context.Background(), c, config.ResolveOptions{Vault: kv})
	if err != nil {
		t.Fatal(err)
	}
	if vals.Get("SLACK_BOT_TOKEN") != "xoxb-fbcanary-vault" || vals.Get("SLACK_SIGNING_SECRET") != "fbcanary-signing" {
		t.Errorf("resolved slack secrets do not match what Vault holds")
	}
	if reads != 2 {
		t.Errorf("%d KV reads; want one per secret path (2)", reads)
	}
	var services []map[string]any
	if err := json.Unmarshal([]byte(vals.Get("FIREBREAK_HTTP_SERVICES")), &services); err != nil {
		t.Fatal(err)
	}
	if h, _ := services[0]["headers"].(map[string]any); h["Authorization"] != "Bearer fbcanary-edge" || h["X-Team"] != "sec" {
		t.Errorf("http service headers: %v", h)
	}
	// SkipVault (drills, dev) reads nothing.
	reads = 0
	if vals, err := config.Resolve(context.Background(), c, config.ResolveOptions{Vault: kv, SkipVault: true}); err != nil || vals.Get("SLACK_BOT_TOKEN") != "" || reads != 0 {
		t.Errorf("SkipVault: err %v, %d reads", err, reads)
	}

	for _, tc := range []struct{ ref, want string }{
		{"vault:secret/firebreak/nothing#bot_token", "slack.bot_token: vault:secret/firebreak/nothing#bot_token: Vault has no secret at secret/data/firebreak/nothing"},
		{"vault:secret/firebreak/slack#app_token", `slack.bot_token: vault:secret/firebreak/slack#app_token: the secret at secret/data/firebreak/slack has no field "app_token" (it has fields bot_token, signing_secret)`},
		{"vault:nomount/firebreak/slack#bot_token", "slack.bot_token: vault:nomount/firebreak/slack#bot_token: Vault has no secret at nomount/data/firebreak/slack"},
	} {
		c, err := config.Parse("f.yaml", []byte("slack: {bot_token: \""+tc.ref+"\"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = config.Resolve(context.Background(), c, config.ResolveOptions{Vault: kv})
		if !errors.Is(err, config.ErrReference) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.ref, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "fbcanary") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
	// No Vault configured at all.
	if _, err := config.Resolve(context.Background(), c, config.ResolveOptions{}); err == nil || !strings.Contains(err.Error(), "no Vault to read it from") {
		t.Errorf("without a Vault: %v", err)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	c, err := config.Parse("f.yaml", []byte(`slack:
  bot_token: xoxb-fbcanary-literal
  signing_secret: vault:secret/firebreak/slack#signing_secret
pagerduty: {token: "env:PD"}
http_services: [{name: edge, base_url: "https://e", secret_headers: {Authorization: Bearer fbcanary-literal-header}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	eff, err := c.Effective(env(map[string]string{"OIDC_CLIENT_SECRET": "fbcanary-from-env", "OIDC_ISSUER": "https://idp", "OIDC_CLIENT_ID": "fb"}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := eff.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "fbcanary") {
		t.Errorf("Redacted shows a secret:\n%s", out)
	}
	for _, want := range []string{"<redacted literal>", "vault:secret/firebreak/slack#signing_secret", "env:PD", "<redacted: from OIDC_CLIENT_SECRET>", "issuer: https://idp"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Redacted lacks %q:\n%s", want, out)
		}
	}
	warnings, err := eff.Validate()
	if err != nil {
		t.Fatal(err)
	}
	var ws []string
	for _, w := range warnings {
		ws = append(ws, w.String())
	}
	all := strings.Join(ws, "\n")
	if len(warnings) != 2 || !strings.Contains(all, "f.yaml:2:14: slack.bot_token: a literal secret in the file") || !strings.Contains(all, "http_services[0].secret_headers.Authorization: a literal secret") {
		t.Errorf("warnings: want the two literals (not the one from the environment), got\n%s", all)
	}
	if strings.Contains(all+fmt.Sprintf("%v %#v", eff.Slack.BotToken, eff.Slack), "fbcanary") {
		t.Errorf("a warning or %%v shows a secret")
	}
}

// TestChatopsFilesStillLoad: a chatops config file (FIREBREAK_CONFIG before firebreak.yaml) is a
// valid firebreak.yaml, and every chatops key has its place.
func TestChatopsFilesStillLoad(t *testing.T) {
	c, err := config.Parse("chatops.yaml", []byte(`
slack:
  bot_token: xoxb-from-file
directory:
  - {subject: alice, email: alice@example.test}
roles:
  responder: {users: [U0BOB], groups: [S0SEC]}
default_start_roles: [responder]
temporal_ui_url: http://127.0.0.1:8233/namespaces/default
pagerduty:
  rules:
    - {service: PSVCDEV, urgency: high, playbook: compromised-dev-key, inputs: {subject: {from: title, pattern: 'for (\w+)'}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Chatops()
	if len(cc.Directory) != 1 || cc.Roles["responder"].Groups[0] != "S0SEC" || cc.PagerDuty.Rules[0].Inputs["subject"].Pattern != `for (\w+)` || cc.TemporalUIURL == "" || cc.DefaultStartRoles[0] != "responder" {
		t.Errorf("chatops part: %+v", cc)
	}
	// Every yaml key of chatops.Config is a key of firebreak.yaml.
	keys := map[string]bool{}
	for _, k := range config.Keys() {
		keys[k.Path] = true
	}
	var walk func(t reflect.Type, prefix string)
	var missing []string
	walk = func(ty reflect.Type, prefix string) {
		for i := 0; i < ty.NumField(); i++ {
			name, _, _ := strings.Cut(ty.Field(i).Tag.Get("yaml"), ",")
			path := prefix + name
			if ty.Field(i).Type.Kind() == reflect.Struct {
				walk(ty.Field(i).Type, path+".")
				continue
			}
			if !keys[path] {
				missing = append(missing, path)
			}
		}
	}
	walk(reflect.TypeOf(chatops.Config{}), "")
	if len(missing) > 0 {
		t.Errorf("chatops keys firebreak.yaml does not have (add them to config.Config and Chatops): %v", missing)
	}
}

func TestKeysAreDocumented(t *testing.T) {
	envs := map[string]string{}
	for _, k := range config.Keys() {
		if k.Doc == "" {
			t.Errorf("%s has no description (doc tag, or chatopsDocs for chatops types)", k.Path)
		}
		if k.Env != "" {
			if other, dup := envs[k.Env]; dup {
				t.Errorf("%s and %s share %s: one variable per key", other, k.Path, k.Env)
			}
			envs[k.Env] = k.Path
		}
	}
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), config.Markdown()) {
		t.Errorf("docs/configuration.md does not hold the current key table: regenerate it with `firebreak config keys`")
	}
}

// TestExampleValidates: deploy/firebreak.example.yaml decodes, validates without warnings, sets
// every top-level key, and agrees with the JSON Schema.
func TestExampleValidates(t *testing.T) {
	c, err := config.Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := c.Validate()
	if err != nil || len(warnings) > 0 {
		t.Fatalf("example: %v, warnings %v", err, warnings)
	}
	src, _ := os.ReadFile(examplePath)
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		top, _, _ := strings.Cut(strings.Split(k.Path, "[]")[0], ".")
		if _, ok := doc[top]; !ok {
			t.Errorf("the example does not show %s", top)
		}
	}
	schema := loadSchema(t)
	if errs := validateSchema(schema, toJSON(t, doc), ""); len(errs) > 0 {
		t.Errorf("the example does not match the schema:\n%s", strings.Join(errs, "\n"))
	}
	// And the schema rejects what the decoder rejects.
	for _, bad := range []string{"temporal: {adress: x}", "vault: {auth: ldap}", "slack: {bot_token: xoxb-literal}", "temporal: {tls: {enabled: \"yes\"}}", "evidence: {s3: {retain: forever}}"} {
		var d map[string]any
		if err := yaml.Unmarshal([]byte(bad), &d); err != nil {
			t.Fatal(err)
		}
		if errs := validateSchema(schema, toJSON(t, d), ""); len(errs) == 0 {
			t.Errorf("the schema accepts %q", bad)
		}
	}
	// Cross-check with a real JSON Schema implementation when one is installed.
	if _, err := exec.LookPath("python3"); err == nil && exec.Command("python3", "-c", "import jsonschema").Run() == nil {
		dir := t.TempDir()
		b, _ := config.JSONSchema()
		doc, _ := json.Marshal(toJSON(t, doc))
		os.WriteFile(filepath.Join(dir, "s.json"), b, 0o600)
		os.WriteFile(filepath.Join(dir, "d.json"), doc, 0o600)
		out, err := exec.Command("python3", "-c", `import json,sys,jsonschema
s=json.load(open(sys.argv[1])); jsonschema.Draft7Validator.check_schema(s)
jsonschema.validate(json.load(open(sys.argv[2])), s, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)`, filepath.Join(dir, "s.json"), filepath.Join(dir, "d.json")).CombinedOutput()
		if err != nil {
			t.Errorf("python jsonschema: %v\n%s", err, out)
		}
	} else {
		t.Log("python3 jsonschema not installed: checked with the test's own validator only")
	}
}

func loadSchema(t *testing.T) map[string]any {
	b, err := config.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func toJSON(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// validateSchema checks v against the subset of JSON Schema that JSONSchema emits: type,
// properties, additionalProperties, required, items, enum, pattern.
func validateSchema(s map[string]any, v any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		fail("%v not in %v", v, enum)
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("expected an object")
			return errs
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				fail("missing %s", r)
			}
		}
		for k, val := range m {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, validateSchema(ps, val, path+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				errs = append(errs, validateSchema(ap, val, path+"."+k)...)
			} else if s["additionalProperties"] == false {
				fail("unexpected property %s", k)
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			fail("expected an array")
			return errs
		}
		for i, item := range l {
			errs = append(errs, validateSchema(s["items"].(map[string]any), item, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("expected a string, found %v", v)
			return errs
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("expected a boolean, found %v", v)
		}
	}
	return errs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestDirectoryOfIdentities: directory entries say where each person is found in Vault and
// AWS, exactly as issue 14 writes them, and mistakes are named with their position.
func TestDirectoryOfIdentities(t *testing.T) {
	const src = `directory:
  - subject: alice
    email: alice@example.com
    slack_id: U0ALICE
    vault:
      alias: {mount: oidc, name: alice@example.com}
    aws:
      iam_user: alice.smith
  - subject: bob
    email: bob@example.com
    vault: {entity_id: 0b1c2d3e-0000-0000-0000-000000000000}
    aws: none
  - subject: carol
    email: carol@example.com
    vault: {entity: carol-entity}
`
	c, err := config.Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := runs.DirectoryFor(chatops.Identities(c.Directory), map[string]any{"subject": "alice", "others": []any{"bob"}, "reason": "x"})
	b, _ := json.Marshal(got)
	want := `[{"subject":"alice","email":"alice@example.com","slack_id":"U0ALICE","vault":{"alias":{"mount":"oidc","name":"alice@example.com"}},"aws":{"iam_user":"alice.smith"}},` +
		`{"subject":"bob","email":"bob@example.com","vault":{"entity_id":"0b1c2d3e-0000-0000-0000-000000000000"},"aws":{"none":true}}]`
	if string(b) != want {
		t.Errorf("directory carried into a run:\n got %s\nwant %s", b, want)
	}

	for _, tc := range []struct{ name, src, want string }{
		{"unknown key", "directory:\n  - subject: a\n    email: a@x\n    vault: {alias: {mount: oidc, name: a}, entitty: b}\n", `f.yaml:4:44: directory[0].vault: unknown key "entitty"; did you mean "entity"?`},
		{"unknown key in alias", "directory:\n  - subject: a\n    email: a@x\n    vault: {alias: {mount: oidc, nme: a}}\n", `directory[0].vault.alias: unknown key "nme"; did you mean "name"?`},
		{"aws scalar", "directory:\n  - subject: a\n    email: a@x\n    aws: nobody\n", `f.yaml:4:10: directory[0].aws: expected none (no IAM user) or a mapping {iam_user: NAME}, found "nobody"`},
		{"aws unknown key", "directory:\n  - subject: a\n    email: a@x\n    aws: {iam_usr: a}\n", `directory[0].aws: unknown key "iam_usr"; did you mean "iam_user"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("f.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, src, want string }{
		{"two ways", "directory:\n  - subject: a\n    email: a@x\n    vault: {entity: a, entity_id: b}\n", "f.yaml:4:12: directory[0].vault: expected exactly one of alias, entity or entity_id, found 2"},
		{"alias without mount", "directory:\n  - subject: a\n    email: a@x\n    vault: {alias: {name: a}}\n", "expected both mount"},
		{"aws empty", "directory:\n  - subject: a\n    email: a@x\n    aws: {}\n", "f.yaml:4:10: directory[0].aws: expected iam_user: NAME, or aws: none"},
		{"twice", "directory:\n  - {subject: a, email: a@x}\n  - {subject: a, email: b@x}\n", `subject "a" is also directory[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("f.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v; want %q", err, tc.want)
			}
		})
	}
	schema, err := config.JSONSchema()
	if err != nil || !strings.Contains(string(schema), `"const": "none"`) || !strings.Contains(string(schema), `"entity_id"`) {
		t.Errorf("the JSON Schema lacks the directory's vault and aws keys (err %v)", err)
	}
}
