package vaultfake

import (
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// BystanderServices is how many identity entities a sandbox's bystander tokens belong to:
// CI services that log in with AppRole, as most of a real Vault's live tokens do.
const BystanderServices = 50

// BystanderAccessor is the accessor of bystander token i (0-based).
func BystanderAccessor(i int) string { return fmt.Sprintf("acc-bystander-%06d", i) }

// BystanderService is the name of the identity entity of bystander service i: ci-svc-00, …
func BystanderService(i int) string { return fmt.Sprintf("ci-svc-%02d", i) }

// SeedBystanders adds n live tokens that belong to nobody in the organisation, the other
// tokens a real Vault holds (CI jobs, services): each an AppRole login of one of
// BystanderServices service entities, with the default and a "ci" policy and an hour to live.
// They are written straight into the server's state, without a request each, so a sandbox of
// 100,000 tokens seeds in about half a second; token ids contain Canary. Calling it again
// adds n more. It returns how many tokens the sandbox now holds.
func (v *Vault) SeedBystanders(n int) int {
	now := time.Now().UTC().Truncate(time.Second)
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range BystanderServices {
		name := BystanderService(i)
		id := vaultEntityID(name)
		if v.entities[id] == nil {
			v.entities[id] = &vaultEntity{id: id, name: name, policies: []string{"ci"}, metadata: map[string]string{"kind": "ci"}, created: now, updated: now, namespaceID: "root"}
		}
	}
	if _, ok := v.policies["ci"]; !ok {
		v.policies["ci"] = `path "secret/data/ci/*" { capabilities = ["read"] }`
	}
	policies := []string{"ci", "default"} // shared: nothing changes a token's policies
	first := 0
	for v.accessors[BystanderAccessor(first)] != nil {
		first += max(n, 1)
	}
	for i := first; i < first+n; i++ {
		acc := BystanderAccessor(i)
		t := &vaultToken{
			id: fmt.Sprintf("hvs.bystander-%06d-%s", i, fakebase.Canary), accessor: acc, displayName: "approle",
			path: "auth/approle/login", entityID: vaultEntityID(BystanderService(i % BystanderServices)),
			policies: policies, created: now, ttl: time.Hour,
		}
		v.tokens[t.id] = t
		v.accessors[acc] = t
	}
	return len(v.accessors)
}

// HasBystanders reports whether bystander tokens 0 to n-1 have been seeded.
func (v *Vault) HasBystanders(n int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return n <= 0 || v.accessors[BystanderAccessor(n-1)] != nil
}
