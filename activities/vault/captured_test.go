package vault_test

import (
	"slices"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

// TestCapturedNextLoginFindsWhatTheProbeFound cuts every developer of the sandbox's
// organisation the way compromised-dev-key now does (capture the next login's grants, disable
// the entity, inventory with them) and the way it did before (probe the next login before
// the cut, inventory after it): the secrets found must be the same, nothing fewer.
func TestCapturedNextLoginFindsWhatTheProbeFound(t *testing.T) {
	h := newHarness(t)
	h.acts.TokenClient = vault.TokenClientOf(h.client(h.v.RootToken()))
	checked := 0
	for _, d := range testenv.DefaultOrg().Developers {
		in := vault.InventoryInput{Subject: d.Name}
		var before vault.InventoryResult
		if err := h.run(h.acts, "ReadableSecrets", in, &before); err != nil {
			t.Fatalf("%s: ReadableSecrets: %v", d.Name, err)
		}
		var nl vault.NextLoginResult
		if err := h.run(h.acts, "CaptureNextLogin", in, &nl); err != nil {
			t.Fatalf("%s: CaptureNextLogin: %v", d.Name, err)
		}
		if !nl.Present {
			if before.Present {
				t.Errorf("%s: the capture did not find the entity the probe found", d.Name)
			}
			continue
		}
		for _, a := range nl.ACLs {
			if !a.Captured && !a.Refused {
				t.Errorf("%s: login %s not captured: %s", d.Name, a.Via, a.Reason)
			}
		}
		var er vault.EntityResult
		if err := h.run(h.acts, "DisableEntity", vault.EntityInput{EntityID: nl.EntityID}, &er); err != nil {
			t.Fatalf("%s: DisableEntity: %v", d.Name, err)
		}
		var old, now vault.InventoryResult
		if err := h.run(h.acts, "Inventory", in, &old); err != nil {
			t.Fatalf("%s: Inventory: %v", d.Name, err)
		}
		in.NextLogin = &nl
		if err := h.run(h.acts, "Inventory", in, &now); err != nil {
			t.Fatalf("%s: Inventory with the captured next login: %v", d.Name, err)
		}
		want := append(append([]string{}, before.ReadablePaths...), old.ReadablePaths...)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(now.ReadablePaths, want) {
			t.Errorf("%s: captured grants found %v; the probe before the cut and the inventory after it found %v", d.Name, now.ReadablePaths, want)
		}
		if len(nl.ACLs) > 0 && now.ReadableSource == vault.SourceVault {
			t.Errorf("%s: readable_source %s; want %s or %s", d.Name, now.ReadableSource, vault.SourceResultantACL, vault.SourceFirebreakACL)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no developer was checked")
	}
	t.Logf("%d developers checked", checked)
	h.noCanary()
}
