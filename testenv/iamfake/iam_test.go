package iamfake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/iamfake"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// iamTestClient is the unmodified SDK client pointed at srv with the given credentials and no
// retries, so error answers surface directly.
func iamTestClient(srv *iamfake.IAM, keyID, secret string) *iam.Client {
	return iam.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	}, func(o *iam.Options) {
		o.BaseEndpoint = aws.String(srv.URL())
		o.RetryMaxAttempts = 1
	})
}

func newIAMSandbox(t *testing.T) (*iamfake.IAM, *iam.Client, *fakebase.Recorder) {
	t.Helper()
	rec := &fakebase.Recorder{}
	srv := iamfake.New(seed.DefaultOrg(), rec)
	t.Cleanup(srv.Close)
	return srv, iamTestClient(srv, srv.AccessKeyID(), srv.SecretAccessKey()), rec
}

// iamCode returns the AWS error code of err, or "" when err is not an API error.
func iamCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestIAMReadActions(t *testing.T) {
	srv, c, rec := newIAMSandbox(t)
	ctx := context.Background()

	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if aws.ToString(u.User.UserName) != "alice" || aws.ToString(u.User.Arn) != "arn:aws:iam::000000000000:user/alice" || len(aws.ToString(u.User.UserId)) != 21 || u.User.CreateDate == nil {
		t.Errorf("GetUser = %+v", u.User)
	}
	me, err := c.GetUser(ctx, &iam.GetUserInput{})
	if err != nil || aws.ToString(me.User.UserName) != "firebreak" {
		t.Errorf("GetUser of the caller = %v, %v; want the firebreak service user", me, err)
	}

	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	if len(keys.AccessKeyMetadata) != 2 || keys.IsTruncated {
		t.Fatalf("ListAccessKeys = %+v", keys)
	}
	k0 := keys.AccessKeyMetadata[0]
	if aws.ToString(k0.AccessKeyId) != "AKFBSANDBOXALICE0001" || k0.Status != types.StatusTypeActive || aws.ToString(k0.UserName) != "alice" || k0.CreateDate.IsZero() {
		t.Errorf("first key = %+v", k0)
	}

	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKFBSANDBOXALICE0002")})
	if err != nil {
		t.Fatalf("GetAccessKeyLastUsed: %v", err)
	}
	if aws.ToString(lu.UserName) != "alice" || aws.ToString(lu.AccessKeyLastUsed.ServiceName) != "sts" || aws.ToString(lu.AccessKeyLastUsed.Region) != "us-east-1" || lu.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("GetAccessKeyLastUsed = %+v %+v", lu, lu.AccessKeyLastUsed)
	}
	never, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKFBSANDBOXCAROL0001")})
	if err != nil || never.AccessKeyLastUsed.LastUsedDate != nil || aws.ToString(never.AccessKeyLastUsed.ServiceName) != "N/A" {
		t.Errorf("never-used key: %+v, %v; want no date and service N/A", never, err)
	}

	lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")})
	if err != nil || aws.ToString(lp.LoginProfile.UserName) != "alice" || lp.LoginProfile.CreateDate == nil {
		t.Errorf("GetLoginProfile = %+v, %v", lp, err)
	}
	if _, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("carol")}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("GetLoginProfile(carol) error = %v; want NoSuchEntity", err)
	}

	mfa, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("alice")})
	if err != nil || len(mfa.MFADevices) != 1 || aws.ToString(mfa.MFADevices[0].SerialNumber) != "arn:aws:iam::000000000000:mfa/alice-phone" || mfa.MFADevices[0].EnableDate == nil {
		t.Errorf("ListMFADevices = %+v, %v", mfa, err)
	}

	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("alice")})
	if err != nil || len(groups.Groups) != 2 || aws.ToString(groups.Groups[0].GroupName) != "developers" || aws.ToString(groups.Groups[1].Arn) != "arn:aws:iam::000000000000:group/payments" {
		t.Errorf("ListGroupsForUser = %+v, %v", groups, err)
	}

	for _, want := range []string{"GetUser", "ListAccessKeys", "GetAccessKeyLastUsed", "GetLoginProfile", "ListMFADevices", "ListGroupsForUser"} {
		if rec.Count("iam", want) == 0 {
			t.Errorf("recorder has no %s call", want)
		}
	}
	_ = srv
}

