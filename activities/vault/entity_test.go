package vault_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

// FindEntity reads the entity in one request, however many tokens Vault holds.
func TestFindEntity(t *testing.T) {
	h := newHarness(t)
	h.v.SeedBystanders(1000)
	h.rec.Reset()
	var got vault.FindEntityResult
	if err := h.run(h.acts, "FindEntity", vault.FindEntityInput{Subject: "alice"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.EntityID != h.v.EntityID("alice") || got.EntityName != "alice" || got.Disabled || len(got.Policies) == 0 {
		t.Errorf("FindEntity(alice) = %+v; want alice's enabled entity with its policies", got)
	}
	if n := len(h.rec.Calls("vault")); n != 1 {
		t.Errorf("%d Vault requests, want 1", n)
	}
	err := h.run(h.acts, "FindEntity", vault.FindEntityInput{Subject: "nobody"}, &got)
	if err == nil || appError(t, err).Type() != vault.ErrUnknownSubject {
		t.Errorf("FindEntity(nobody): %v; want %s", err, vault.ErrUnknownSubject)
	}
	h.noCanary()
}
