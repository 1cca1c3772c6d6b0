package awsiam_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

// rotationSandbox is an IAM sandbox and a Vault sandbox, with the activities storing new keys
// through the real vault.KVStore.
type rotationSandbox struct {
	*sandbox
	vault *testenv.Vault
	store *flakyStore
}

// flakyStore fails the next failures PutSecret calls, as a crash between create and store.
type flakyStore struct {
	inner    awsiam.SecretStore
	mu       sync.Mutex
	failures int
	calls    int
}

func (f *flakyStore) PutSecret(ctx context.Context, mount, path string, data map[string]string) (int, error) {
	f.mu.Lock()
	f.calls++
	fail := f.failures > 0
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return 0, errors.New("connection reset by peer")
	}
	return f.inner.PutSecret(ctx, mount, path, data)
}

func newRotationSandbox(t *testing.T) *rotationSandbox {
	t.Helper()
	sb := newSandbox(t)
	sb.a.Now = nil // the sandbox stamps new keys with the real clock
	v := testenv.NewVault(testenv.DefaultOrg(), sb.rec)
	t.Cleanup(v.Close)
	cfg := api.DefaultConfig()
	cfg.Address = v.URL()
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken())
	store := &flakyStore{inner: fbvault.KVStore{Client: c.Logical()}}
	sb.a.Secrets = store
	sb.env = newEnv(sb.a)
	return &rotationSandbox{sandbox: sb, vault: v, store: store}
}

// noCanary fails when the canary appears in v (a result or error) as JSON or text.
func noCanary(t *testing.T, what string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if strings.Contains(string(b), testenv.Canary) {
		t.Errorf("%s contains the canary: %s", what, b)
	}
	if err, ok := v.(error); ok && err != nil && strings.Contains(err.Error(), testenv.Canary) {
		t.Errorf("%s contains the canary: %v", what, err)
	}
}

