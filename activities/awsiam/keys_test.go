package awsiam_test

import (
	"reflect"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
)

// ListKeys reads exactly what the first cut needs, in two IAM calls made at once.
func TestListKeys(t *testing.T) {
	sb := newSandbox(t)
	var got awsiam.ListKeysResult
	if err := run(t, sb.env, sb.a.ListKeys, awsiam.ListKeysInput{User: "alice"}, &got); err != nil {
		t.Fatal(err)
	}
	want := awsiam.ListKeysResult{
		Subject: "alice", Present: true, Status: awsiam.StatusFound, Detail: "IAM user alice",
		LookedFor: `IAM user "alice" (no directory entry: subject = IAM user name)`,
		UserName:  "alice",
		AccessKeys: []awsiam.AccessKey{
			{AccessKeyID: "AKFBSANDBOXALICE0001", Status: "Active", CreateDate: "2026-06-03T09:00:00Z"},
			{AccessKeyID: "AKFBSANDBOXALICE0002", Status: "Active", CreateDate: "2026-08-22T09:00:00Z"},
		},
		AccessKeyIDs:    []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"},
		ActiveKeyIDs:    []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"},
		HasLoginProfile: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListKeys(alice) =\n%+v\nwant\n%+v", got, want)
	}
	if n := len(sb.rec.Calls("iam")); n != 2 {
		t.Errorf("%d IAM calls, want 2 (ListAccessKeys, GetLoginProfile)", n)
	}
	if err := run(t, sb.env, sb.a.ListKeys, awsiam.ListKeysInput{User: "nobody"}, &got); err != nil || got.Present || got.Status != awsiam.StatusAbsent {
		t.Errorf("ListKeys(nobody) = %+v, %v; want absent, not an error", got, err)
	}
}
