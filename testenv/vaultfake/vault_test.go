package vaultfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
	"github.com/firebreak-dev/firebreak/testenv/vaultfake"
)

// vaultTestClient returns an unmodified Vault API client pointed at v, with token set and
// client-side retries off so error statuses surface at once.
func vaultTestClient(t *testing.T, v *vaultfake.Vault, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = v.URL()
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient: %v", err)
	}
	c.SetToken(token)
	return c
}

func vaultStatus(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func TestVaultTokenAuth(t *testing.T) {
	rec := &fakebase.Recorder{}
	v := vaultfake.New(seed.DefaultOrg(), rec)
	defer v.Close()
	ctx := context.Background()
	aliceToken, ok := v.TokenSecret("acc-alice-laptop")
	if !ok {
		t.Fatal("sandbox has no token acc-alice-laptop")
	}

	tests := []struct {
		name       string
		token      string
		wantStatus int // 0: success
	}{
		{"root", v.RootToken(), 0},
		{"seeded token", aliceToken, 0},
		{"no token", "", http.StatusForbidden},
		{"unknown token", "hvs.nope", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := vaultTestClient(t, v, tc.token)
			if tc.token == "" {
				c.ClearToken()
			}
			s, err := c.Auth().Token().LookupSelfWithContext(ctx)
			if got := vaultStatus(err); got != tc.wantStatus {
				t.Fatalf("lookup-self status = %d (err %v), want %d", got, err, tc.wantStatus)
			}
			if tc.wantStatus == 0 && (s == nil || s.Data["accessor"] == nil) {
				t.Fatalf("lookup-self returned no accessor: %#v", s)
			}
			if tc.wantStatus == http.StatusForbidden && !strings.Contains(err.Error(), "permission denied") {
				t.Fatalf("error %q does not say permission denied", err)
			}
		})
	}
	if !fakebase.ContainsCanary(v.RootToken()) || !fakebase.ContainsCanary(aliceToken) {
		t.Error("sandbox tokens must contain the canary")
	}
}

func TestVaultRevokeAccessor(t *testing.T) {
	rec := &fakebase.Recorder{}
	v := vaultfake.New(seed.DefaultOrg(), rec)
	defer v.Close()
	ctx := context.Background()
	root := vaultTestClient(t, v, v.RootToken())
	aliceToken, _ := v.TokenSecret("acc-alice-laptop")
	alice := vaultTestClient(t, v, aliceToken)

	list, err := root.Logical().ListWithContext(ctx, "auth/token/accessors")
	if err != nil || list == nil {
		t.Fatalf("LIST auth/token/accessors: %v %v", list, err)
	}
	keys, _ := list.Data["keys"].([]any)
	if len(keys) != 5 {
		t.Fatalf("accessors = %v, want the 5 seeded", keys)
	}

	look, err := root.Auth().Token().LookupAccessorWithContext(ctx, "acc-alice-laptop")
	if err != nil {
		t.Fatalf("lookup-accessor: %v", err)
	}
	if look.Data["id"] != "" || look.Data["entity_id"] != v.EntityID("alice") || look.Data["display_name"] != "oidc-alice@example.test" {
		t.Fatalf("lookup-accessor data = %v", look.Data)
	}

	if err := root.Auth().Token().RevokeAccessorWithContext(ctx, "acc-alice-laptop"); err != nil {
		t.Fatalf("revoke-accessor: %v", err)
	}
	if v.TokenValid("acc-alice-laptop") || !v.TokenValid("acc-alice-ci") {
		t.Fatal("revoke-accessor revoked the wrong token")
	}
	if _, err := alice.Auth().Token().LookupSelfWithContext(ctx); vaultStatus(err) != http.StatusForbidden {
		t.Fatalf("revoked token lookup-self: err %v, want 403", err)
	}
	if _, err := root.Auth().Token().LookupAccessorWithContext(ctx, "acc-alice-laptop"); vaultStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "invalid accessor") {
		t.Fatalf("lookup of revoked accessor: err %v, want 400 invalid accessor", err)
	}
	// Revoking again is not an error: Vault answers 200 with a warning.
	s, err := root.Logical().WriteWithContext(ctx, "auth/token/revoke-accessor", map[string]any{"accessor": "acc-alice-laptop"})
	if err != nil || s == nil || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "No token found") {
		t.Fatalf("second revoke: secret %#v err %v, want a 'No token found' warning", s, err)
	}
	if n := rec.Count("vault", "POST auth/token/revoke-accessor"); n != 2 {
		t.Fatalf("recorded %d revoke-accessor calls, want 2", n)
	}
}