func TestRotateKey(t *testing.T) {
	tests := []struct {
		name          string
		in            awsiam.RotateKeyInput
		storeFailures int
		failDelete    int // DeleteAccessKey calls to fail (503), so a failed attempt leaves its orphan
		attempts      int
		wantOld       string
		wantSpare     string
		wantErrType   string
	}{
		{name: "one active key", in: awsiam.RotateKeyInput{User: "carol", IdempotencyKey: "run1/rotate"}, attempts: 1, wantOld: "AKFBSANDBOXCAROL0001"},
		{name: "inactive spare removed first", in: awsiam.RotateKeyInput{User: "bob", VaultPath: "devs/bob/aws", IdempotencyKey: "run2/rotate"}, attempts: 1, wantOld: "AKFBSANDBOXBOB000001", wantSpare: "AKFBSANDBOXBOB000002"},
		{name: "two active keys refused", in: awsiam.RotateKeyInput{User: "alice", IdempotencyKey: "run3/rotate"}, attempts: 1, wantErrType: awsiam.ErrTwoActiveKeys},
		{name: "named key of two active refused", in: awsiam.RotateKeyInput{User: "alice", AccessKeyID: "AKFBSANDBOXALICE0001", IdempotencyKey: "run4/rotate"}, attempts: 1, wantErrType: awsiam.ErrTwoActiveKeys},
		{name: "key of another user", in: awsiam.RotateKeyInput{User: "carol", AccessKeyID: "AKFBSANDBOXBOB000001", IdempotencyKey: "run5/rotate"}, attempts: 1, wantErrType: awsiam.ErrInvalidInput},
		{name: "unknown user", in: awsiam.RotateKeyInput{User: "mallory", IdempotencyKey: "run6/rotate"}, attempts: 1, wantErrType: awsiam.ErrUnknownSubject},
		{name: "store fails once, cleaned up at once", in: awsiam.RotateKeyInput{User: "carol", IdempotencyKey: "run7/rotate"}, storeFailures: 1, attempts: 2, wantOld: "AKFBSANDBOXCAROL0001"},
		{name: "crash after create leaves an orphan the retry deletes", in: awsiam.RotateKeyInput{User: "bob", IdempotencyKey: "run8/rotate"}, storeFailures: 1, failDelete: 1, attempts: 2, wantOld: "AKFBSANDBOXBOB000001", wantSpare: "AKFBSANDBOXBOB000002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRotationSandbox(t)
			rs.store.failures = tt.storeFailures
			// Fail the first DeleteAccessKey of the new key only (the cleanup after the failed store).
			var mu sync.Mutex
			failDelete := tt.failDelete
			rs.srv.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if r.PostForm.Get("Action") == "DeleteAccessKey" && !strings.HasPrefix(r.PostForm.Get("AccessKeyId"), "AKFBSANDBOX") && failDelete > 0 {
					failDelete--
					testenv.WriteIAMError(w, "ServiceUnavailable", "Service is unavailable")
					return true
				}
				return false
			})
			before := rs.srv.AccessKeyIDs(tt.in.User)
			var got awsiam.RotateKeyResult
			var err error
			var created []string
			for i := 0; i < tt.attempts; i++ {
				got = awsiam.RotateKeyResult{}
				err = run(t, rs.env, rs.a.RotateKey, tt.in, &got)
				noCanary(t, "result", got)
				noCanary(t, "error", err)
				for _, id := range rs.srv.AccessKeyIDs(tt.in.User) {
					if !slices.Contains(before, id) && !slices.Contains(created, id) {
						created = append(created, id)
					}
				}
				if n := len(rs.srv.AccessKeyIDs(tt.in.User)); n > 2 {
					t.Fatalf("attempt %d: user has %d keys", i+1, n)
				}
				if i < tt.attempts-1 && err == nil {
					t.Fatalf("attempt %d succeeded; the test expected it to fail", i+1)
				}
			}
			if tt.wantErrType != "" {
				ae := appError(err)
				if ae == nil || ae.Type() != tt.wantErrType || !ae.NonRetryable() {
					t.Fatalf("error = %v; want non-retryable %s", err, tt.wantErrType)
				}
				if after := rs.srv.AccessKeyIDs(tt.in.User); !reflect.DeepEqual(after, before) {
					t.Errorf("keys changed on a refused rotation: %v → %v", before, after)
				}
				if tt.wantErrType == awsiam.ErrTwoActiveKeys && !strings.Contains(err.Error(), "deactivate and delete the other") {
					t.Errorf("error %q does not say what to do", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			mount, path := "secret", "aws/iam/"+tt.in.User
			if tt.in.VaultPath != "" {
				path = tt.in.VaultPath
			}
			want := awsiam.RotateKeyResult{User: tt.in.User, OldAccessKeyID: tt.wantOld, NewAccessKeyID: got.NewAccessKeyID, VaultMount: mount, VaultPath: path, VaultVersion: 1, DeletedSpare: tt.wantSpare}
			if tt.attempts > 1 {
				want.DeletedSpare = "" // deleted by the first attempt
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("RotateKey = %+v; want %+v", got, want)
			}
			if keys := rs.srv.AccessKeyIDs(tt.in.User); !reflect.DeepEqual(keys, []string{got.NewAccessKeyID}) {
				t.Errorf("keys after rotation = %v; want only the new key %s", keys, got.NewAccessKeyID)
			}
			if st, _ := rs.srv.KeyStatus(tt.in.User, got.NewAccessKeyID); st != "Active" {
				t.Errorf("new key status %q; want Active", st)
			}
			creates := 0
			for _, c := range rs.rec.Calls("iam") {
				if c.Op == "CreateAccessKey" {
					creates++
				}
			}
			if creates != tt.attempts || len(created) > tt.attempts {
				t.Errorf("%d CreateAccessKey calls (keys seen %v) over %d attempts; want one per attempt", creates, created, tt.attempts)
			}
			data, version, ok := rs.vault.Secret(mount, path)
			if !ok || version != got.VaultVersion {
				t.Fatalf("vault secret %s/%s: found %v version %d; want version %d", mount, path, ok, version, got.VaultVersion)
			}
			secret, _ := rs.srv.KeySecret(got.NewAccessKeyID)
			if data["access_key_id"] != got.NewAccessKeyID || data["secret_access_key"] != secret || !strings.Contains(secret, testenv.Canary) {
				t.Errorf("vault holds key %q with the right secret %v; want %s and its canary secret", data["access_key_id"], data["secret_access_key"] == secret, got.NewAccessKeyID)
			}

			// Running the finished rotation again changes nothing.
			var again awsiam.RotateKeyResult
			if err := run(t, rs.env, rs.a.RotateKey, tt.in, &again); err != nil {
				t.Fatalf("re-run: %v", err)
			}
			want.DeletedSpare = ""
			if !reflect.DeepEqual(again, want) {
				t.Errorf("re-run = %+v; want %+v", again, want)
			}
			if keys := rs.srv.AccessKeyIDs(tt.in.User); !reflect.DeepEqual(keys, []string{got.NewAccessKeyID}) {
				t.Errorf("keys after re-run = %v", keys)
			}
			for _, c := range rs.rec.Calls("iam") {
				if strings.Contains(c.Op, testenv.Canary) {
					t.Errorf("iam call %q carries the canary", c.Op)
				}
			}
		})
	}
}

func TestRotateKeyWithoutStoreIsRefused(t *testing.T) {
	sb := newSandbox(t)
	var got awsiam.RotateKeyResult
	err := run(t, sb.env, sb.a.RotateKey, awsiam.RotateKeyInput{User: "carol", IdempotencyKey: "k"}, &got)
	if ae := appError(err); ae == nil || ae.Type() != awsiam.ErrInvalidInput {
		t.Fatalf("error = %v; want %s", err, awsiam.ErrInvalidInput)
	}
	if keys := sb.srv.AccessKeyIDs("carol"); len(keys) != 1 {
		t.Errorf("carol's keys = %v; want the one seeded key", keys)
	}
}