func TestIAMPagination(t *testing.T) {
	_, c, _ := newIAMSandbox(t)
	p := iam.NewListGroupsForUserPaginator(c, &iam.ListGroupsForUserInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1)})
	var names []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, g := range out.Groups {
			names = append(names, aws.ToString(g.GroupName))
		}
	}
	if pages != 2 || strings.Join(names, ",") != "developers,payments" {
		t.Errorf("paged %d times through %v; want 2 pages of developers,payments", pages, names)
	}
}

func TestIAMAccessKeyLifecycle(t *testing.T) {
	srv, c, _ := newIAMSandbox(t)
	ctx := context.Background()
	alice := aws.String("alice")

	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: alice}); iamCode(err) != "LimitExceeded" || !strings.Contains(err.Error(), "Cannot exceed quota for AccessKeysPerUser: 2") {
		t.Fatalf("third key error = %v; want LimitExceeded quota message", err)
	}
	var le smithy.APIError
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: alice}); !errors.As(err, &le) {
		t.Fatalf("want an API error, got %v", err)
	}

	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: alice, AccessKeyId: aws.String("AKFBSANDBOXALICE0001"), Status: types.StatusTypeInactive}); err != nil {
		t.Fatalf("UpdateAccessKey: %v", err)
	}
	if st, ok := srv.KeyStatus("alice", "AKFBSANDBOXALICE0001"); !ok || st != "Inactive" {
		t.Errorf("KeyStatus = %q, %v; want Inactive", st, ok)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String("AKFBSANDBOXALICE0002"), Status: types.StatusTypeInactive}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("updating alice's key as bob's: %v; want NoSuchEntity", err)
	}

	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: alice, AccessKeyId: aws.String("AKFBSANDBOXALICE0001")}); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: alice, AccessKeyId: aws.String("AKFBSANDBOXALICE0001")}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("deleting twice: %v; want NoSuchEntity", err)
	}

	created, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: alice})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	k := created.AccessKey
	id, secret := aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey)
	if !strings.HasPrefix(id, "AKFB") || len(id) != 20 || !fakebase.ContainsCanary(secret) || len(secret) != 40 || k.Status != types.StatusTypeActive || k.CreateDate == nil {
		t.Errorf("new key = %q / %d-char secret / %v; want AKFB… id, 40-char canary secret, Active", id, len(secret), k.Status)
	}
	if got, _ := srv.KeySecret(id); got != secret {
		t.Errorf("KeySecret disagrees with CreateAccessKey")
	}

	// The new key authenticates; once deactivated it no longer does.
	ac := iamTestClient(srv, id, secret)
	if _, err := ac.GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Fatalf("GetUser with alice's new key: %v", err)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: alice, AccessKeyId: aws.String(id), Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.GetUser(ctx, &iam.GetUserInput{}); iamCode(err) != "InvalidClientTokenId" {
		t.Errorf("GetUser with a deactivated key: %v; want InvalidClientTokenId", err)
	}
}

func TestIAMLoginMFAGroupsTags(t *testing.T) {
	srv, c, _ := newIAMSandbox(t)
	ctx := context.Background()
	alice := aws.String("alice")
	serial := aws.String("arn:aws:iam::000000000000:mfa/alice-phone")

	if _, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: alice}); err != nil || srv.HasLoginProfile("alice") {
		t.Fatalf("DeleteLoginProfile: %v (still has profile: %v)", err, srv.HasLoginProfile("alice"))
	}
	if _, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: alice}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("second DeleteLoginProfile: %v; want NoSuchEntity", err)
	}

	if _, err := c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: serial}); iamCode(err) != "DeleteConflict" {
		t.Errorf("deleting an assigned MFA device: %v; want DeleteConflict", err)
	}
	if _, err := c.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: alice, SerialNumber: serial}); err != nil || len(srv.MFASerials("alice")) != 0 {
		t.Fatalf("DeactivateMFADevice: %v, left %v", err, srv.MFASerials("alice"))
	}
	if _, err := c.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: alice, SerialNumber: serial}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("second DeactivateMFADevice: %v; want NoSuchEntity", err)
	}
	if _, err := c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: serial}); err != nil || srv.VirtualMFADeviceExists(*serial) {
		t.Errorf("DeleteVirtualMFADevice: %v", err)
	}

	if _, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: alice, GroupName: aws.String("payments")}); err != nil {
		t.Fatalf("RemoveUserFromGroup: %v", err)
	}
	if g := srv.Groups("alice"); len(g) != 1 || g[0] != "developers" {
		t.Errorf("groups after removal = %v", g)
	}
	if _, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: alice, GroupName: aws.String("nope")}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("unknown group: %v; want NoSuchEntity", err)
	}

	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: alice, Tags: []types.Tag{{Key: aws.String("firebreak:contained"), Value: aws.String("INC-1")}, {Key: aws.String("team"), Value: aws.String("payments")}}}); err != nil {
		t.Fatalf("TagUser: %v", err)
	}
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: alice, Tags: []types.Tag{{Key: aws.String("firebreak:contained"), Value: aws.String("INC-2")}}}); err != nil {
		t.Fatalf("TagUser again: %v", err)
	}
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: alice})
	if err != nil || len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].Value) != "INC-2" {
		t.Errorf("ListUserTags = %+v, %v; want the tag overwritten in place", tags, err)
	}
	if got := srv.UserTags("alice"); got["team"] != "payments" {
		t.Errorf("UserTags = %v", got)
	}
}

