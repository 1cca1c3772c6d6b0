package conformance

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/realserver"
)

// iamOrg is the IAM side of the scenario: alice with two keys (one already inactive), a
// console login, a virtual MFA device and two groups; dave has no IAM user.
func iamOrg() *testenv.Org {
	now := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	return &testenv.Org{Developers: []testenv.Developer{{
		Name: "alice",
		IAMKeys: []testenv.IAMKey{
			{ID: "AKFBCONFORMANCE00001", Secret: "s1-" + testenv.Canary, Status: "Active", Created: now},
			{ID: "AKFBCONFORMANCE00002", Secret: "s2-" + testenv.Canary, Status: "Inactive", Created: now},
		},
		LoginProfile: true,
		MFASerials:   []string{"arn:aws:iam::000000000000:mfa/alice-phone"},
		Groups:       []string{"developers", "payments"},
	}, {Name: "dave", NoIAMUser: true}}}
}

// seedMoto creates iamOrg in moto through the IAM API and returns alice's key ids in the
// order of iamOrg's.
func seedMoto(t *testing.T, c *iam.Client) []string {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding moto: %v", err)
		}
	}
	alice := aws.String("alice")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: alice}))
	var ids []string
	for i := range 2 {
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: alice})
		must(out, err)
		ids = append(ids, aws.ToString(out.AccessKey.AccessKeyId))
		if i == 1 {
			must(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: alice, AccessKeyId: out.AccessKey.AccessKeyId, Status: types.StatusTypeInactive}))
		}
	}
	must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: alice, Password: aws.String("Corr3ct-Horse-Battery")}))
	mfa, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-phone")})
	must(mfa, err)
	must(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: alice, SerialNumber: mfa.VirtualMFADevice.SerialNumber, AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))
	for _, g := range []string{"developers", "payments"} {
		must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)}))
		must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(g), UserName: alice}))
	}
	return ids
}

var accountRE = regexp.MustCompile(`arn:aws:iam::[0-9]{12}:`)

