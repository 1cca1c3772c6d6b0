package vault_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/realserver"
)

// startOpenBao starts a real OpenBao dev server (BAO_BIN, or ../shared/tools/openbao/bao
// beside the repository) and returns its address and root token; the test is skipped when
// there is none.
func startOpenBao(t *testing.T) (addr, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip("cross-check against a real OpenBao server skipped in -short mode")
	}
	b := realserver.StartOpenBao(t, "root-"+testenv.Canary)
	return b.Addr, b.Root
}

func baoClient(t *testing.T, addr, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// seedOpenBao loads org into a dev server: policies, one entity per developer bound to a
// userpass user, one token per seeded token (a userpass login with the token's policies), and
// the KV v2 secrets. It returns the accessors of each developer's tokens, sorted.
func seedOpenBao(t *testing.T, c *api.Client, org *testenv.Org) map[string][]string {
	t.Helper()
	ctx := context.Background()
	must := func(_ *api.Secret, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding OpenBao: %v", err)
		}
	}
	for _, p := range org.VaultPolicies {
		must(c.Logical().WriteWithContext(ctx, "sys/policies/acl/"+p.Name, map[string]any{"policy": p.HCL}))
	}
	// Vault allows one alias per entity and auth mount, so each token index gets its own
	// userpass mount.
	mountAccessors := map[int]string{}
	userpass := func(i int) (string, string) {
		t.Helper()
		mount := fmt.Sprintf("userpass%d", i)
		if acc, ok := mountAccessors[i]; ok {
			return mount, acc
		}
		if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &api.EnableAuthOptions{Type: "userpass"}); err != nil {
			t.Fatal(err)
		}
		auths, err := c.Sys().ListAuthWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mountAccessors[i] = auths[mount+"/"].Accessor
		return mount, mountAccessors[i]
	}
	accessors := map[string][]string{}
	for _, d := range org.Developers {
		e, err := c.Logical().WriteWithContext(ctx, "identity/entity", map[string]any{"name": d.Name, "policies": d.VaultPolicies})
		if err != nil {
			t.Fatal(err)
		}
		id := e.Data["id"].(string)
		for i, tok := range d.VaultTokens {
			mount, mountAccessor := userpass(i)
			user := d.Name
			pw := "pw-" + testenv.Canary
			must(c.Logical().WriteWithContext(ctx, "auth/"+mount+"/users/"+user, map[string]any{"password": pw, "token_policies": tok.Policies, "token_ttl": tok.TTL.String()}))
			must(c.Logical().WriteWithContext(ctx, "identity/entity-alias", map[string]any{"name": user, "canonical_id": id, "mount_accessor": mountAccessor}))
			login, err := c.Logical().WriteWithContext(ctx, "auth/"+mount+"/login/"+user, map[string]any{"password": pw})
			if err != nil {
				t.Fatal(err)
			}
			accessors[d.Name] = append(accessors[d.Name], login.Auth.Accessor)
		}
		sort.Strings(accessors[d.Name])
	}
	for _, s := range org.Secrets {
		data := map[string]any{}
		for k, v := range s.Data {
			data[k] = v
		}
		must(c.Logical().WriteWithContext(ctx, s.Mount+"/data/"+s.Path, map[string]any{"data": data}))
		if s.Metadata != nil {
			custom := map[string]any{}
			for k, v := range s.Metadata {
				custom[k] = v
			}
			must(c.Logical().WriteWithContext(ctx, s.Mount+"/metadata/"+s.Path, map[string]any{"custom_metadata": custom}))
		}
	}
	return accessors
}

