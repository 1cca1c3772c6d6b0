package vault_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/realserver"
)

// realOrg sets a Vault up the way real organisations do: people log in through userpass, so
// Vault names their entities itself; a group grants a policy; a templated policy grants each
// person their own path; the auth method's user config grants policies; secrets live in two
// KV v2 mounts, inside and outside shared/; the probe role firebreak needs exists.
func realOrg(t *testing.T, c *api.Client) (entityID, liveAccessor string) {
	t.Helper()
	ctx := context.Background()
	must := func(_ *api.Secret, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, "userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().MountWithContext(ctx, "team", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	auths, err := c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	up := auths["userpass/"].Accessor
	for name, hcl := range map[string]string{
		"up-pol":   `path "secret/data/shared/a" { capabilities = ["read"] }`,
		"grp-pol":  `path "secret/data/shared/b" { capabilities = ["read"] }`,
		"tmpl-pol": `path "secret/data/users/{{identity.entity.aliases.` + up + `.name}}/*" { capabilities = ["read"] }`,
		"ent-pol":  `path "team/data/payments/*" { capabilities = ["read"] }`,
		"tok-pol":  `path "secret/data/shared/d" { capabilities = ["read"] }`,
	} {
		must(c.Logical().WriteWithContext(ctx, "sys/policies/acl/"+name, map[string]any{"policy": hcl}))
	}
	for _, p := range []string{"secret/data/shared/a", "secret/data/shared/b", "secret/data/shared/c", "secret/data/shared/d", "secret/data/users/alice/x", "secret/data/users/bob/x", "team/data/payments/db", "team/data/other/db"} {
		must(c.Logical().WriteWithContext(ctx, p, map[string]any{"data": map[string]any{"v": "value-" + testenv.Canary}}))
	}
	must(c.Logical().WriteWithContext(ctx, "auth/userpass/users/alice", map[string]any{"password": "pw-" + testenv.Canary, "token_policies": "up-pol,tmpl-pol"}))
	login, err := c.Logical().WriteWithContext(ctx, "auth/userpass/login/alice", map[string]any{"password": "pw-" + testenv.Canary})
	if err != nil {
		t.Fatal(err)
	}
	entityID = login.Auth.EntityID
	must(c.Logical().WriteWithContext(ctx, "identity/entity/id/"+entityID, map[string]any{"policies": []string{"ent-pol"}}))
	must(c.Logical().WriteWithContext(ctx, "identity/group", map[string]any{"name": "devs", "policies": []string{"grp-pol"}, "member_entity_ids": []string{entityID}}))
	// A token minted for alice's entity with an extra policy: only the live token reads shared/d.
	must(c.Logical().WriteWithContext(ctx, "auth/token/roles/ci", map[string]any{"allowed_entity_aliases": []string{"alice-ci"}, "allowed_policies": []string{"tok-pol"}, "orphan": true}))
	must(c.Logical().WriteWithContext(ctx, "identity/entity-alias", map[string]any{"name": "alice-ci", "canonical_id": entityID, "mount_accessor": auths["token/"].Accessor}))
	tok, err := c.Logical().WriteWithContext(ctx, "auth/token/create/ci", map[string]any{"entity_alias": "alice-ci", "policies": []string{"tok-pol"}})
	if err != nil {
		t.Fatal(err)
	}
	liveAccessor = tok.Auth.Accessor
	// The role is gone afterwards: only the live token still carries tok-pol.
	if _, err := c.Logical().DeleteWithContext(ctx, "auth/token/roles/ci"); err != nil {
		t.Fatal(err)
	}
	// The userpass login's own token is revoked: the next login is what remains.
	if _, err := c.Logical().WriteWithContext(ctx, "auth/token/revoke-accessor", map[string]any{"accessor": login.Auth.Accessor}); err != nil {
		t.Fatal(err)
	}
	must(c.Logical().WriteWithContext(ctx, "auth/token/roles/"+vault.DefaultProbeRole, map[string]any{
		"allowed_entity_aliases": []string{"*"}, "allowed_policies_glob": []string{"*"}, "orphan": true,
		"renewable": false, "token_explicit_max_ttl": "60s", "token_type": "service",
	}))
	return entityID, liveAccessor
}

// TestReadableSecretsAgainstOpenBao: what a person can read is Vault's answer, through an
// auto-named entity found by its alias, group and templated policies, the auth method's
// token_policies and a live token — with and without that live token.
func TestReadableSecretsAgainstOpenBao(t *testing.T) {
	if testing.Short() {
		t.Skip("real OpenBao skipped in -short mode")
	}
	bao := realserver.StartOpenBao(t, "root-"+testenv.Canary)
	c := baoClient(t, bao.Addr, bao.Root)
	entityID, live := realOrg(t, c)
	h := &harness{t: t, logs: &lockedBuffer{}}
	acts := &vault.Activities{Client: c.Logical()}
	in := vault.InventoryInput{Subject: "alice", Identity: &vault.DirectoryEntry{Subject: "alice", Vault: &vault.VaultIdentity{Alias: &vault.VaultAlias{Mount: "userpass", Name: "alice"}}}}
	var inv vault.InventoryResult
	if err := h.run(acts, "Inventory", in, &inv); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	want := []string{"secret/shared/a", "secret/shared/b", "secret/shared/d", "secret/users/alice/x", "team/payments/db"}
	if inv.EntityID != entityID || !inv.Present || inv.ReadableSource != vault.SourceVault || !reflect.DeepEqual(inv.ReadablePaths, want) || !reflect.DeepEqual(inv.Accessors, []string{live}) {
		t.Fatalf("Inventory = %+v\nwant entity %s, accessors [%s], readable %v from Vault", inv, entityID, live, want)
	}
	// Without the live token, the next login still reads everything but shared/d.
	if _, err := c.Logical().WriteWithContext(context.Background(), "auth/token/revoke-accessor", map[string]any{"accessor": live}); err != nil {
		t.Fatal(err)
	}
	if err := h.run(acts, "Inventory", in, &inv); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	want = []string{"secret/shared/a", "secret/shared/b", "secret/users/alice/x", "team/payments/db"}
	if !reflect.DeepEqual(inv.ReadablePaths, want) || len(inv.Accessors) != 0 {
		t.Fatalf("Inventory without live tokens = %v %v, want %v and no accessors", inv.ReadablePaths, inv.Accessors, want)
	}
	// The probe left nothing behind: no alias of ours, no token.
	ent, _ := c.Logical().Read("identity/entity/id/" + entityID)
	if n := len(ent.Data["aliases"].([]any)); n != 2 || len(inv.Undetermined) != 0 {
		t.Errorf("entity has %d aliases after the inventory, want 2 (userpass and alice-ci); undetermined %q, want none", n, inv.Undetermined)
	}
	// Unknown alias: absent, not an error. Unknown mount or entity id: a directory error.
	var absent vault.InventoryResult
	if err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "dave", Identity: &vault.DirectoryEntry{Subject: "dave", Vault: &vault.VaultIdentity{Alias: &vault.VaultAlias{Mount: "userpass", Name: "dave"}}}}, &absent); err != nil || absent.Present || absent.Status != vault.StatusAbsent {
		t.Fatalf("unknown alias: %+v %v, want absent", absent, err)
	}
	for _, id := range []*vault.VaultIdentity{{Alias: &vault.VaultAlias{Mount: "oidc", Name: "alice"}}, {EntityID: "00000000-0000-0000-0000-000000000000"}} {
		err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "alice", Identity: &vault.DirectoryEntry{Subject: "alice", Vault: id}}, &absent)
		if err == nil || appError(t, err).Type() != vault.ErrDirectory {
			t.Errorf("directory %+v: %v, want %s", id, err, vault.ErrDirectory)
		}
	}
	// Verification from Vault after the change.
	vin := vault.VerifyRevokedInput{Subject: "alice", Identity: in.Identity}
	var vr vault.VerifyResult
	if err := h.run(acts, "VerifyRevoked", vin, &vr); err != nil || vr.Passed {
		t.Fatalf("VerifyRevoked before disabling: %+v %v, want not passed", vr, err)
	}
	var er vault.EntityResult
	if err := h.run(acts, "DisableEntity", vault.EntityInput{EntityID: entityID}, &er); err != nil {
		t.Fatal(err)
	}
	if err := h.run(acts, "VerifyRevoked", vin, &vr); err != nil || !vr.Passed {
		t.Fatalf("VerifyRevoked after disabling: %+v %v, want passed", vr, err)
	}
	h.noCanary()
}
