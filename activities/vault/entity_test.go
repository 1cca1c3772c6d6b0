package vault_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

// ReadEntity reads the entity in one request, however many tokens Vault holds.
func TestReadEntity(t *testing.T) {
	h := newHarness(t)
	h.v.SeedBystanders(1000)
	h.rec.Reset()
	var got vault.ReadEntityResult
	if err := h.run(h.acts, "ReadEntity", vault.ReadEntityInput{Subject: "alice"}, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Present || got.EntityID != h.v.EntityID("alice") || got.EntityName != "alice" || got.Disabled || len(got.Policies) == 0 {
		t.Errorf("ReadEntity(alice) = %+v; want alice's enabled entity with its policies", got)
	}
	if n := len(h.rec.Calls("vault")); n != 1 {
		t.Errorf("%d Vault requests, want 1", n)
	}
	if err := h.run(h.acts, "ReadEntity", vault.ReadEntityInput{Subject: "nobody"}, &got); err != nil || got.Present || got.Status != vault.StatusAbsent {
		t.Errorf("ReadEntity(nobody) = %+v, %v; want absent, not an error", got, err)
	}
	h.noCanary()
}