func TestVaultEntity(t *testing.T) {
	v := vaultfake.New(seed.DefaultOrg(), &fakebase.Recorder{})
	defer v.Close()
	ctx := context.Background()
	root := vaultTestClient(t, v, v.RootToken())
	aliceToken, _ := v.TokenSecret("acc-alice-ci")
	alice := vaultTestClient(t, v, aliceToken)

	s, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/alice")
	if err != nil || s == nil {
		t.Fatalf("read entity: %v %v", s, err)
	}
	id, _ := s.Data["id"].(string)
	if id != v.EntityID("alice") || len(id) != 36 {
		t.Fatalf("entity id = %q, want the stable UUID %q", id, v.EntityID("alice"))
	}
	if s, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/mallory"); s != nil || err != nil {
		t.Fatalf("unknown entity: %v %v, want nil, nil (404)", s, err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity/id/"+id, map[string]any{"disabled": true}); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if !v.EntityDisabled("alice") {
		t.Fatal("entity not disabled")
	}
	if _, err := alice.Auth().Token().LookupSelfWithContext(ctx); vaultStatus(err) != http.StatusForbidden {
		t.Fatalf("token of disabled entity: err %v, want 403", err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "identity/entity/id/nope", map[string]any{"disabled": true}); vaultStatus(err) != http.StatusBadRequest {
		t.Fatalf("update unknown entity: err %v, want 400", err)
	}
	p, err := root.Logical().ReadWithContext(ctx, "sys/policies/acl/ci-deployer")
	if err != nil || p == nil || !strings.Contains(p.Data["policy"].(string), "shared/ci/+") {
		t.Fatalf("read policy: %v %v", p, err)
	}
}

func TestVaultKV(t *testing.T) {
	v := vaultfake.New(seed.DefaultOrg(), &fakebase.Recorder{})
	defer v.Close()
	ctx := context.Background()
	root := vaultTestClient(t, v, v.RootToken())
	kv := root.KVv2("secret")

	sec, err := kv.Get(ctx, "shared/payments-db")
	if err != nil || sec.VersionMetadata.Version != 1 || !fakebase.ContainsCanary(sec.Data["password"].(string)) {
		t.Fatalf("get: %#v %v", sec, err)
	}

	tests := []struct {
		name        string
		cas         int
		wantVersion int
		wantErr     string
	}{
		{"cas matches", 1, 2, ""},
		{"stale cas", 1, 0, "check-and-set parameter did not match the current version"},
		{"cas matches again", 2, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := kv.Put(ctx, "shared/payments-db", map[string]any{"password": "new-" + fakebase.Canary}, api.WithCheckAndSet(tc.cas))
			if tc.wantErr != "" {
				if vaultStatus(err) != http.StatusBadRequest || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want 400 %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || s.VersionMetadata.Version != tc.wantVersion {
				t.Fatalf("put: %#v %v, want version %d", s, err, tc.wantVersion)
			}
		})
	}
	old, err := kv.GetVersion(ctx, "shared/payments-db", 1)
	if err != nil || old.Data["username"] != "payments" {
		t.Fatalf("version 1 not kept: %#v %v", old, err)
	}
	if err := kv.PutMetadata(ctx, "shared/payments-db", api.KVMetadataPutInput{CustomMetadata: map[string]any{"owner": "payments"}}); err != nil {
		t.Fatalf("put metadata: %v", err)
	}
	md, err := kv.GetMetadata(ctx, "shared/payments-db")
	if err != nil || md.CurrentVersion != 3 || len(md.Versions) != 3 || md.CustomMetadata["owner"] != "payments" {
		t.Fatalf("metadata: %#v %v", md, err)
	}

	lists := []struct {
		path string
		want []any
	}{
		{"secret/metadata/shared", []any{"analytics-db", "ci/", "payments-db", "stripe-api"}},
		{"secret/metadata/shared/ci/", []any{"deploy-key", "nested/", "webhook-hmac"}},
		{"secret/metadata/", []any{"dev/", "shared/"}},
	}
	for _, l := range lists {
		s, err := root.Logical().ListWithContext(ctx, l.path)
		if err != nil || s == nil {
			t.Fatalf("LIST %s: %v %v", l.path, s, err)
		}
		if got := s.Data["keys"].([]any); !equalAny(got, l.want) {
			t.Errorf("LIST %s = %v, want %v", l.path, got, l.want)
		}
	}
	if s, err := root.Logical().ListWithContext(ctx, "secret/metadata/nothing-here"); s != nil || err != nil {
		t.Fatalf("empty LIST: %v %v, want nil, nil (404)", s, err)
	}
	if _, err := root.Logical().DeleteWithContext(ctx, "auth/token/accessors"); vaultStatus(err) != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE accessors: %v, want 405", err)
	}
}

func TestVaultFault(t *testing.T) {
	v := vaultfake.New(seed.DefaultOrg(), &fakebase.Recorder{})
	defer v.Close()
	v.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"errors":["Vault is sealed"]}`))
		return true
	})
	root := vaultTestClient(t, v, v.RootToken())
	if _, err := root.Logical().ReadWithContext(context.Background(), "sys/policies/acl/default"); vaultStatus(err) != http.StatusServiceUnavailable {
		t.Fatalf("with fault: %v, want 503", err)
	}
	v.SetFault(nil)
	if _, err := root.Logical().ReadWithContext(context.Background(), "sys/policies/acl/default"); err != nil {
		t.Fatalf("without fault: %v", err)
	}
}

func equalAny(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