// TestAgainstOpenBao runs the activities against a real OpenBao dev server seeded like the
// sandbox, and expects what the sandbox tests expect.
func TestAgainstOpenBao(t *testing.T) {
	addr, root := startOpenBao(t)
	c := baoClient(t, addr, root)
	accessors := seedOpenBao(t, c, testenv.DefaultOrg())
	h := &harness{t: t, logs: &lockedBuffer{}}
	acts := &vault.Activities{Client: c.Logical(), NewSecret: func(path, field string, _ vault.Format) (string, error) {
		return "rotated-" + testenv.Canary + "-" + field, nil
	}}
	// No database engine or rotation service here (TestRotationAgainstOpenBaoAndPostgres has
	// them): these two are rotated by generate.
	for path, how := range map[string]string{"shared/payments-db": "generate:password", "shared/stripe-api": "generate:api_key"} {
		if _, err := c.Logical().Write("secret/metadata/"+path, map[string]any{"custom_metadata": map[string]any{vault.MetaRotate: how}}); err != nil {
			t.Fatal(err)
		}
	}

	var inv vault.InventoryResult
	if err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "alice", SecretPrefix: "shared/"}, &inv); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	wantPaths := []string{"secret/shared/ci/deploy-key", "secret/shared/ci/webhook-hmac", "secret/shared/payments-db", "secret/shared/stripe-api"}
	if !reflect.DeepEqual(inv.Accessors, accessors["alice"]) || !reflect.DeepEqual(inv.ReadablePaths, wantPaths) {
		t.Fatalf("inventory accessors %v paths %v, want %v %v", inv.Accessors, inv.ReadablePaths, accessors["alice"], wantPaths)
	}
	var unknown vault.InventoryResult
	if err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "mallory"}, &unknown); err != nil || unknown.Status != vault.StatusAbsent {
		t.Fatalf("unknown subject: %+v %v, want absent", unknown, err)
	}

	var vr vault.VerifyResult
	vin := vault.VerifyRevokedInput{Accessors: inv.Accessors, EntityID: inv.EntityID}
	if err := h.run(acts, "VerifyRevoked", vin, &vr); err != nil || vr.Passed {
		t.Fatalf("VerifyRevoked before: %+v %v, want not passed", vr, err)
	}
	for i, want := range [][]string{inv.Accessors, {}} {
		var rv vault.RevokeTokensResult
		if err := h.run(acts, "RevokeTokens", vault.RevokeTokensInput{Accessors: inv.Accessors}, &rv); err != nil {
			t.Fatalf("RevokeTokens #%d: %v", i+1, err)
		}
		if !reflect.DeepEqual(rv.Revoked, want) {
			t.Fatalf("RevokeTokens #%d: %+v, want revoked %v", i+1, rv, want)
		}
	}
	var er vault.EntityResult
	if err := h.run(acts, "DisableEntity", vault.EntityInput{EntityID: inv.EntityID}, &er); err != nil || !er.Disabled || er.WasDisabled {
		t.Fatalf("DisableEntity: %+v %v", er, err)
	}
	if err := h.run(acts, "VerifyRevoked", vin, &vr); err != nil || !vr.Passed {
		t.Fatalf("VerifyRevoked after: %+v %v, want passed", vr, err)
	}

	rin := vault.RotateSecretsInput{Secrets: inv.ReadableSecrets, IdempotencyKey: "incident-1"}
	for i := 0; i < 2; i++ {
		var rr vault.RotateSecretsResult
		if err := h.run(acts, "RotateSecrets", rin, &rr); err != nil {
			t.Fatalf("RotateSecrets #%d: %v", i+1, err)
		}
		if len(rr.Rotated) != 3 || len(rr.PendingManual) != 1 || rr.PendingManual[0].Path != "shared/ci/deploy-key" || len(rr.Failed) != 0 {
			t.Fatalf("RotateSecrets #%d: %+v, want 3 rotated and shared/ci/deploy-key pending", i+1, rr)
		}
		for _, r := range rr.Rotated {
			if r.PreviousVersion != 1 || r.NewVersion != 2 {
				t.Fatalf("RotateSecrets #%d: %+v, want 1 → 2", i+1, r)
			}
		}
	}
	md, err := c.KVv2("secret").GetMetadata(context.Background(), "shared/payments-db")
	if err != nil || md.CurrentVersion != 2 {
		t.Fatalf("payments-db metadata %+v %v, want current version 2", md, err)
	}
	h.noCanary()
}

// wireCase is one raw request whose status and error body must be the same on the sandbox
// and on OpenBao.
type wireCase struct {
	name, method, path, body string
	token                    string // "root", "revoked" or "none"
}

