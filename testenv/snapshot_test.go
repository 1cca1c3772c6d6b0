package testenv_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	vaultapi "github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

// inventories runs the real vault.inventory and awsiam.inventory activities for subject
// against a sandbox seeded with org, as the compromised-dev-key playbook's first steps do.
func inventories(t *testing.T, org *testenv.Org, subject string) (fbvault.InventoryResult, awsiam.InventoryResult) {
	t.Helper()
	sb := testenv.NewSandbox(org)
	defer sb.Close()
	vcfg := vaultapi.DefaultConfig()
	vcfg.Address = sb.Vault.URL()
	vcfg.MaxRetries = 0
	vc, err := vaultapi.NewClient(vcfg)
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(sb.Vault.RootToken())
	ic := iam.New(iam.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(sb.IAM.AccessKeyID(), sb.IAM.SecretAccessKey(), ""),
		BaseEndpoint: aws.String(sb.IAM.URL()),
	})
	var ts testsuite.WorkflowTestSuite
	env, ienv := ts.NewTestActivityEnvironment(), ts.NewTestActivityEnvironment() // both name theirs Inventory
	va := &fbvault.Activities{Client: vc.Logical()}
	ia := &awsiam.Activities{Client: ic}
	env.RegisterActivity(va)
	ienv.RegisterActivity(ia)
	var vres fbvault.InventoryResult
	var ires awsiam.InventoryResult
	val, err := env.ExecuteActivity(va.Inventory, fbvault.InventoryInput{Subject: subject})
	if err != nil {
		t.Fatalf("vault inventory of %s: %v", subject, err)
	}
	if err := val.Get(&vres); err != nil {
		t.Fatal(err)
	}
	if val, err = ienv.ExecuteActivity(ia.Inventory, awsiam.InventoryInput{User: subject}); err != nil {
		t.Fatalf("iam inventory of %s: %v", subject, err)
	}
	if err := val.Get(&ires); err != nil {
		t.Fatal(err)
	}
	return vres, ires
}

