package awsiam_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/testenv"
)

var testNow = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)

// sandbox is one IAM sandbox with the activities bound to it through the unmodified SDK.
type sandbox struct {
	srv *testenv.IAM
	rec *testenv.Recorder
	a   *awsiam.Activities
	env *testsuite.TestActivityEnvironment
}

func newClient(endpoint, keyID, secret string) *iam.Client {
	return iam.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	}, func(o *iam.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1 // Temporal retries; tests see each answer
	})
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	rec := &testenv.Recorder{}
	srv := testenv.NewIAM(testenv.DefaultOrg(), rec)
	t.Cleanup(srv.Close)
	a := &awsiam.Activities{Client: newClient(srv.URL(), srv.AccessKeyID(), srv.SecretAccessKey()), Now: func() time.Time { return testNow }}
	return &sandbox{srv: srv, rec: rec, a: a, env: newEnv(a)}
}

func newEnv(a *awsiam.Activities) *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	awsiam.Register(env, a)
	return env
}

// activityName is the registered name of activity method fn, as the interpreter workflow
// derives it: ActivityPrefix plus the method name.
func activityName(fn any) string {
	full := strings.TrimSuffix(runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name(), "-fm")
	return awsiam.ActivityPrefix + full[strings.LastIndex(full, ".")+1:]
}

// fakeRegistry records what Register registers.
type fakeRegistry struct {
	worker.ActivityRegistry
	got  []any
	opts []activity.RegisterOptions
}

func (f *fakeRegistry) RegisterActivityWithOptions(a any, o activity.RegisterOptions) {
	f.got, f.opts = append(f.got, a), append(f.opts, o)
}

func TestRegister(t *testing.T) {
	a := &awsiam.Activities{}
	var r fakeRegistry
	awsiam.Register(&r, a)
	if len(r.got) != 1 || r.got[0] != a || r.opts[0].Name != "awsiam." {
		t.Errorf("Register registered %v with %+v; want the activities struct with prefix awsiam.", r.got, r.opts)
	}
	if got := activityName(a.Inventory); got != "awsiam.Inventory" {
		t.Errorf("activity name = %q", got)
	}
}

// run executes activity fn (a method of Activities) by its registered name with in and
// decodes its result into out.
func run(t *testing.T, env *testsuite.TestActivityEnvironment, fn, in, out any) error {
	t.Helper()
	v, err := env.ExecuteActivity(activityName(fn), in)
	if err != nil {
		return err
	}
	if err := v.Get(out); err != nil {
		t.Fatalf("decoding result: %v", err)
	}
	return nil
}