func TestIAMInlinePolicies(t *testing.T) {
	srv, c, _ := newIAMSandbox(t)
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-09-01T09:00:00+00:00"}}}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny-old"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatalf("PutUserPolicy: %v", err)
	}
	if got, ok := srv.UserPolicy("alice", "deny-old"); !ok || got != doc {
		t.Errorf("UserPolicy = %q, %v", got, ok)
	}
	out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny-old")})
	if err != nil {
		t.Fatalf("GetUserPolicy: %v", err)
	}
	enc := aws.ToString(out.PolicyDocument)
	if strings.ContainsAny(enc, `{"+ `) {
		t.Errorf("PolicyDocument %q is not URL-encoded as AWS returns it", enc)
	}
	if dec, err := url.PathUnescape(enc); err != nil || dec != doc {
		t.Errorf("decoded PolicyDocument = %q, %v", dec, err)
	}
	list, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")})
	if err != nil || len(list.PolicyNames) != 1 || list.PolicyNames[0] != "deny-old" {
		t.Errorf("ListUserPolicies = %+v, %v", list, err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("bad"), PolicyDocument: aws.String("{not json")}); iamCode(err) != "MalformedPolicyDocument" {
		t.Errorf("malformed document: %v; want MalformedPolicyDocument", err)
	}
	if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny-old")}); err != nil {
		t.Fatalf("DeleteUserPolicy: %v", err)
	}
	if _, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("deny-old")}); iamCode(err) != "NoSuchEntity" {
		t.Errorf("GetUserPolicy after delete: %v; want NoSuchEntity", err)
	}
}

func TestIAMErrors(t *testing.T) {
	srv, c, _ := newIAMSandbox(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		client   *iam.Client
		setup    func()
		wantCode string
		wantMsg  string
		status   int
	}{
		{name: "unknown user", client: c, wantCode: "NoSuchEntity", wantMsg: "The user with name mallory cannot be found.", status: 404},
		{name: "unknown access key id", client: iamTestClient(srv, "AKFBNOTAKNOWNKEY0000", "x"), wantCode: "InvalidClientTokenId", status: 403},
		{name: "wrong secret", client: iamTestClient(srv, srv.AccessKeyID(), "wrong"), wantCode: "SignatureDoesNotMatch", status: 403},
		{name: "throttled", client: c, setup: func() { srv.Throttle(1) }, wantCode: "Throttling", wantMsg: "Rate exceeded", status: 400},
		{name: "access denied", client: c, setup: func() { srv.DenyAction("GetUser") }, wantCode: "AccessDenied", wantMsg: "iam:GetUser", status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetFault(nil)
			if tt.setup != nil {
				tt.setup()
			}
			_, err := tt.client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("mallory")})
			if iamCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v; want %s %q", err, tt.wantCode, tt.wantMsg)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != tt.status {
				t.Errorf("HTTP status = %d; want %d", re.HTTPStatusCode(), tt.status)
			}
		})
	}
}

func TestIAMThrottleIsRetriedBySDK(t *testing.T) {
	srv, _, rec := newIAMSandbox(t)
	c := iam.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKeyID(), srv.SecretAccessKey(), ""),
	}, func(o *iam.Options) {
		o.BaseEndpoint = aws.String(srv.URL())
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.MaxBackoff = time.Millisecond
		})
	})
	srv.Throttle(2)
	if _, err := c.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatalf("GetUser after two throttles: %v; want the SDK's retryer to succeed", err)
	}
	if n := rec.Count("iam", "GetUser"); n != 3 {
		t.Errorf("recorded %d GetUser calls; want 3", n)
	}
}