// snapshotData is what the compromised-dev-key playbook's evidence.snapshot step records.
func snapshotData(t *testing.T, v fbvault.InventoryResult, i awsiam.InventoryResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(map[string]any{"reason": "replay test", "vault": v, "iam": i})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// comparable drops what a reseeded sandbox cannot repeat: when tokens were issued (their
// lifetime is kept) and the entity id of a subject the base did not know.
func comparable(v fbvault.InventoryResult) fbvault.InventoryResult {
	v.EntityID, v.Detail, v.Logins = "", "", nil // a replay seeds logins from the tokens it has
	v.Tokens = slices.Clone(v.Tokens)
	for i, tk := range v.Tokens {
		c, _ := time.Parse(time.RFC3339, tk.CreationTime)
		e, _ := time.Parse(time.RFC3339Nano, tk.ExpireTime)
		tk.CreationTime, tk.EntityID = "", ""
		tk.ExpireTime = "never"
		if !e.IsZero() {
			tk.ExpireTime = e.Sub(c).Round(time.Second).String()
		}
		v.Tokens[i] = tk
	}
	return v
}

func TestOrgFromSnapshot(t *testing.T) {
	recV, recI := inventories(t, testenv.DefaultOrg(), "alice")
	if len(recV.Accessors) != 2 || len(recI.AccessKeyIDs) != 2 || len(recV.ReadablePaths) != 5 {
		t.Fatalf("default alice: accessors %v keys %v readable %v; want 2, 2 and 5", recV.Accessors, recI.AccessKeyIDs, recV.ReadablePaths)
	}

	// alice with one key, one token, and only payments-db readable, though her policies
	// (still recorded) would let her read more.
	oneV, oneI := recV, recI
	oneV.Tokens, oneV.Accessors = recV.Tokens[1:], recV.Accessors[1:]
	oneV.ReadableSecrets = []fbvault.SecretRef{{Mount: "secret", Path: "shared/payments-db", Version: 1}}
	oneV.ReadablePaths = []string{"secret/shared/payments-db"}
	oneI.AccessKeys, oneI.AccessKeyIDs = slices.Clone(recI.AccessKeys[:1]), slices.Clone(recI.AccessKeyIDs[:1])
	oneI.AccessKeys[0].Status = "Inactive"
	oneI.ActiveKeyIDs = []string{}
	oneI.Groups = []string{"developers"}
	oneI.HasLoginProfile, oneI.LoginProfileCreated = false, ""

	// erin, whom the base organisation does not know, with a secret it does not have.
	erinV := fbvault.InventoryResult{
		Subject: "erin", Present: true, Status: fbvault.StatusFound, LookedFor: `identity entity named "erin" (no directory entry: subject = entity name)`,
		Mounts: []string{"secret"}, ReadableSource: fbvault.SourceVault, Undetermined: []string{},
		EntityName: "erin", Policies: []string{"default", "developer"},
		Tokens: []fbvault.TokenInfo{{Accessor: "acc-erin-laptop", DisplayName: "oidc-erin@example.test", Path: "auth/oidc/oidc/callback",
			CreationTime: "2026-09-01T09:00:00Z", ExpireTime: "2026-09-01T17:00:00Z", Policies: []string{"default", "developer"}, Type: "service"}},
		Accessors:       []string{"acc-erin-laptop"},
		ReadableSecrets: []fbvault.SecretRef{{Mount: "secret", Path: "shared/erin-only", Version: 1}},
		ReadablePaths:   []string{"secret/shared/erin-only"},
	}
	erinI := awsiam.InventoryResult{
		Subject: "erin", Present: true, Status: awsiam.StatusFound, Detail: "IAM user erin (arn:aws:iam::000000000000:user/erin)",
		LookedFor: `IAM user "erin" (no directory entry: subject = IAM user name)`,
		UserName:  "erin", ARN: "arn:aws:iam::000000000000:user/erin",
		AccessKeys:   []awsiam.AccessKey{{AccessKeyID: "AKFBSANDBOXERIN00001", Status: "Active", CreateDate: "2026-08-01T09:00:00Z"}},
		AccessKeyIDs: []string{"AKFBSANDBOXERIN00001"}, ActiveKeyIDs: []string{"AKFBSANDBOXERIN00001"},
		MFADevices: []awsiam.MFADevice{}, Groups: []string{"developers"}, InlinePolicies: []string{},
	}

	tests := []struct {
		name         string
		subject      string
		data         map[string]any
		wantV        fbvault.InventoryResult
		wantI        awsiam.InventoryResult
		replayPolicy bool // the org's policies alone do not grant exactly the recorded reads
	}{
		{name: "recorded run", subject: "alice", data: snapshotData(t, recV, recI), wantV: recV, wantI: recI},
		{name: "one key one token one secret", subject: "alice", data: snapshotData(t, oneV, oneI), wantV: oneV, wantI: oneI, replayPolicy: true},
		{name: "subject unknown to the base", subject: "erin", data: snapshotData(t, erinV, erinI), wantV: erinV, wantI: erinI, replayPolicy: true},
		{name: "only iam recorded", subject: "alice", data: map[string]any{"iam": snapshotData(t, oneV, oneI)["iam"]}, wantV: recV, wantI: oneI},
		{name: "sections found by shape", subject: "alice", data: map[string]any{"tokens_and_secrets": snapshotData(t, oneV, oneI)["vault"], "aws": snapshotData(t, oneV, oneI)["iam"]}, wantV: oneV, wantI: oneI, replayPolicy: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := testenv.DefaultOrg()
			org, err := testenv.OrgFromSnapshot(base, tc.subject, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(base, testenv.DefaultOrg()) {
				t.Error("OrgFromSnapshot changed its base organisation")
			}
			dev, ok := org.Developer(tc.subject)
			if !ok {
				t.Fatalf("no developer %s in the org from the snapshot", tc.subject)
			}
			for _, tk := range dev.VaultTokens {
				if !testenv.ContainsCanary(tk.ID) {
					t.Errorf("token %s: id without the canary", tk.Accessor)
				}
			}
			for _, k := range dev.IAMKeys {
				if !testenv.ContainsCanary(k.Secret) {
					t.Errorf("key %s: secret without the canary", k.ID)
				}
			}
			for _, p := range tc.wantV.ReadableSecrets {
				if !slices.ContainsFunc(org.Secrets, func(s testenv.Secret) bool {
					return s.Mount == p.Mount && s.Path == p.Path && testenv.ContainsCanary(strings.Join(slices.Collect(mapValues(s.Data)), ""))
				}) {
					t.Errorf("no canary secret at %s/%s", p.Mount, p.Path)
				}
			}
			gotV, gotI := inventories(t, org, tc.subject)
			wantV := tc.wantV
			if tc.replayPolicy {
				wantV.Policies = append(slices.Clone(wantV.Policies), testenv.ReplayPolicyName(tc.subject))
				slices.Sort(wantV.Policies)
			}
			if g, w := comparable(gotV), comparable(wantV); !reflect.DeepEqual(g, w) {
				t.Errorf("vault inventory of the reseeded sandbox:\n got %+v\nwant %+v", g, w)
			}
			if !reflect.DeepEqual(gotI, tc.wantI) {
				t.Errorf("iam inventory of the reseeded sandbox:\n got %+v\nwant %+v", gotI, tc.wantI)
			}
			// Other developers are untouched.
			bob, _ := org.Developer("bob")
			baseBob, _ := base.Developer("bob")
			if !reflect.DeepEqual(bob, baseBob) {
				t.Errorf("bob changed: %+v", bob)
			}
		})
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestOrgFromSnapshotErrors(t *testing.T) {
	tests := []struct {
		name, subject string
		data          map[string]any
		want          string
	}{
		{"other entity", "alice", map[string]any{"vault": map[string]any{"entity_name": "bob", "tokens": []any{}}}, `expected the vault inventory of "alice", found entity "bob"`},
		{"other user", "alice", map[string]any{"iam": map[string]any{"user_name": "bob"}}, `expected the iam inventory of "alice", found user "bob"`},
		{"bad key status", "alice", map[string]any{"iam": map[string]any{"user_name": "alice", "access_keys": []any{map[string]any{"access_key_id": "AKFBX", "status": "Gone"}}}}, `expected status Active or Inactive, found "Gone"`},
		{"bad date", "alice", map[string]any{"iam": map[string]any{"access_keys": []any{map[string]any{"access_key_id": "AKFBX", "status": "Active", "create_date": "yesterday"}}}}, `expected an RFC 3339 time, found "yesterday"`},
		{"not an inventory", "alice", map[string]any{"vault": map[string]any{"tokens": "many"}}, "expected a vault.inventory result"},
		{"token without accessor", "alice", map[string]any{"vault": map[string]any{"tokens": []any{map[string]any{"display_name": "x"}}}}, "expected every token to have an accessor"},
		{"no subject", "", map[string]any{}, "expected the snapshot's subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testenv.OrgFromSnapshot(testenv.DefaultOrg(), tc.subject, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