// appError returns the ApplicationError in err, or nil.
func appError(err error) *temporal.ApplicationError {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func TestInventory(t *testing.T) {
	tests := []struct {
		user    string
		want    awsiam.InventoryResult
		errType string
	}{
		{
			user: "alice",
			want: awsiam.InventoryResult{
				Subject: "alice", Present: true, Status: awsiam.StatusFound, Detail: "IAM user alice (arn:aws:iam::000000000000:user/alice)",
				LookedFor: `IAM user "alice" (no directory entry: subject = IAM user name)`,
				UserName:  "alice", ARN: "arn:aws:iam::000000000000:user/alice",
				AccessKeys: []awsiam.AccessKey{
					{AccessKeyID: "AKFBSANDBOXALICE0001", Status: "Active", CreateDate: "2026-06-03T09:00:00Z", LastUsedDate: "2026-09-01T07:00:00Z", LastUsedService: "s3", LastUsedRegion: "eu-west-1"},
					{AccessKeyID: "AKFBSANDBOXALICE0002", Status: "Active", CreateDate: "2026-08-22T09:00:00Z", LastUsedDate: "2026-09-01T08:30:00Z", LastUsedService: "sts", LastUsedRegion: "us-east-1"},
				},
				AccessKeyIDs:        []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"},
				ActiveKeyIDs:        []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"},
				HasLoginProfile:     true,
				LoginProfileCreated: "2025-11-05T09:00:00Z",
				MFADevices:          []awsiam.MFADevice{{SerialNumber: "arn:aws:iam::000000000000:mfa/alice-phone", EnableDate: "2026-02-13T09:00:00Z"}},
				Groups:              []string{"developers", "payments"},
				InlinePolicies:      []string{},
			},
		},
		{
			user: "carol",
			want: awsiam.InventoryResult{
				Subject: "carol", Present: true, Status: awsiam.StatusFound, Detail: "IAM user carol (arn:aws:iam::000000000000:user/carol)",
				LookedFor: `IAM user "carol" (no directory entry: subject = IAM user name)`,
				UserName:  "carol", ARN: "arn:aws:iam::000000000000:user/carol",
				AccessKeys:     []awsiam.AccessKey{{AccessKeyID: "AKFBSANDBOXCAROL0001", Status: "Active", CreateDate: "2026-08-27T09:00:00Z"}},
				AccessKeyIDs:   []string{"AKFBSANDBOXCAROL0001"},
				ActiveKeyIDs:   []string{"AKFBSANDBOXCAROL0001"},
				MFADevices:     []awsiam.MFADevice{{SerialNumber: "arn:aws:iam::000000000000:mfa/carol-phone", EnableDate: "2026-02-13T09:00:00Z"}},
				Groups:         []string{"developers", "security"},
				InlinePolicies: []string{},
			},
		},
		// Absent from IAM is a result, not an error (issue 14: each system on its own).
		{user: "mallory", want: awsiam.InventoryResult{
			Subject: "mallory", Status: awsiam.StatusAbsent, Detail: `not present in IAM: no IAM user "mallory" (no directory entry: subject = IAM user name)`,
			LookedFor:  `IAM user "mallory" (no directory entry: subject = IAM user name)`,
			AccessKeys: []awsiam.AccessKey{}, AccessKeyIDs: []string{}, ActiveKeyIDs: []string{}, MFADevices: []awsiam.MFADevice{}, Groups: []string{}, InlinePolicies: []string{},
		}},
		{user: "", errType: awsiam.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			sb := newSandbox(t)
			var got awsiam.InventoryResult
			err := run(t, sb.env, sb.a.Inventory, awsiam.InventoryInput{User: tt.user}, &got)
			if tt.errType != "" {
				ae := appError(err)
				if ae == nil || ae.Type() != tt.errType || !ae.NonRetryable() {
					t.Fatalf("error = %v; want non-retryable %s", err, tt.errType)
				}
				if tt.user != "" && !strings.Contains(err.Error(), tt.user) {
					t.Errorf("error %q does not name the user", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inventory: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Inventory =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestInventoryThroughTheDirectory: the directory names the IAM user, or says there is none.
func TestInventoryThroughTheDirectory(t *testing.T) {
	sb := newSandbox(t)
	var got awsiam.InventoryResult
	in := awsiam.InventoryInput{User: "al", Identity: &awsiam.DirectoryEntry{Subject: "al", AWS: &awsiam.AWSIdentity{IAMUser: "alice"}}}
	if err := run(t, sb.env, sb.a.Inventory, in, &got); err != nil || got.UserName != "alice" || !got.Present {
		t.Fatalf("Inventory through the directory = %+v, %v; want IAM user alice", got, err)
	}
	in = awsiam.InventoryInput{User: "alice", Identity: &awsiam.DirectoryEntry{Subject: "alice", AWS: &awsiam.AWSIdentity{None: true}}}
	if err := run(t, sb.env, sb.a.Inventory, in, &got); err != nil || got.Present || got.Status != awsiam.StatusAbsent || !strings.Contains(got.Detail, "aws: none") {
		t.Fatalf("Inventory with aws: none = %+v, %v; want absent, saying so", got, err)
	}
	var vr awsiam.VerifyResult
	if err := run(t, sb.env, sb.a.VerifyContained, awsiam.VerifyContainedInput{User: "alice", Identity: in.Identity}, &vr); err != nil || !vr.Passed || vr.Checks[0].Name != "not present in IAM" {
		t.Fatalf("VerifyContained with aws: none = %+v, %v; want one passed check: not present in IAM", vr, err)
	}
}

func TestInventoryBobHasOneActiveKey(t *testing.T) {
	sb := newSandbox(t)
	var got awsiam.InventoryResult
	if err := run(t, sb.env, sb.a.Inventory, awsiam.InventoryInput{User: "bob"}, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ActiveKeyIDs, []string{"AKFBSANDBOXBOB000001"}) || len(got.AccessKeyIDs) != 2 {
		t.Errorf("bob's keys: active %v of %v", got.ActiveKeyIDs, got.AccessKeyIDs)
	}
}

func TestDeactivateKeysIsIdempotent(t *testing.T) {
	sb := newSandbox(t)
	in := awsiam.DeactivateKeysInput{User: "alice", AccessKeyIDs: []string{"AKFBSANDBOXALICE0002", "AKFBSANDBOXALICE0001"}}
	steps := []struct {
		name string
		want awsiam.DeactivateKeysResult
	}{
		{"first run", awsiam.DeactivateKeysResult{Deactivated: []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"}, AlreadyInactive: []string{}, Missing: []string{}}},
		{"second run", awsiam.DeactivateKeysResult{Deactivated: []string{}, AlreadyInactive: []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"}, Missing: []string{}}},
	}
	for _, st := range steps {
		var got awsiam.DeactivateKeysResult
		if err := run(t, sb.env, sb.a.DeactivateKeys, in, &got); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s = %+v; want %+v", st.name, got, st.want)
		}
	}
	if n := sb.rec.Count("iam", "UpdateAccessKey"); n != 2 {
		t.Errorf("recorded %d UpdateAccessKey calls; want 2 (none on the second run)", n)
	}
	for _, id := range in.AccessKeyIDs {
		if s, _ := sb.srv.KeyStatus("alice", id); s != "Inactive" {
			t.Errorf("key %s is %s", id, s)
		}
	}
}

func TestDeactivateKeysEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		in      awsiam.DeactivateKeysInput
		want    awsiam.DeactivateKeysResult
		errType string
	}{
		{
			name: "all keys when none named",
			in:   awsiam.DeactivateKeysInput{User: "bob"},
			want: awsiam.DeactivateKeysResult{Deactivated: []string{"AKFBSANDBOXBOB000001"}, AlreadyInactive: []string{"AKFBSANDBOXBOB000002"}, Missing: []string{}},
		},
		{
			name: "a key that no longer exists counts as done",
			in:   awsiam.DeactivateKeysInput{User: "carol", AccessKeyIDs: []string{"AKFBDELETEDKEY000001", "AKFBSANDBOXCAROL0001"}},
			want: awsiam.DeactivateKeysResult{Deactivated: []string{"AKFBSANDBOXCAROL0001"}, AlreadyInactive: []string{}, Missing: []string{"AKFBDELETEDKEY000001"}},
		},
		{name: "someone else's key", in: awsiam.DeactivateKeysInput{User: "carol", AccessKeyIDs: []string{"AKFBSANDBOXALICE0001"}}, errType: awsiam.ErrKeyOwnerMismatch},
		{name: "unknown user", in: awsiam.DeactivateKeysInput{User: "mallory", AccessKeyIDs: []string{"AKFBSANDBOXALICE0001"}}, errType: awsiam.ErrUnknownSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t)
			var got awsiam.DeactivateKeysResult
			err := run(t, sb.env, sb.a.DeactivateKeys, tt.in, &got)
			if tt.errType != "" {
				if ae := appError(err); ae == nil || ae.Type() != tt.errType || !ae.NonRetryable() {
					t.Fatalf("error = %v; want non-retryable %s", err, tt.errType)
				}
				if s, _ := sb.srv.KeyStatus("alice", "AKFBSANDBOXALICE0001"); s != "Active" {
					t.Errorf("alice's key was changed by a failed run")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestRevokeSessionsAndVerify(t *testing.T) {
	sb := newSandbox(t)
	verify := awsiam.VerifyContainedInput{User: "alice", AccessKeyIDs: []string{"AKFBSANDBOXALICE0001", "AKFBSANDBOXALICE0002"}}

	var before awsiam.VerifyResult
	if err := run(t, sb.env, sb.a.VerifyContained, verify, &before); err != nil {
		t.Fatal(err)
	}
	if before.Passed || len(before.Checks) != 3 {
		t.Fatalf("before containment: %+v; want 3 failed checks", before)
	}
	for _, c := range before.Checks {
		if c.Passed || c.Detail == "" {
			t.Errorf("check before containment: %+v", c)
		}
	}

	var dk awsiam.DeactivateKeysResult
	if err := run(t, sb.env, sb.a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "alice", AccessKeyIDs: verify.AccessKeyIDs}, &dk); err != nil {
		t.Fatal(err)
	}
	var rs awsiam.RevokeSessionsResult
	if err := run(t, sb.env, sb.a.RevokeSessions, awsiam.RevokeSessionsInput{User: "alice"}, &rs); err != nil {
		t.Fatal(err)
	}
	if rs != (awsiam.RevokeSessionsResult{PolicyName: "firebreak-revoke-older-sessions", NotBefore: "2026-09-01T12:00:00Z"}) {
		t.Errorf("RevokeSessions = %+v", rs)
	}
	wantDoc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-09-01T12:00:00Z"}}}]}`
	if doc, ok := sb.srv.UserPolicy("alice", "firebreak-revoke-older-sessions"); !ok || doc != wantDoc {
		t.Errorf("policy = %s, %v; want %s", doc, ok, wantDoc)
	}

	var after awsiam.VerifyResult
	if err := run(t, sb.env, sb.a.VerifyContained, verify, &after); err != nil {
		t.Fatal(err)
	}
	if !after.Passed || len(after.Checks) != 3 {
		t.Errorf("after containment: %+v; want 3 passed checks", after)
	}

	// A re-run with an earlier clock (another worker, skew) keeps the later cut-off.
	early := &awsiam.Activities{Client: sb.a.Client, Now: func() time.Time { return testNow.Add(-time.Hour) }}
	var again awsiam.RevokeSessionsResult
	if err := run(t, newEnv(early), early.RevokeSessions, awsiam.RevokeSessionsInput{User: "alice"}, &again); err != nil {
		t.Fatal(err)
	}
	if again.NotBefore != "2026-09-01T12:00:00Z" {
		t.Errorf("re-run moved the cut-off to %s", again.NotBefore)
	}
	// A later re-run moves it forward.
	late := &awsiam.Activities{Client: sb.a.Client, Now: func() time.Time { return testNow.Add(time.Hour) }}
	if err := run(t, newEnv(late), late.RevokeSessions, awsiam.RevokeSessionsInput{User: "alice"}, &again); err != nil {
		t.Fatal(err)
	}
	if doc, _ := sb.srv.UserPolicy("alice", "firebreak-revoke-older-sessions"); again.NotBefore != "2026-09-01T13:00:00Z" || !strings.Contains(doc, "2026-09-01T13:00:00Z") {
		t.Errorf("later re-run: %+v, policy %s", again, doc)
	}
}

// TestVerifyContainedUnknownUser: a person with no IAM user has nothing in IAM to contain;
// the verification says so (issue 14: absent from a system is recorded, not a failure).
func TestVerifyContainedUnknownUser(t *testing.T) {
	sb := newSandbox(t)
	var got awsiam.VerifyResult
	err := run(t, sb.env, sb.a.VerifyContained, awsiam.VerifyContainedInput{User: "mallory"}, &got)
	if err != nil || !got.Passed || len(got.Checks) != 1 || got.Checks[0].Name != "not present in IAM" || !strings.Contains(got.Checks[0].Detail, `no IAM user "mallory"`) {
		t.Fatalf("VerifyContained of an unknown user = %+v, %v; want one passed check: not present in IAM", got, err)
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		fault     func(srv *testenv.IAM)
		client    func(srv *testenv.IAM) *iam.Client
		retryable bool
		errType   string
		mention   string
	}{
		{name: "access denied", fault: func(s *testenv.IAM) { s.DenyAction("UpdateAccessKey") }, errType: awsiam.ErrAccessDenied, mention: "iam:UpdateAccessKey"},
		{name: "access denied by a raw fault", fault: func(s *testenv.IAM) {
			s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.FormValue("Action") == "ListAccessKeys" {
					testenv.WriteIAMError(w, "AccessDenied", "not authorized")
					return true
				}
				return false
			})
		}, errType: awsiam.ErrAccessDenied, mention: "iam:ListAccessKeys"},
		{name: "throttling", fault: func(s *testenv.IAM) { s.Throttle(1000) }, retryable: true, mention: "Rate exceeded"},
		{name: "service failure", fault: func(s *testenv.IAM) {
			s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				testenv.WriteIAMError(w, "ServiceFailure", "internal failure")
				return true
			})
		}, retryable: true, mention: "ServiceFailure"},
		{name: "validation error", fault: func(s *testenv.IAM) {
			s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				testenv.WriteIAMError(w, "ValidationError", "1 validation error detected")
				return true
			})
		}, errType: awsiam.ErrInvalidInput},
		{name: "bad credentials", client: func(s *testenv.IAM) *iam.Client {
			return newClient(s.URL(), s.AccessKeyID(), "not-the-secret")
		}, errType: awsiam.ErrInvalidCredentials},
		{name: "server gone", client: func(s *testenv.IAM) *iam.Client {
			return newClient("http://127.0.0.1:1", s.AccessKeyID(), s.SecretAccessKey())
		}, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t)
			a, env := sb.a, sb.env
			if tt.client != nil {
				a = &awsiam.Activities{Client: tt.client(sb.srv)}
				env = newEnv(a)
			}
			if tt.fault != nil {
				tt.fault(sb.srv)
			}
			var got awsiam.DeactivateKeysResult
			err := run(t, env, a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "alice"}, &got)
			if err == nil {
				t.Fatal("DeactivateKeys succeeded; want an error")
			}
			ae := appError(err)
			if tt.retryable {
				if ae != nil && ae.NonRetryable() {
					t.Errorf("error %v is non-retryable; want retryable", err)
				}
			} else if ae == nil || !ae.NonRetryable() || ae.Type() != tt.errType {
				t.Errorf("error = %v; want non-retryable %s", err, tt.errType)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if testenv.ContainsCanary(err.Error()) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestAccessRemoval(t *testing.T) {
	sb := newSandbox(t)
	type step struct {
		name string
		fn   any
		in   any
		out  any
		want any
	}
	var (
		lp  awsiam.DeleteLoginProfileResult
		mfa awsiam.DeactivateMFADevicesResult
		grp awsiam.RemoveFromGroupsResult
		tag awsiam.TagUserResult
	)
	serial := "arn:aws:iam::000000000000:mfa/alice-phone"
	steps := []step{
		{"delete login profile", sb.a.DeleteLoginProfile, awsiam.DeleteLoginProfileInput{User: "alice"}, &lp, &awsiam.DeleteLoginProfileResult{Deleted: true}},
		{"delete login profile again", sb.a.DeleteLoginProfile, awsiam.DeleteLoginProfileInput{User: "alice"}, &lp, &awsiam.DeleteLoginProfileResult{AlreadyAbsent: true}},
		{"deactivate mfa", sb.a.DeactivateMFADevices, awsiam.DeactivateMFADevicesInput{User: "alice", DeleteVirtual: true}, &mfa,
			&awsiam.DeactivateMFADevicesResult{Deactivated: []string{serial}, AlreadyRemoved: []string{}, DeletedVirtual: []string{serial}, AlreadyDeleted: []string{}}},
		{"deactivate mfa again", sb.a.DeactivateMFADevices, awsiam.DeactivateMFADevicesInput{User: "alice", SerialNumbers: []string{serial}, DeleteVirtual: true}, &mfa,
			&awsiam.DeactivateMFADevicesResult{Deactivated: []string{}, AlreadyRemoved: []string{serial}, DeletedVirtual: []string{}, AlreadyDeleted: []string{serial}}},
		{"remove from payments", sb.a.RemoveFromGroups, awsiam.RemoveFromGroupsInput{User: "alice", Groups: []string{"payments"}}, &grp,
			&awsiam.RemoveFromGroupsResult{Removed: []string{"payments"}, NotMember: []string{}}},
		{"remove from all", sb.a.RemoveFromGroups, awsiam.RemoveFromGroupsInput{User: "alice", Groups: []string{"payments", "developers"}}, &grp,
			&awsiam.RemoveFromGroupsResult{Removed: []string{"developers"}, NotMember: []string{"payments"}}},
		{"tag", sb.a.TagUser, awsiam.TagUserInput{User: "alice", Tags: map[string]string{"firebreak:incident": "PINC001", "firebreak:contained": "true"}}, &tag,
			&awsiam.TagUserResult{Tagged: []string{"firebreak:contained", "firebreak:incident"}}},
	}
	for _, st := range steps {
		reset := reflect.ValueOf(st.out).Elem()
		reset.Set(reflect.Zero(reset.Type()))
		if err := run(t, sb.env, st.fn, st.in, st.out); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !reflect.DeepEqual(st.out, st.want) {
			t.Errorf("%s = %+v; want %+v", st.name, st.out, st.want)
		}
	}
	if sb.srv.HasLoginProfile("alice") || len(sb.srv.MFASerials("alice")) != 0 || len(sb.srv.Groups("alice")) != 0 || sb.srv.VirtualMFADeviceExists(serial) {
		t.Errorf("alice still has access: profile %v, mfa %v, groups %v", sb.srv.HasLoginProfile("alice"), sb.srv.MFASerials("alice"), sb.srv.Groups("alice"))
	}
	if tags := sb.srv.UserTags("alice"); tags["firebreak:incident"] != "PINC001" {
		t.Errorf("tags = %v", tags)
	}

	for _, fn := range []struct {
		name string
		run  func() error
	}{
		{"DeleteLoginProfile", func() error {
			return run(t, sb.env, sb.a.DeleteLoginProfile, awsiam.DeleteLoginProfileInput{User: "mallory"}, &lp)
		}},
		{"DeactivateMFADevices", func() error {
			return run(t, sb.env, sb.a.DeactivateMFADevices, awsiam.DeactivateMFADevicesInput{User: "mallory"}, &mfa)
		}},
		{"RemoveFromGroups", func() error {
			return run(t, sb.env, sb.a.RemoveFromGroups, awsiam.RemoveFromGroupsInput{User: "mallory"}, &grp)
		}},
		{"TagUser", func() error {
			return run(t, sb.env, sb.a.TagUser, awsiam.TagUserInput{User: "mallory", Tags: map[string]string{"k": "v"}}, &tag)
		}},
	} {
		if ae := appError(fn.run()); ae == nil || ae.Type() != awsiam.ErrUnknownSubject {
			t.Errorf("%s of an unknown user: %v; want %s", fn.name, ae, awsiam.ErrUnknownSubject)
		}
	}
}

// TestNoSecretsInResultsOrErrors runs every activity, successes and failures, and scans what
// crosses the activity boundary for the sandbox's canary.
func TestNoSecretsInResultsOrErrors(t *testing.T) {
	sb := newSandbox(t)
	calls := []struct {
		fn, in any
	}{
		{sb.a.Inventory, awsiam.InventoryInput{User: "alice"}},
		{sb.a.Inventory, awsiam.InventoryInput{User: "firebreak"}},
		{sb.a.Inventory, awsiam.InventoryInput{User: "mallory"}},
		{sb.a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "alice"}},
		{sb.a.DeactivateKeys, awsiam.DeactivateKeysInput{User: "carol", AccessKeyIDs: []string{"AKFBSANDBOXALICE0001"}}},
		{sb.a.RevokeSessions, awsiam.RevokeSessionsInput{User: "alice"}},
		{sb.a.VerifyContained, awsiam.VerifyContainedInput{User: "alice"}},
		{sb.a.DeleteLoginProfile, awsiam.DeleteLoginProfileInput{User: "bob"}},
		{sb.a.DeactivateMFADevices, awsiam.DeactivateMFADevicesInput{User: "bob"}},
		{sb.a.RemoveFromGroups, awsiam.RemoveFromGroupsInput{User: "bob"}},
		{sb.a.TagUser, awsiam.TagUserInput{User: "bob", Tags: map[string]string{"a": "b"}}},
	}
	for i, c := range calls {
		v, err := sb.env.ExecuteActivity(activityName(c.fn), c.in)
		if err != nil {
			if testenv.ContainsCanary(err.Error()) {
				t.Errorf("call %d: error leaks a secret: %v", i, err)
			}
			continue
		}
		var raw json.RawMessage
		if err := v.Get(&raw); err != nil {
			t.Fatal(err)
		}
		if testenv.ContainsCanary(string(raw)) {
			t.Errorf("call %d: result leaks a secret: %s", i, raw)
		}
	}
}
