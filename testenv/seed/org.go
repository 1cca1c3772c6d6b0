// Package seed is the fictional organisation the sandbox's fakes are seeded with: its
// developers and their credentials in every system, Vault policies, groups and secrets,
// databases, Slack channels and PagerDuty services and incidents (DefaultOrg, MassOrg).
// Every secret value in it contains fakebase.Canary.
package seed

import (
	"time"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// Org is the fictional organisation the sandbox is seeded with.
type Org struct {
	Developers    []Developer
	VaultPolicies []VaultPolicy // ACL policies, by name
	VaultGroups   []VaultGroup  // identity groups
	Secrets       []Secret      // KV v2 secrets
	Databases     []Database    // behind Vault's database secrets engine
	Channels      []Channel     // Slack channels
	Services      []Service     // PagerDuty services
	Incidents     []Incident    // PagerDuty incidents
}

// Developer is one person with credentials in every system. Name is their Vault entity name
// and their IAM user name.
type Developer struct {
	Name          string
	Email         string
	SlackID       string
	PagerDutyID   string
	VaultPolicies []string // policies on the identity entity
	VaultTokens   []VaultToken
	IAMKeys       []IAMKey
	LoginProfile  bool
	MFASerials    []string // virtual MFA device serial numbers (ARNs)
	Groups        []string // IAM groups
	// VaultLogin is their userpass login name (the alias on their entity); "" means Name.
	VaultLogin string
	// AutoEntity: Vault named their entity itself at their first login (entity_<8 hex>), as
	// it does in most real organisations; only the directory's alias finds them.
	AutoEntity bool
	// LoginPolicies are policies their userpass login grants besides their tokens' policies.
	LoginPolicies []string
	// NoIAMUser: they have no IAM user (e.g. AWS IAM Identity Center).
	NoIAMUser bool
}

// VaultGroup is an identity group: its policies apply to its member entities.
type VaultGroup struct {
	Name     string
	Policies []string
	Members  []string // developer names
}

// VaultToken is a token issued to a developer's entity.
type VaultToken struct {
	ID          string // the secret token (contains fakebase.Canary)
	Accessor    string
	DisplayName string
	Policies    []string
	Path        string // e.g. auth/oidc/login
	TTL         time.Duration
}

// IAMKey is an AWS access key pair of a developer.
type IAMKey struct {
	ID          string // 20 characters like AWS ids, prefixed AKFB so no scanner mistakes it for a real AKIA key
	Secret      string // contains fakebase.Canary
	Status      string // Active | Inactive
	Created     time.Time
	LastUsed    time.Time // zero when never used
	LastService string
	LastRegion  string
}

// VaultPolicy is a Vault ACL policy in HCL.
type VaultPolicy struct {
	Name string
	HCL  string
}

// Secret is a KV v2 secret at Mount/Path with string values.
type Secret struct {
	Mount string
	Path  string
	Data  map[string]string
	// Metadata is the secret's custom_metadata: how it is rotated (firebreak-rotate) and who
	// owns it (owner).
	Metadata map[string]string
}

// Database is a database behind Vault's database secrets engine, mounted at Mount: its root
// connection (Connection, logged in as RootUser) and its static roles, each a database user
// whose password Vault manages. The sandbox keeps the users' passwords itself, so a test or
// drill can ask whether a password still logs in (vaultfake.Vault.DatabaseLogin) as it would ask the
// database.
type Database struct {
	Mount        string
	Connection   string
	RootUser     string
	RootPassword string // contains Canary
	StaticRoles  []StaticRole
}

// StaticRole is a database user managed by a Vault static role of the same name.
type StaticRole struct {
	Name     string
	Username string
	Password string // the password the user logs in with until Vault rotates it; contains Canary
}

// Channel is a Slack channel.
type Channel struct{ ID, Name string }

// Service is a PagerDuty service.
type Service struct{ ID, Name string }

// Incident is a PagerDuty incident.
type Incident struct {
	ID, Title, ServiceID, Status, Urgency string
}

// Directory is the organisation's directory as a run carries it: an entry for each developer
// who is not found by the default rule (subject = Vault entity name = IAM user name): those
// whose entity Vault named itself (found by their userpass alias) or who have no IAM user.
func (o *Org) Directory() []playbooks.Identity {
	var out []playbooks.Identity
	for _, d := range o.Developers {
		if !d.AutoEntity && !d.NoIAMUser {
			continue
		}
		e := playbooks.Identity{Subject: d.Name, Email: d.Email, SlackID: d.SlackID}
		if d.AutoEntity {
			login := d.VaultLogin
			if login == "" {
				login = d.Name
			}
			e.Vault = &playbooks.VaultIdentity{Alias: &playbooks.VaultAlias{Mount: "userpass", Name: login}}
		}
		if d.NoIAMUser {
			e.AWS = &playbooks.AWSIdentity{None: true}
		}
		out = append(out, e)
	}
	return out
}

// Developer returns the developer called name, or false.
func (o *Org) Developer(name string) (Developer, bool) {
	for _, d := range o.Developers {
		if d.Name == name {
			return d, true
		}
	}
	return Developer{}, false
}

// Epoch is a fixed instant so seeded dates are stable across runs.
var Epoch = time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)