// iamScenarios runs the IAM scenarios with the activities against one IAM and returns what
// they saw, with key ids replaced by K1, K2 and account ids by ACCOUNT.
func iamScenarios(t *testing.T, c *iam.Client, keyIDs []string) []string {
	a := &awsiam.Activities{Client: c, Patience: time.Second, Now: func() time.Time { return time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC) }}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	awsiam.Register(env, a)
	norm := func(s string) string {
		for i, id := range keyIDs {
			s = strings.ReplaceAll(s, id, fmt.Sprintf("K%d", i+1))
		}
		return accountRE.ReplaceAllString(s, "arn:aws:iam::ACCOUNT:")
	}
	// keys lists ids as K1, K2 in that order, whatever order the server chose (moto's ids
	// are random, so their sorted order is too).
	keys := func(ids []string) string {
		var out []string
		for _, id := range ids {
			out = append(out, norm(id))
		}
		sort.Strings(out)
		return fmt.Sprint(out)
	}
	var seen []string
	note := func(format string, args ...any) { seen = append(seen, norm(fmt.Sprintf(format, args...))) }
	run := func(name string, in, out any) string {
		v, err := env.ExecuteActivity("awsiam."+name, in)
		if err == nil {
			err = v.Get(out)
		}
		return errType(err)
	}
	inventory := func(label string, in awsiam.InventoryInput) awsiam.InventoryResult {
		var inv awsiam.InventoryResult
		e := run("Inventory", in, &inv)
		var mfa []string
		for _, d := range inv.MFADevices {
			mfa = append(mfa, d.SerialNumber)
		}
		note("%s: err=%s status=%s present=%v user=%s keys=%s active=%s login=%v mfa=%v groups=%v inline=%v", label, e, inv.Status, inv.Present, inv.UserName, keys(inv.AccessKeyIDs), keys(inv.ActiveKeyIDs), inv.HasLoginProfile, mfa, inv.Groups, inv.InlinePolicies)
		return inv
	}
	inv := inventory("alice", awsiam.InventoryInput{User: "alice"})
	inventory("mallory (no such user)", awsiam.InventoryInput{User: "mallory"})
	inventory("dave (aws: none)", awsiam.InventoryInput{User: "dave", Identity: &awsiam.DirectoryEntry{Subject: "dave", AWS: &awsiam.AWSIdentity{None: true}}})
	inventory("al (directory names alice)", awsiam.InventoryInput{User: "al", Identity: &awsiam.DirectoryEntry{Subject: "al", AWS: &awsiam.AWSIdentity{IAMUser: "alice"}}})
	verify := func(label string, in awsiam.VerifyContainedInput) {
		var vr awsiam.VerifyResult
		e := run("VerifyContained", in, &vr)
		var cs []string
		for _, c := range vr.Checks {
			cs = append(cs, norm(fmt.Sprintf("%s=%v", c.Name, c.Passed)))
		}
		sort.Strings(cs)
		note("%s: err=%s passed=%v checks=%s", label, e, vr.Passed, strings.Join(cs, ","))
	}
	verify("verify before", awsiam.VerifyContainedInput{User: "alice"})
	for i := range 2 {
		var dk awsiam.DeactivateKeysResult
		e := run("DeactivateKeys", awsiam.DeactivateKeysInput{User: "alice", AccessKeyIDs: inv.AccessKeyIDs}, &dk)
		note("deactivate #%d: err=%s deactivated=%s already=%s missing=%s", i+1, e, keys(dk.Deactivated), keys(dk.AlreadyInactive), keys(dk.Missing))
	}
	var rs awsiam.RevokeSessionsResult
	note("revoke sessions: err=%s policy=%s", run("RevokeSessions", awsiam.RevokeSessionsInput{User: "alice"}, &rs), rs.PolicyName)
	verify("verify after", awsiam.VerifyContainedInput{User: "alice", PolicyName: rs.PolicyName})
	verify("verify dave", awsiam.VerifyContainedInput{User: "dave", Identity: &awsiam.DirectoryEntry{Subject: "dave", AWS: &awsiam.AWSIdentity{None: true}}})
	var md awsiam.DeactivateMFADevicesResult
	note("mfa: err=%s", run("DeactivateMFADevices", awsiam.DeactivateMFADevicesInput{User: "alice", DeleteVirtual: true}, &md))
	note("mfa result: deactivated=%v deleted=%v", md.Deactivated, md.DeletedVirtual)
	for i := range 2 {
		var rg awsiam.RemoveFromGroupsResult
		e := run("RemoveFromGroups", awsiam.RemoveFromGroupsInput{User: "alice", Groups: []string{"developers", "payments"}}, &rg)
		note("groups #%d: err=%s removed=%v not_member=%v", i+1, e, rg.Removed, rg.NotMember)
	}
	for i := range 2 {
		var lp awsiam.DeleteLoginProfileResult
		e := run("DeleteLoginProfile", awsiam.DeleteLoginProfileInput{User: "alice"}, &lp)
		note("login #%d: err=%s deleted=%v absent=%v", i+1, e, lp.Deleted, lp.AlreadyAbsent)
	}
	inventory("alice after", awsiam.InventoryInput{User: "alice"})
	return seen
}

// TestIAMConformance runs the IAM scenarios against the sandbox and against moto and fails
// where they disagree.
func TestIAMConformance(t *testing.T) {
	sb := testenv.NewIAM(iamOrg(), &testenv.Recorder{})
	t.Cleanup(sb.Close)
	sc := iam.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: staticCreds(sb.AccessKeyID(), sb.SecretAccessKey())}, func(o *iam.Options) {
		o.BaseEndpoint = aws.String(sb.URL())
		o.RetryMaxAttempts = 1
	})
	sandbox := iamScenarios(t, sc, []string{"AKFBCONFORMANCE00001", "AKFBCONFORMANCE00002"})
	for _, want := range []string{
		"alice: err= status=found present=true user=alice keys=[K1 K2] active=[K1] login=true mfa=[arn:aws:iam::ACCOUNT:mfa/alice-phone] groups=[developers payments]",
		"dave (aws: none): err= status=absent present=false",
		"mallory (no such user): err= status=absent present=false",
		"verify after: err= passed=true",
		"login #2: err= deleted=false absent=true",
	} {
		if !containsLine(sandbox, want) {
			t.Errorf("sandbox saw:\n%s\nwant a line starting %q", strings.Join(sandbox, "\n"), want)
		}
	}
	endpoint := realserver.StartMoto(t)
	mc := iamClient(endpoint)
	moto := iamScenarios(t, mc, seedMoto(t, mc))
	if len(moto) != len(sandbox) {
		t.Fatalf("moto ran %d scenario steps, sandbox %d", len(moto), len(sandbox))
	}
	for i := range moto {
		if moto[i] != sandbox[i] {
			t.Errorf("sandbox and moto disagree:\n  moto:    %s\n  sandbox: %s", moto[i], sandbox[i])
		}
	}
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
