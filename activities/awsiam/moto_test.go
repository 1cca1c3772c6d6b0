//go:build unix

package awsiam_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/testenv/realserver"
)

// startMoto runs moto_server (an AWS emulator) on a free loopback port and returns its
// endpoint; the test is skipped when moto_server is not installed.
func startMoto(t *testing.T) string {
	t.Helper()
	return realserver.StartMoto(t)
}

// TestAgainstMoto runs the activities against moto, a third-party IAM emulator, to check
// they do not depend on quirks of firebreak's own sandbox.
func TestAgainstMoto(t *testing.T) {
	endpoint := startMoto(t)
	c := newClient(endpoint, "AKIDMOTOTESTKEY00000", "moto-accepts-any-secret")
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("setting up moto: %v", err)
		}
	}
	alice := aws.String("alice")
	must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: alice}))
	var keyIDs []string
	for range 2 {
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: alice})
		must(out, err)
		keyIDs = append(keyIDs, aws.ToString(out.AccessKey.AccessKeyId))
	}
	must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: alice, Password: aws.String("Corr3ct-Horse-Battery")}))
	mfa, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-phone")})
	must(mfa, err)
	serial := aws.ToString(mfa.VirtualMFADevice.SerialNumber)
	must(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: alice, SerialNumber: aws.String(serial), AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))
	for _, g := range []string{"payments", "developers"} {
		must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)}))
		must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(g), UserName: alice}))
	}

	a := &awsiam.Activities{Client: c, Now: func() time.Time { return testNow }}
	env := newEnv(a)

	var inv awsiam.InventoryResult
	if err := run(t, env, a.Inventory, awsiam.InventoryInput{User: "alice"}, &inv); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	sortedKeys := append([]string(nil), keyIDs...)
	if sortedKeys[0] > sortedKeys[1] {
		sortedKeys[0], sortedKeys[1] = sortedKeys[1], sortedKeys[0]
	}
	if inv.UserName != "alice" || !strings.HasSuffix(inv.ARN, ":user/alice") || !reflect.DeepEqual(inv.ActiveKeyIDs, sortedKeys) ||
		!inv.HasLoginProfile || inv.LoginProfileCreated == "" || len(inv.MFADevices) != 1 || inv.MFADevices[0].SerialNumber != serial ||
		!reflect.DeepEqual(inv.Groups, []string{"developers", "payments"}) {
		t.Errorf("Inventory against moto = %+v", inv)
	}
	for _, k := range inv.AccessKeys {
		if k.CreateDate == "" || k.LastUsedDate != "" || k.LastUsedService != "" {
			t.Errorf("never-used key from moto: %+v; want a create date and no last use", k)
		}
	}

	verify := awsiam.VerifyContainedInput{User: "alice", AccessKeyIDs: keyIDs}
	var vr awsiam.VerifyResult
	if err := run(t, env, a.VerifyContained, verify, &vr); err != nil || vr.Passed {
		t.Fatalf("VerifyContained before containment = %+v, %v; want not passed", vr, err)
	}
	var dk awsiam.DeactivateKeysResult
	if err := run(t, env, a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "alice", AccessKeyIDs: keyIDs}, &dk); err != nil || len(dk.Deactivated) != 2 {
		t.Fatalf("DeactivateKeys = %+v, %v", dk, err)
	}
	if err := run(t, env, a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "alice", AccessKeyIDs: keyIDs}, &dk); err != nil || len(dk.AlreadyInactive) != 2 || len(dk.Deactivated) != 0 {
		t.Fatalf("second DeactivateKeys = %+v, %v; want both AlreadyInactive", dk, err)
	}
	var rs awsiam.RevokeSessionsResult
	if err := run(t, env, a.RevokeSessions, awsiam.RevokeSessionsInput{User: "alice"}, &rs); err != nil {
		t.Fatalf("RevokeSessions: %v", err)
	}
	if err := run(t, env, a.RevokeSessions, awsiam.RevokeSessionsInput{User: "alice"}, &rs); err != nil || rs.NotBefore != "2026-09-01T12:00:00Z" {
		t.Fatalf("second RevokeSessions = %+v, %v", rs, err)
	}
	if err := run(t, env, a.VerifyContained, verify, &vr); err != nil || !vr.Passed {
		t.Fatalf("VerifyContained after containment = %+v, %v; want passed", vr, err)
	}

	var lp awsiam.DeleteLoginProfileResult
	if err := run(t, env, a.DeleteLoginProfile, awsiam.DeleteLoginProfileInput{User: "alice"}, &lp); err != nil || !lp.Deleted {
		t.Errorf("DeleteLoginProfile = %+v, %v", lp, err)
	}
	lp = awsiam.DeleteLoginProfileResult{}
	if err := run(t, env, a.DeleteLoginProfile, awsiam.DeleteLoginProfileInput{User: "alice"}, &lp); err != nil || !lp.AlreadyAbsent {
		t.Errorf("second DeleteLoginProfile = %+v, %v", lp, err)
	}
	var md awsiam.DeactivateMFADevicesResult
	if err := run(t, env, a.DeactivateMFADevices, awsiam.DeactivateMFADevicesInput{User: "alice", DeleteVirtual: true}, &md); err != nil ||
		!reflect.DeepEqual(md.Deactivated, []string{serial}) || !reflect.DeepEqual(md.DeletedVirtual, []string{serial}) {
		t.Errorf("DeactivateMFADevices = %+v, %v", md, err)
	}
	var rg awsiam.RemoveFromGroupsResult
	if err := run(t, env, a.RemoveFromGroups, awsiam.RemoveFromGroupsInput{User: "alice"}, &rg); err != nil || len(rg.Removed) != 2 {
		t.Errorf("RemoveFromGroups = %+v, %v", rg, err)
	}
	if err := run(t, env, a.RemoveFromGroups, awsiam.RemoveFromGroupsInput{User: "alice", Groups: []string{"payments"}}, &rg); err != nil || !reflect.DeepEqual(rg.NotMember, []string{"payments"}) {
		t.Errorf("second RemoveFromGroups = %+v, %v", rg, err)
	}
	var tu awsiam.TagUserResult
	if err := run(t, env, a.TagUser, awsiam.TagUserInput{User: "alice", Tags: map[string]string{"firebreak:contained": "true"}}, &tu); err != nil {
		t.Errorf("TagUser: %v", err)
	}

	if err := run(t, env, a.Inventory, awsiam.InventoryInput{User: "mallory"}, &inv); err != nil || inv.Status != awsiam.StatusAbsent {
		t.Errorf("Inventory of an unknown user against moto: %+v, %v; want status absent", inv, err)
	}
}
