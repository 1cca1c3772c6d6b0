package seed

import (
	"fmt"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// MassTeamSize is how many developers of a MassOrg share a team: a Vault policy that reads
// the team's two shared secrets, and an IAM group.
const MassTeamSize = 20

// MassDeveloperName is the name of developer i (0-based) of a MassOrg: dev0000, dev0001, …
func MassDeveloperName(i int) string { return fmt.Sprintf("dev%04d", i) }

// MassOrg returns an organisation of n developers for load tests (n from 1 to 10,000), in
// teams of MassTeamSize. Every developer has an identity entity with their team's policy and
// one OIDC laptop token (every third also a CI token), one Active IAM access key (every
// other also an Inactive one), a console login (every other), and the IAM groups developers
// and their team's. Each team has two shared KV v2 secrets its policy reads. Every secret
// value contains fakebase.Canary. The drill channel, PagerDuty service and incident are DefaultOrg's.
func MassOrg(n int) *Org {
	if n < 1 || n > 10000 {
		panic(fmt.Sprintf("seed.MassOrg: expected from 1 to 10000 developers, found %d", n))
	}
	day := 24 * time.Hour
	base := DefaultOrg()
	org := &Org{Channels: base.Channels, Services: base.Services, Incidents: base.Incidents}
	teams := (n + MassTeamSize - 1) / MassTeamSize
	for t := range teams {
		team := fmt.Sprintf("team%03d", t)
		org.VaultPolicies = append(org.VaultPolicies, VaultPolicy{
			Name: team,
			HCL:  fmt.Sprintf(`path "secret/data/shared/%s/*" { capabilities = ["read"] }`, team),
		})
		org.Secrets = append(org.Secrets,
			// Marked generate: so a mass drill rotates them itself, as the benchmark measures.
			Secret{Mount: "secret", Path: "shared/" + team + "/db", Data: map[string]string{"password": fmt.Sprintf("db-%s-%s", team, fakebase.Canary)},
				Metadata: map[string]string{"firebreak-rotate": "generate:password", "owner": team}},
			Secret{Mount: "secret", Path: "shared/" + team + "/api-key", Data: map[string]string{"api_key": fmt.Sprintf("key-%s-%s", team, fakebase.Canary)},
				Metadata: map[string]string{"firebreak-rotate": "generate:api_key", "owner": team}},
		)
	}
	for i := range n {
		name := MassDeveloperName(i)
		team := fmt.Sprintf("team%03d", i/MassTeamSize)
		d := Developer{
			Name: name, Email: name + "@example.test", SlackID: fmt.Sprintf("U0M%06d", i), PagerDutyID: fmt.Sprintf("PM%05d", i),
			VaultPolicies: []string{team},
			VaultTokens: []VaultToken{{
				ID: fmt.Sprintf("hvs.%s-laptop-%s", name, fakebase.Canary), Accessor: "acc-" + name + "-laptop", DisplayName: "oidc-" + name + "@example.test",
				Policies: []string{"default", team}, Path: "auth/oidc/oidc/callback", TTL: 8 * time.Hour,
			}},
			IAMKeys: []IAMKey{{
				ID: fmt.Sprintf("AKFBMASS%06d%06d", i, 1), Secret: fmt.Sprintf("%s/%s/mass-secret-1", name, fakebase.Canary), Status: "Active",
				Created: Epoch.Add(-30 * day), LastUsed: Epoch.Add(-time.Hour), LastService: "s3", LastRegion: "eu-west-1",
			}},
			LoginProfile: i%2 == 0,
			Groups:       []string{"developers", team},
		}
		if i%3 == 0 {
			d.VaultTokens = append(d.VaultTokens, VaultToken{
				ID: fmt.Sprintf("hvs.%s-ci-%s", name, fakebase.Canary), Accessor: "acc-" + name + "-ci", DisplayName: "token-" + name + "-ci",
				Policies: []string{"default", team}, Path: "auth/token/create", TTL: 720 * time.Hour,
			})
		}
		if i%2 == 1 {
			d.IAMKeys = append(d.IAMKeys, IAMKey{
				ID: fmt.Sprintf("AKFBMASS%06d%06d", i, 2), Secret: fmt.Sprintf("%s/%s/mass-secret-2", name, fakebase.Canary), Status: "Inactive",
				Created: Epoch.Add(-400 * day),
			})
		}
		org.Developers = append(org.Developers, d)
	}
	return org
}

// MassDeveloperNames returns the names of a MassOrg's n developers, in order.
func MassDeveloperNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = MassDeveloperName(i)
	}
	return out
}