// TestSandboxWireMatchesOpenBao sends the same raw requests to the sandbox and to OpenBao and
// compares status codes, error messages and warnings.
func TestSandboxWireMatchesOpenBao(t *testing.T) {
	addr, root := startOpenBao(t)
	bao := baoClient(t, addr, root)
	org := testenv.DefaultOrg()
	baoAccessors := seedOpenBao(t, bao, org)
	sandbox := testenv.NewVault(org, &testenv.Recorder{})
	defer sandbox.Close()

	type target struct {
		name, addr, root, revoked, aliceID, aliceAcc string
	}
	ctx := context.Background()
	baoAlice, err := bao.Logical().ReadWithContext(ctx, "identity/entity/name/alice")
	if err != nil {
		t.Fatal(err)
	}
	// A revoked token on each side.
	baoTok, err := bao.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bao.Auth().Token().RevokeAccessorWithContext(ctx, baoTok.Auth.Accessor); err != nil {
		t.Fatal(err)
	}
	sbRevoked, _ := sandbox.TokenSecret("acc-bob-laptop")
	sbc := baoClient(t, sandbox.URL(), sandbox.RootToken())
	if err := sbc.Auth().Token().RevokeAccessorWithContext(ctx, "acc-bob-laptop"); err != nil {
		t.Fatal(err)
	}
	targets := []target{
		{"openbao", addr, root, baoTok.Auth.ClientToken, baoAlice.Data["id"].(string), baoAccessors["alice"][0]},
		{"sandbox", sandbox.URL(), sandbox.RootToken(), sbRevoked, sandbox.EntityID("alice"), "acc-alice-laptop"},
	}
	cases := []wireCase{
		{"lookup-self root", "GET", "auth/token/lookup-self", "", "root"},
		{"revoked token", "GET", "auth/token/lookup-self", "", "revoked"},
		{"no token", "GET", "auth/token/lookup-self", "", "none"},
		{"lookup unknown accessor", "POST", "auth/token/lookup-accessor", `{"accessor":"nope"}`, "root"},
		{"lookup accessor", "POST", "auth/token/lookup-accessor", `{"accessor":"{acc}"}`, "root"},
		{"revoke unknown accessor", "POST", "auth/token/revoke-accessor", `{"accessor":"nope"}`, "root"},
		{"revoke missing accessor", "POST", "auth/token/revoke-accessor", `{}`, "root"},
		{"list accessors", "LIST", "auth/token/accessors", "", "root"},
		{"list accessors via GET", "GET", "auth/token/accessors?list=true", "", "root"},
		{"entity by name", "GET", "identity/entity/name/alice", "", "root"},
		{"unknown entity by name", "GET", "identity/entity/name/mallory", "", "root"},
		{"entity by id", "GET", "identity/entity/id/{id}", "", "root"},
		{"unknown entity by id", "GET", "identity/entity/id/00000000-0000-0000-0000-000000000000", "", "root"},
		{"update unknown entity", "POST", "identity/entity/id/00000000-0000-0000-0000-000000000000", `{"disabled":true}`, "root"},
		{"policy", "GET", "sys/policies/acl/ci-deployer", "", "root"},
		{"old policy path", "GET", "sys/policy/ci-deployer", "", "root"},
		{"unknown policy", "GET", "sys/policies/acl/nope", "", "root"},
		{"kv read", "GET", "secret/data/shared/payments-db", "", "root"},
		{"kv read missing", "GET", "secret/data/shared/nope", "", "root"},
		{"kv read missing version", "GET", "secret/data/shared/payments-db?version=9", "", "root"},
		{"kv cas mismatch", "POST", "secret/data/shared/stripe-api", `{"data":{"k":"v"},"options":{"cas":7}}`, "root"},
		{"kv no data", "POST", "secret/data/shared/stripe-api", `{"options":{"cas":1}}`, "root"},
		{"kv cas ok", "POST", "secret/data/shared/analytics-db", `{"data":{"k":"v"},"options":{"cas":1}}`, "root"},
		{"kv cas zero on new", "POST", "secret/data/shared/brand-new", `{"data":{"k":"v"},"options":{"cas":0}}`, "root"},
		{"kv cas zero on existing", "POST", "secret/data/shared/ci/deploy-key", `{"data":{"k":"v"},"options":{"cas":0}}`, "root"},
		{"kv metadata", "GET", "secret/metadata/shared/payments-db", "", "root"},
		{"kv metadata write", "POST", "secret/metadata/shared/payments-db", `{"custom_metadata":{"owner":"payments"}}`, "root"},
		{"kv metadata missing", "GET", "secret/metadata/shared/nope", "", "root"},
		{"kv list", "LIST", "secret/metadata/shared", "", "root"},
		{"kv list nested", "LIST", "secret/metadata/shared/ci/", "", "root"},
		{"kv list empty", "LIST", "secret/metadata/nothing", "", "root"},
		{"unknown mount", "GET", "nomount/foo", "", "root"},
		{"unknown kv subpath", "GET", "secret/bogus/x", "", "root"},
		{"wrong method", "DELETE", "auth/token/accessors", "", "root"},
		{"entity disable", "POST", "identity/entity/id/{id}", `{"disabled":true}`, "root"},
	}
	type answer struct {
		Status   int
		Errors   []string
		Warnings []string
		DataKeys []string
		Compared string // values that must match exactly: KV listings, versions, redacted ids
	}
	results := map[string][]answer{}
	for _, tg := range targets {
		for _, tc := range cases {
			path := strings.ReplaceAll(strings.ReplaceAll(tc.path, "{id}", tg.aliceID), "{acc}", tg.aliceAcc)
			body := strings.ReplaceAll(tc.body, "{acc}", tg.aliceAcc)
			req, _ := http.NewRequest(tc.method, tg.addr+"/v1/"+path, strings.NewReader(body))
			switch tc.token {
			case "root":
				req.Header.Set("X-Vault-Token", tg.root)
			case "revoked":
				req.Header.Set("X-Vault-Token", tg.revoked)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tg.name, tc.name, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var parsed struct {
				Errors   []string       `json:"errors"`
				Warnings []string       `json:"warnings"`
				Data     map[string]any `json:"data"`
			}
			_ = json.Unmarshal(raw, &parsed)
			a := answer{Status: resp.StatusCode, Errors: parsed.Errors, Warnings: parsed.Warnings}
			for k := range parsed.Data {
				a.DataKeys = append(a.DataKeys, k)
			}
			sort.Strings(a.DataKeys)
			switch {
			case strings.HasPrefix(path, "secret/metadata") && tc.method == "LIST":
				a.Compared = fmt.Sprint(parsed.Data["keys"])
			case strings.HasPrefix(path, "secret/metadata/") && tc.method == "GET":
				a.Compared = fmt.Sprint(parsed.Data["current_version"], parsed.Data["custom_metadata"])
			case strings.HasPrefix(path, "secret/data/") && tc.method == "POST":
				a.Compared = fmt.Sprint(parsed.Data["version"])
			case strings.HasPrefix(path, "secret/data/"):
				md, _ := parsed.Data["metadata"].(map[string]any)
				a.Compared = fmt.Sprint(md["version"], parsed.Data["data"])
			case tc.name == "lookup accessor":
				a.Compared = fmt.Sprintf("id=%q", parsed.Data["id"])
			case strings.HasPrefix(path, "identity/entity/"):
				a.Compared = fmt.Sprint(parsed.Data["name"], parsed.Data["disabled"], parsed.Data["policies"])
			}
			results[tg.name] = append(results[tg.name], a)
		}
	}
	for i, tc := range cases {
		b, s := results["openbao"][i], results["sandbox"][i]
		if b.Status != s.Status || !reflect.DeepEqual(b.Errors, s.Errors) || !reflect.DeepEqual(b.Warnings, s.Warnings) {
			t.Errorf("%s: openbao %d errors=%q warnings=%q; sandbox %d errors=%q warnings=%q", tc.name, b.Status, b.Errors, b.Warnings, s.Status, s.Errors, s.Warnings)
		}
		if b.Compared != s.Compared {
			t.Errorf("%s: openbao answered %s; sandbox %s", tc.name, b.Compared, s.Compared)
		}
		if missing := missingKeys(b.DataKeys, s.DataKeys); len(missing) > 0 {
			t.Logf("%s: data keys OpenBao has and the sandbox lacks: %v", tc.name, missing)
		}
	}
}

func missingKeys(want, got []string) []string {
	have := map[string]bool{}
	for _, k := range got {
		have[k] = true
	}
	var out []string
	for _, k := range want {
		if !have[k] {
			out = append(out, k)
		}
	}
	return out
}