// DefaultOrg returns the seeded organisation "Example Co": three developers with tokens, keys,
// MFA devices and readable shared secrets; a drill channel; a PagerDuty service and incident.
// Every call returns a fresh copy.
func DefaultOrg() *Org {
	day := 24 * time.Hour
	return &Org{
		Developers: []Developer{
			{
				Name: "alice", Email: "alice@example.test", SlackID: "U0ALICE", PagerDutyID: "PALICE1",
				VaultPolicies: []string{"developer", "payments-reader", "ci-deployer"},
				VaultTokens: []VaultToken{
					{ID: "hvs.alice-laptop-" + fakebase.Canary + "-0001", Accessor: "acc-alice-laptop", DisplayName: "oidc-alice@example.test", Policies: []string{"default", "developer"}, Path: "auth/oidc/oidc/callback", TTL: 8 * time.Hour},
					{ID: "hvs.alice-ci-" + fakebase.Canary + "-0002", Accessor: "acc-alice-ci", DisplayName: "token-alice-ci", Policies: []string{"default", "ci-deployer"}, Path: "auth/token/create", TTL: 720 * time.Hour},
				},
				IAMKeys: []IAMKey{
					{ID: "AKFBSANDBOXALICE0001", Secret: "alice/" + fakebase.Canary + "/wJalrXUtnFEMIK7MDENGbPxRfiCY01", Status: "Active", Created: Epoch.Add(-90 * day), LastUsed: Epoch.Add(-2 * time.Hour), LastService: "s3", LastRegion: "eu-west-1"},
					{ID: "AKFBSANDBOXALICE0002", Secret: "alice/" + fakebase.Canary + "/wJalrXUtnFEMIK7MDENGbPxRfiCY02", Status: "Active", Created: Epoch.Add(-10 * day), LastUsed: Epoch.Add(-30 * time.Minute), LastService: "sts", LastRegion: "us-east-1"},
				},
				LoginProfile: true,
				MFASerials:   []string{"arn:aws:iam::000000000000:mfa/alice-phone"},
				Groups:       []string{"developers", "payments"},
			},
			{
				Name: "bob", Email: "bob@example.test", SlackID: "U0BOB", PagerDutyID: "PBOB001",
				VaultPolicies: []string{"developer"},
				VaultTokens: []VaultToken{
					{ID: "hvs.bob-laptop-" + fakebase.Canary + "-0003", Accessor: "acc-bob-laptop", DisplayName: "oidc-bob@example.test", Policies: []string{"default", "developer"}, Path: "auth/oidc/oidc/callback", TTL: 8 * time.Hour},
				},
				IAMKeys: []IAMKey{
					{ID: "AKFBSANDBOXBOB000001", Secret: "bob/" + fakebase.Canary + "/je7MtGbClwBF2Zp9Utk0h3yCo8nv01", Status: "Active", Created: Epoch.Add(-40 * day), LastUsed: Epoch.Add(-26 * time.Hour), LastService: "ec2", LastRegion: "eu-west-1"},
					{ID: "AKFBSANDBOXBOB000002", Secret: "bob/" + fakebase.Canary + "/je7MtGbClwBF2Zp9Utk0h3yCo8nv02", Status: "Inactive", Created: Epoch.Add(-400 * day)},
				},
				LoginProfile: true,
				MFASerials:   []string{"arn:aws:iam::000000000000:mfa/bob-yubikey"},
				Groups:       []string{"developers"},
			},
			{
				Name: "carol", Email: "carol@example.test", SlackID: "U0CAROL", PagerDutyID: "PCAROL1",
				VaultPolicies: []string{"developer", "security-oncall"},
				VaultTokens: []VaultToken{
					{ID: "hvs.carol-laptop-" + fakebase.Canary + "-0004", Accessor: "acc-carol-laptop", DisplayName: "oidc-carol@example.test", Policies: []string{"default", "developer"}, Path: "auth/oidc/oidc/callback", TTL: 8 * time.Hour},
				},
				IAMKeys: []IAMKey{
					{ID: "AKFBSANDBOXCAROL0001", Secret: "carol/" + fakebase.Canary + "/k9PqLmN3vX2sT8wR5yU1iO7pA4dF01", Status: "Active", Created: Epoch.Add(-5 * day)},
				},
				MFASerials: []string{"arn:aws:iam::000000000000:mfa/carol-phone"},
				Groups:     []string{"developers", "security"},
			},
			{
				// dave is set up the way most real people are: Vault named his entity itself
				// when he first logged in (only the directory's alias finds him), and he
				// reaches AWS through IAM Identity Center, with no IAM user.
				Name: "dave", Email: "dave@example.test", SlackID: "U0DAVE", PagerDutyID: "PDAVE01",
				VaultLogin: "dave@example.test", AutoEntity: true, NoIAMUser: true,
				VaultPolicies: []string{"developer"},
				VaultTokens: []VaultToken{
					{ID: "hvs.dave-laptop-" + fakebase.Canary + "-0005", Accessor: "acc-dave-laptop", DisplayName: "userpass-dave@example.test", Policies: []string{"default", "developer"}, Path: "auth/userpass/login/dave@example.test", TTL: 8 * time.Hour},
				},
			},
		},
		VaultPolicies: []VaultPolicy{
			{Name: "developer", HCL: `path "secret/data/dev/*" { capabilities = ["read", "list"] }
path "secret/metadata/dev/*" { capabilities = ["list"] }`},
			{Name: "payments-reader", HCL: `path "secret/data/shared/payments-db" { capabilities = ["read"] }
path "secret/data/shared/stripe-*" { capabilities = ["read"] }`},
			{Name: "ci-deployer", HCL: `path "secret/data/shared/ci/+" { capabilities = ["read"] }`},
			{Name: "security-oncall", HCL: `path "secret/data/shared/*" { capabilities = ["list"] }`},
		},
		Secrets: []Secret{
			// One secret of each way firebreak rotates (custom_metadata firebreak-rotate), so a
			// drill of alice shows all four: the database engine, a service, generate, a person.
			{Mount: "secret", Path: "shared/payments-db", Data: map[string]string{"username": "payments", "password": "pg-" + fakebase.Canary + "-Zq81mVx3"},
				Metadata: map[string]string{"firebreak-rotate": "database:database/payments", "owner": "payments-team"}},
			{Mount: "secret", Path: "shared/stripe-api", Data: map[string]string{"api_key": "sk_test_" + fakebase.Canary + "_4eC39HqLyjWDarjtT1zdp7dc"},
				Metadata: map[string]string{"firebreak-rotate": "service:payments-admin/rotate/stripe", "owner": "payments-team"}},
			{Mount: "secret", Path: "shared/ci/deploy-key", Data: map[string]string{"private_key": "ssh-ed25519-" + fakebase.Canary + "-AAAAC3NzaC1lZDI1NTE5"},
				Metadata: map[string]string{"firebreak-rotate": "manual", "owner": "carol"}},
			{Mount: "secret", Path: "shared/ci/webhook-hmac", Data: map[string]string{"hmac_key": "whk-" + fakebase.Canary + "-5e0c9a7d1b", "algorithm": "sha256"},
				Metadata: map[string]string{"firebreak-rotate": "generate:hmac_key", "firebreak-rotate-format": "length=48,alphabet=hex", "owner": "carol"}},
			{Mount: "secret", Path: "shared/ci/nested/not-matched", Data: map[string]string{"token": "nested-" + fakebase.Canary + "-7y6t"}},
			{Mount: "secret", Path: "shared/analytics-db", Data: map[string]string{"password": "an-" + fakebase.Canary + "-P0o9I8u7"}},
			{Mount: "secret", Path: "dev/alice/scratch", Data: map[string]string{"note": "scratch-" + fakebase.Canary}},
		},
		Databases: []Database{{
			Mount: "database", Connection: "payments-pg", RootUser: "postgres", RootPassword: "root-" + fakebase.Canary + "-Xb4v",
			StaticRoles: []StaticRole{{Name: "payments", Username: "payments", Password: "pg-" + fakebase.Canary + "-Zq81mVx3"}},
		}},
		Channels: []Channel{
			{ID: "C0DRILLS", Name: "firebreak-drills"},
			{ID: "C0SECOPS", Name: "sec-incidents"},
		},
		Services:  []Service{{ID: "PSVCDEV", Name: "Developer Credentials"}},
		Incidents: []Incident{{ID: "PINC001", Title: "Suspected leaked AWS key for alice", ServiceID: "PSVCDEV", Status: "triggered", Urgency: "high"}},
	}
}