func TestDeleteAccessKeys(t *testing.T) {
	sb := newSandbox(t)
	steps := []struct {
		name    string
		in      awsiam.DeleteKeysInput
		want    awsiam.DeleteKeysResult
		errType string
	}{
		{name: "active key refused", in: awsiam.DeleteKeysInput{User: "bob", AccessKeyIDs: []string{"AKFBSANDBOXBOB000002", "AKFBSANDBOXBOB000001"}}, errType: awsiam.ErrKeyActive},
		{name: "inactive key deleted", in: awsiam.DeleteKeysInput{User: "bob", AccessKeyIDs: []string{"AKFBSANDBOXBOB000002"}}, want: awsiam.DeleteKeysResult{Deleted: []string{"AKFBSANDBOXBOB000002"}, Missing: []string{}}},
		{name: "again: missing counts as done", in: awsiam.DeleteKeysInput{User: "bob", AccessKeyIDs: []string{"AKFBSANDBOXBOB000002"}}, want: awsiam.DeleteKeysResult{Deleted: []string{}, Missing: []string{"AKFBSANDBOXBOB000002"}}},
		{name: "another user's key", in: awsiam.DeleteKeysInput{User: "bob", AccessKeyIDs: []string{"AKFBSANDBOXCAROL0001"}}, errType: awsiam.ErrKeyOwnerMismatch},
		{name: "no keys named", in: awsiam.DeleteKeysInput{User: "bob"}, errType: awsiam.ErrInvalidInput},
		{name: "unknown user", in: awsiam.DeleteKeysInput{User: "mallory", AccessKeyIDs: []string{"AKX"}}, errType: awsiam.ErrUnknownSubject},
	}
	for _, st := range steps {
		var got awsiam.DeleteKeysResult
		err := run(t, sb.env, sb.a.DeleteAccessKeys, st.in, &got)
		if st.errType != "" {
			ae := appError(err)
			if ae == nil || ae.Type() != st.errType || !ae.NonRetryable() {
				t.Fatalf("%s: error = %v; want non-retryable %s", st.name, err, st.errType)
			}
			if st.errType == awsiam.ErrKeyActive && !strings.Contains(err.Error(), "deactivate it first") {
				t.Errorf("%s: error %q does not say to deactivate first", st.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: got %+v; want %+v", st.name, got, st.want)
		}
	}
	if keys := sb.srv.AccessKeyIDs("bob"); !reflect.DeepEqual(keys, []string{"AKFBSANDBOXBOB000001"}) {
		t.Errorf("bob's keys = %v; want only the active key (the refused call deleted nothing)", keys)
	}
}

// TestPlanRotateKey: the preflight finds, without changing anything, what would make
// RotateKey fail, with RotateKey's own error types.
func TestPlanRotateKey(t *testing.T) {
	tests := []struct {
		name        string
		in          awsiam.PlanRotateKeyInput
		want        awsiam.PlanRotateKeyResult
		wantErrType string
	}{
		{"one active key", awsiam.PlanRotateKeyInput{User: "carol"}, awsiam.PlanRotateKeyResult{User: "carol", AccessKeyID: "AKFBSANDBOXCAROL0001"}, ""},
		{"inactive spare to remove", awsiam.PlanRotateKeyInput{User: "bob"}, awsiam.PlanRotateKeyResult{User: "bob", AccessKeyID: "AKFBSANDBOXBOB000001", Spare: "AKFBSANDBOXBOB000002"}, ""},
		{"two active keys", awsiam.PlanRotateKeyInput{User: "alice"}, awsiam.PlanRotateKeyResult{}, awsiam.ErrTwoActiveKeys},
		{"key of another user", awsiam.PlanRotateKeyInput{User: "carol", AccessKeyID: "AKFBSANDBOXBOB000001"}, awsiam.PlanRotateKeyResult{}, awsiam.ErrInvalidInput},
		{"unknown user", awsiam.PlanRotateKeyInput{User: "mallory"}, awsiam.PlanRotateKeyResult{}, awsiam.ErrUnknownSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRotationSandbox(t)
			before := rs.srv.AccessKeyIDs(tt.in.User)
			var got awsiam.PlanRotateKeyResult
			err := run(t, rs.env, rs.a.PlanRotateKey, tt.in, &got)
			if tt.wantErrType != "" {
				if ae := appError(err); ae == nil || ae.Type() != tt.wantErrType || !ae.NonRetryable() {
					t.Fatalf("err %v, want non-retryable %s", err, tt.wantErrType)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("%+v %v, want %+v", got, err, tt.want)
			}
			if now := rs.srv.AccessKeyIDs(tt.in.User); !reflect.DeepEqual(now, before) {
				t.Errorf("keys changed from %v to %v", before, now)
			}
		})
	}
}