func TestIAMFaultSeesAction(t *testing.T) {
	srv, c, _ := newIAMSandbox(t)
	seen := make(chan string, 1)
	srv.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		seen <- r.FormValue("Action")
		iamfake.WriteError(w, "ServiceFailure", "injected")
		return true
	})
	_, err := c.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if iamCode(err) != "ServiceFailure" {
		t.Fatalf("error = %v; want ServiceFailure", err)
	}
	if a := <-seen; a != "ListAccessKeys" {
		t.Errorf("fault saw Action %q", a)
	}
}

// iamRawCall signs form (with Version added) as the SDK's signer would at signedAt, optionally
// lets tamper alter the signed request, and returns the HTTP status and body.
func iamRawCall(t *testing.T, srv *iamfake.IAM, form url.Values, signedAt time.Time, tamper func(*http.Request)) (int, string) {
	t.Helper()
	form.Set("Version", "2010-05-08")
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if !signedAt.IsZero() {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: srv.AccessKeyID(), SecretAccessKey: srv.SecretAccessKey()}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", signedAt); err != nil {
			t.Fatal(err)
		}
	}
	if tamper != nil {
		tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestIAMRawProtocol(t *testing.T) {
	srv, _, _ := newIAMSandbox(t)
	tests := []struct {
		name     string
		form     url.Values
		signedAt time.Time
		tamper   func(*http.Request)
		status   int
		contains []string
	}{
		{name: "success shape", form: url.Values{"Action": {"GetUser"}, "UserName": {"bob"}}, signedAt: time.Now(), status: 200,
			contains: []string{`<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User>`, `<ResponseMetadata><RequestId>`}},
		{name: "mutation has no Result element", form: url.Values{"Action": {"UpdateAccessKey"}, "UserName": {"bob"}, "AccessKeyId": {"AKFBSANDBOXBOB000002"}, "Status": {"Inactive"}}, signedAt: time.Now(), status: 200,
			contains: []string{`<UpdateAccessKeyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>`}},
		{name: "error shape", form: url.Values{"Action": {"GetUser"}, "UserName": {"mallory"}}, signedAt: time.Now(), status: 404,
			contains: []string{`<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name mallory cannot be found.</Message></Error><RequestId>`}},
		{name: "unknown action", form: url.Values{"Action": {"DeleteEverything"}}, signedAt: time.Now(), status: 400, contains: []string{"<Code>InvalidAction</Code>"}},
		{name: "bad status enum", form: url.Values{"Action": {"UpdateAccessKey"}, "UserName": {"bob"}, "AccessKeyId": {"AKFBSANDBOXBOB000002"}, "Status": {"Off"}}, signedAt: time.Now(), status: 400,
			contains: []string{"<Code>ValidationError</Code>", "enum value set"}},
		{name: "no authorization", form: url.Values{"Action": {"GetUser"}}, status: 403, contains: []string{"<Code>MissingAuthenticationToken</Code>"}},
		{name: "expired signature", form: url.Values{"Action": {"GetUser"}}, signedAt: time.Now().Add(-time.Hour), status: 403, contains: []string{"<Code>SignatureDoesNotMatch</Code>", "Signature expired"}},
		{name: "body altered after signing", form: url.Values{"Action": {"GetUser"}}, signedAt: time.Now(), status: 403, contains: []string{"<Code>SignatureDoesNotMatch</Code>"},
			tamper: func(r *http.Request) {
				b := "Action=GetUser&UserName=alice&Version=2010-05-08"
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
				r.Header.Del("X-Amz-Content-Sha256")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := iamRawCall(t, srv, tt.form, tt.signedAt, tt.tamper)
			if status != tt.status {
				t.Errorf("status = %d; want %d (%s)", status, tt.status, body)
			}
			for _, c := range tt.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body %s\ndoes not contain %s", body, c)
				}
			}
		})
	}
}

func TestIAMTagKeysAreCaseInsensitive(t *testing.T) {
	srv, c, _ := newIAMSandbox(t)
	ctx := context.Background()
	for _, v := range []struct{ k, v string }{{"Department", "finance"}, {"department", "hr"}} {
		if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String(v.k), Value: aws.String(v.v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.UserTags("bob"); len(got) != 1 || got["department"] != "hr" {
		t.Errorf("tags = %v; want department=hr replacing Department=finance", got)
	}
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("x")}}}); iamCode(err) != "InvalidInput" {
		t.Errorf("reserved aws: key: %v; want InvalidInput", err)
	}
}
