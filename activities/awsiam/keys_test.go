package awsiam_test

import (
	"reflect"
	"testing"
	"time"

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

// DeactivateKeys sends the updates of a user's Active keys together: with every IAM answer
// 300 ms late, the second update arrives before the first is answered.
func TestDeactivateKeysAtOnce(t *testing.T) {
	sb := newSandbox(t)
	const latency = 300 * time.Millisecond
	sb.rec.SetLatency(latency)
	var got awsiam.DeactivateKeysResult
	if err := run(t, sb.env, sb.a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "alice"}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Deactivated) != 2 {
		t.Fatalf("deactivated %v, want alice's two keys", got.Deactivated)
	}
	var at []time.Time
	for _, c := range sb.rec.Calls("iam") {
		if c.Op == "UpdateAccessKey" {
			at = append(at, c.At)
		}
	}
	if len(at) != 2 {
		t.Fatalf("%d UpdateAccessKey calls, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]).Abs(); gap >= latency {
		t.Errorf("the second update arrived %v after the first, when IAM answers each %v late: sent one after the other", gap, latency)
	}
}
