package vault_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

// lockedBuffer collects log output from activity goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one sandbox Vault with the activities pointed at it.
type harness struct {
	t    *testing.T
	v    *testenv.Vault
	rec  *testenv.Recorder
	acts *vault.Activities
	logs *lockedBuffer
	// outputs collects every result and error message, for the canary scan.
	outputs []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	rec := &testenv.Recorder{}
	v := testenv.NewVault(testenv.DefaultOrg(), rec)
	t.Cleanup(v.Close)
	h := &harness{t: t, v: v, rec: rec, logs: &lockedBuffer{}}
	h.acts = &vault.Activities{
		Client: h.client(v.RootToken()).Logical(),
		NewSecret: func(path, field string, _ vault.Format) (string, error) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			return "rotated-" + testenv.Canary + "-" + hex.EncodeToString(b[:]), nil
		},
	}
	return h
}

// client is an unmodified Vault API client with client-side retries off, so the activity
// (and Temporal's retry policy) sees each failure.
func (h *harness) client(token string) *api.Client {
	cfg := api.DefaultConfig()
	cfg.Address = h.v.URL()
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		h.t.Fatalf("api.NewClient: %v", err)
	}
	c.SetToken(token)
	return c
}

// run executes the activity method called method of acts, by its registered name, in a fresh
// TestActivityEnvironment and decodes its result into out.
func (h *harness) run(acts *vault.Activities, method string, in any, out any) error {
	h.t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	env := s.NewTestActivityEnvironment()
	vault.Register(env, acts)
	val, err := env.ExecuteActivity(vault.ActivityPrefix+method, in)
	if err != nil {
		h.outputs = append(h.outputs, err.Error())
		return err
	}
	if err := val.Get(out); err != nil {
		h.t.Fatalf("decoding result: %v", err)
	}
	b, _ := json.Marshal(out)
	h.outputs = append(h.outputs, string(b))
	return nil
}

// noCanary fails when any activity output or log line carries sandbox secret material.
func (h *harness) noCanary() {
	h.t.Helper()
	for _, o := range h.outputs {
		if testenv.ContainsCanary(o) {
			h.t.Errorf("activity output contains the canary: %s", o)
		}
	}
	if testenv.ContainsCanary(h.logs.String()) {
		h.t.Errorf("activity logs contain the canary:\n%s", h.logs.String())
	}
}

// mark sets the custom_metadata of a secret as its owners would (firebreak-rotate etc.).
func (h *harness) mark(mount, path string, meta map[string]string) {
	h.t.Helper()
	custom := map[string]any{}
	for k, v := range meta {
		custom[k] = v
	}
	if _, err := h.client(h.v.RootToken()).Logical().Write(mount+"/metadata/"+path, map[string]any{"custom_metadata": custom}); err != nil {
		h.t.Fatalf("marking %s/%s: %v", mount, path, err)
	}
}

// markGenerateAll marks the seeded payments-db and stripe-api secrets generate: on every field,
// the behaviour the idempotency tests below were written for.
func (h *harness) markGenerateAll() {
	h.mark("secret", "shared/payments-db", map[string]string{vault.MetaRotate: "generate:username,password"})
	h.mark("secret", "shared/stripe-api", map[string]string{vault.MetaRotate: "generate:api_key"})
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v (%T) is not an ApplicationError", err, err)
	}
	return appErr
}

func TestInventory(t *testing.T) {
	tests := []struct {
		name          string
		in            vault.InventoryInput
		wantAccessors []string
		wantPaths     []string
		wantPolicies  []string
	}{
		{
			name:          "alice shared",
			in:            vault.InventoryInput{Subject: "alice", SecretMount: "secret", SecretPrefix: "shared/"},
			wantAccessors: []string{"acc-alice-ci", "acc-alice-laptop"},
			wantPaths:     []string{"secret/shared/ci/deploy-key", "secret/shared/ci/webhook-hmac", "secret/shared/payments-db", "secret/shared/stripe-api"},
			wantPolicies:  []string{"ci-deployer", "default", "developer", "payments-reader"},
		},
		{
			// Every KV v2 mount and the whole of each is the default (issue 14: Vault decides
			// what a person can read, wherever it is).
			name:          "alice every mount",
			in:            vault.InventoryInput{Subject: "alice"},
			wantAccessors: []string{"acc-alice-ci", "acc-alice-laptop"},
			wantPaths:     []string{"secret/dev/alice/scratch", "secret/shared/ci/deploy-key", "secret/shared/ci/webhook-hmac", "secret/shared/payments-db", "secret/shared/stripe-api"},
			wantPolicies:  []string{"ci-deployer", "default", "developer", "payments-reader"},
		},
		{
			name:          "carol may only list shared",
			in:            vault.InventoryInput{Subject: "carol", SecretPrefix: "shared/"},
			wantAccessors: []string{"acc-carol-laptop"},
			wantPaths:     []string{},
			wantPolicies:  []string{"default", "developer", "security-oncall"},
		},
		{
			// developer grants secret/data/dev/*: Vault says carol can read alice's scratch.
			name:          "carol every mount",
			in:            vault.InventoryInput{Subject: "carol"},
			wantAccessors: []string{"acc-carol-laptop"},
			wantPaths:     []string{"secret/dev/alice/scratch"},
			wantPolicies:  []string{"default", "developer", "security-oncall"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var res vault.InventoryResult
			if err := h.run(h.acts, "Inventory", tc.in, &res); err != nil {
				t.Fatalf("Inventory: %v", err)
			}
			if res.EntityID != h.v.EntityID(tc.in.Subject) || res.EntityName != tc.in.Subject || res.EntityDisabled {
				t.Errorf("entity = %q %q disabled=%v, want %q %q enabled", res.EntityID, res.EntityName, res.EntityDisabled, h.v.EntityID(tc.in.Subject), tc.in.Subject)
			}
			if !reflect.DeepEqual(res.Accessors, tc.wantAccessors) {
				t.Errorf("accessors = %v, want %v", res.Accessors, tc.wantAccessors)
			}
			if !reflect.DeepEqual(res.ReadablePaths, tc.wantPaths) {
				t.Errorf("readable paths = %v, want %v", res.ReadablePaths, tc.wantPaths)
			}
			if !reflect.DeepEqual(res.Policies, tc.wantPolicies) {
				t.Errorf("policies = %v, want %v", res.Policies, tc.wantPolicies)
			}
			for _, s := range res.ReadableSecrets {
				if s.Mount != "secret" || s.Version != 1 {
					t.Errorf("readable secret %+v, want mount secret at version 1", s)
				}
			}
			for _, tok := range res.Tokens {
				if tok.EntityID != res.EntityID || tok.CreationTime == "" || tok.ExpireTime == "" || tok.DisplayName == "" {
					t.Errorf("token %+v is incomplete", tok)
				}
			}
			h.noCanary()
		})
	}
}

// TestInventoryErrors: only mistakes in the input fail an inventory. A subject absent from
// Vault and a Vault that cannot be asked are results (issue 14: each system on its own), so
// the run contains the other systems and the evidence says what Vault could not tell.
func TestInventoryErrors(t *testing.T) {
	h := newHarness(t)
	// Patience past: this attempt is the one that gives up.
	quick := func(a *vault.Activities) *vault.Activities { a.Patience = time.Nanosecond; return a }
	tests := []struct {
		name          string
		acts          *vault.Activities
		fault         func(w http.ResponseWriter, r *http.Request) bool
		in            vault.InventoryInput
		wantType      string // error type; "" means a result with wantStatus
		wantStatus    string
		wantInMessage string
	}{
		{"unknown subject", h.acts, nil, vault.InventoryInput{Subject: "mallory"}, "", vault.StatusAbsent, `no identity entity named "mallory"`},
		{"subject with slash", h.acts, nil, vault.InventoryInput{Subject: "a/b"}, vault.ErrInvalidInput, "", "single path segment"},
		{"bad token is 403", quick(&vault.Activities{Client: h.client("hvs.not-a-token").Logical()}), nil, vault.InventoryInput{Subject: "alice"}, "", vault.StatusUnavailable, "identity/entity/name/alice was denied (403"},
		{"500 past patience", quick(&vault.Activities{Client: h.acts.Client}), func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"errors":["internal error"]}`)
			return true
		}, vault.InventoryInput{Subject: "alice"}, "", vault.StatusUnavailable, "Vault answered 500"},
		{"429 past patience", quick(&vault.Activities{Client: h.acts.Client}), func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "lookup-accessor") {
				return false
			}
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"errors":["request path \"auth/token/lookup-accessor\": rate limit quota exceeded"]}`)
			return true
		}, vault.InventoryInput{Subject: "alice"}, "", vault.StatusUnavailable, "429"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.v.SetFault(tc.fault)
			defer h.v.SetFault(nil)
			var res vault.InventoryResult
			err := h.run(tc.acts, "Inventory", tc.in, &res)
			if tc.wantType == "" {
				if err != nil || res.Status != tc.wantStatus || res.Present || !strings.Contains(res.Detail, tc.wantInMessage) {
					t.Fatalf("Inventory = %+v, %v; want status %s mentioning %q", res, err, tc.wantStatus, tc.wantInMessage)
				}
				return
			}
			if err == nil {
				t.Fatalf("Inventory succeeded: %+v", res)
			}
			appErr := appError(t, err)
			if !appErr.NonRetryable() || appErr.Type() != tc.wantType || !strings.Contains(err.Error(), tc.wantInMessage) {
				t.Fatalf("error type %q nonretryable=%v (%v), want non-retryable %q mentioning %q", appErr.Type(), appErr.NonRetryable(), err, tc.wantType, tc.wantInMessage)
			}
		})
	}
	h.noCanary()
}

// TestInventoryTransientFailureIsRetried: within its patience an inventory hands a transient
// failure to Temporal, which retries it; the retry inventories Vault as usual.
func TestInventoryTransientFailureIsRetried(t *testing.T) {
	h := newHarness(t)
	h.v.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errors":["Vault is sealed"]}`)
		return true
	})
	acts := &vault.Activities{Client: h.acts.Client, Patience: time.Hour}
	var res vault.InventoryResult
	err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "alice"}, &res)
	if err == nil || appError(t, err).NonRetryable() {
		t.Fatalf("Inventory with Vault sealed, within patience = %+v, %v; want a retryable error", res, err)
	}
	h.v.SetFault(nil)
	if err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "alice"}, &res); err != nil || res.Status != vault.StatusFound {
		t.Fatalf("retried Inventory = %+v, %v; want found", res, err)
	}
}

func TestRevokeTokensTwice(t *testing.T) {
	h := newHarness(t)
	in := vault.RevokeTokensInput{Accessors: []string{"acc-alice-laptop", "acc-alice-ci", "acc-alice-laptop"}}
	tests := []struct {
		name                string
		wantRevoked, wantAl []string
	}{
		{"first", []string{"acc-alice-ci", "acc-alice-laptop"}, []string{}},
		{"second", []string{}, []string{"acc-alice-ci", "acc-alice-laptop"}},
	}
	for _, tc := range tests {
		var res vault.RevokeTokensResult
		if err := h.run(h.acts, "RevokeTokens", in, &res); err != nil {
			t.Fatalf("%s RevokeTokens: %v", tc.name, err)
		}
		if !reflect.DeepEqual(res.Revoked, tc.wantRevoked) || !reflect.DeepEqual(res.AlreadyRevoked, tc.wantAl) {
			t.Fatalf("%s: %+v, want revoked %v already %v", tc.name, res, tc.wantRevoked, tc.wantAl)
		}
	}
	if h.v.TokenValid("acc-alice-laptop") || h.v.TokenValid("acc-alice-ci") {
		t.Error("alice's tokens are still valid")
	}
	if !h.v.TokenValid("acc-bob-laptop") || !h.v.TokenValid("acc-carol-laptop") {
		t.Error("revoking alice's tokens touched somebody else's")
	}
	// Four revoke calls (two per run, duplicates dropped), every one answered as a success.
	calls := 0
	for _, c := range h.rec.Calls("vault") {
		if c.Op == "POST auth/token/revoke-accessor" {
			calls++
			if c.Status >= 300 {
				t.Errorf("revoke call answered %d", c.Status)
			}
		}
	}
	if calls != 4 {
		t.Errorf("%d revoke-accessor calls, want 4", calls)
	}
	h.noCanary()
}

func TestDisableEnableEntity(t *testing.T) {
	h := newHarness(t)
	id := h.v.EntityID("alice")
	tests := []struct {
		name   string
		method string
		want   vault.EntityResult
	}{
		{"disable", "DisableEntity", vault.EntityResult{EntityID: id, Disabled: true, WasDisabled: false}},
		{"disable again", "DisableEntity", vault.EntityResult{EntityID: id, Disabled: true, WasDisabled: true}},
		{"enable", "EnableEntity", vault.EntityResult{EntityID: id, Disabled: false, WasDisabled: true}},
		{"enable again", "EnableEntity", vault.EntityResult{EntityID: id, Disabled: false, WasDisabled: false}},
	}
	for _, tc := range tests {
		var res vault.EntityResult
		if err := h.run(h.acts, tc.method, vault.EntityInput{EntityID: id}, &res); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res != tc.want {
			t.Fatalf("%s: %+v, want %+v", tc.name, res, tc.want)
		}
		if h.v.EntityDisabled("alice") != tc.want.Disabled {
			t.Fatalf("%s: sandbox says disabled=%v", tc.name, h.v.EntityDisabled("alice"))
		}
	}
	if n := h.rec.Count("vault", "POST identity/entity/id/"+id); n != 2 {
		t.Errorf("%d entity writes, want 2 (the repeats only read)", n)
	}
	var res vault.EntityResult
	err := h.run(h.acts, "DisableEntity", vault.EntityInput{EntityID: "00000000-0000-0000-0000-000000000000"}, &res)
	if appErr := appError(t, err); appErr.Type() != vault.ErrUnknownEntity || !appErr.NonRetryable() {
		t.Fatalf("unknown entity: %v, want non-retryable %s", err, vault.ErrUnknownEntity)
	}
}

func TestRotateSecretsOnce(t *testing.T) {
	h := newHarness(t)
	h.markGenerateAll()
	secrets := []vault.SecretRef{{Mount: "secret", Path: "shared/payments-db", Version: 1}, {Mount: "secret", Path: "shared/stripe-api", Version: 1}}
	before, _, _ := h.v.Secret("secret", "shared/payments-db")
	want := []vault.Rotation{
		{Mount: "secret", Path: "shared/payments-db", PreviousVersion: 1, NewVersion: 2, Strategy: "generate:username,password", Fields: []string{"username", "password"}},
		{Mount: "secret", Path: "shared/stripe-api", PreviousVersion: 1, NewVersion: 2, Strategy: "generate:api_key", Fields: []string{"api_key"}},
	}
	for _, attempt := range []string{"first", "retry"} {
		var res vault.RotateSecretsResult
		if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: secrets, IdempotencyKey: "incident-1/rotate"}, &res); err != nil {
			t.Fatalf("%s RotateSecrets: %v", attempt, err)
		}
		if !reflect.DeepEqual(res.Rotated, want) {
			t.Fatalf("%s: %+v, want %+v", attempt, res.Rotated, want)
		}
	}
	for _, s := range secrets {
		if n := h.rec.Count("vault", "POST secret/data/"+s.Path); n != 1 {
			t.Errorf("%s written %d times, want once", s.Path, n)
		}
	}
	after, version, _ := h.v.Secret("secret", "shared/payments-db")
	old, ok := h.v.SecretVersion("secret", "shared/payments-db", 1)
	if version != 2 || !ok || !reflect.DeepEqual(old, before) {
		t.Fatalf("version %d, version 1 kept=%v, want 2 with version 1 unchanged", version, ok)
	}
	if after["username"] == before["username"] || after["password"] == before["password"] || len(after) != 2 {
		t.Errorf("not every field was given a new value")
	}
	if md := h.v.SecretCustomMetadata("secret", "shared/payments-db"); md[vault.RotationMarkerKey] != "incident-1/rotate@1" {
		t.Errorf("marker = %q", md[vault.RotationMarkerKey])
	}
	if !strings.Contains(h.logs.String(), "vault secret already rotated") {
		t.Errorf("the retry did not log that it found the earlier rotation; logs:\n%s", h.logs.String())
	}

	// A different idempotency key is a new rotation.
	var res vault.RotateSecretsResult
	if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: secrets[:1], IdempotencyKey: "incident-2/rotate"}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Rotated) != 1 || res.Rotated[0].PreviousVersion != 2 || res.Rotated[0].NewVersion != 3 {
		t.Fatalf("second incident: %+v, want 2 → 3", res)
	}
	h.noCanary()
}

// TestRotateSecretsCrash covers the two crash windows: after marking but before writing, and
// after writing but before the answer arrived.
func TestRotateSecretsCrash(t *testing.T) {
	const path = "/v1/secret/data/shared/stripe-api"
	in := vault.RotateSecretsInput{Secrets: []vault.SecretRef{{Mount: "secret", Path: "shared/stripe-api"}}, IdempotencyKey: "k"}
	tests := []struct {
		name       string
		fault      func(h *harness) func(w http.ResponseWriter, r *http.Request) bool
		wantWrites int // successful data writes in total
	}{
		{"fails before the write", func(h *harness) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPut || r.URL.Path != path {
					return false
				}
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
		}, 1},
		{"answer lost after the write", func(h *harness) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPut || r.URL.Path != path || r.Header.Get("X-Test-Forwarded") != "" {
					return false
				}
				// Let the write happen, then lose the answer.
				body, _ := io.ReadAll(r.Body)
				req, _ := http.NewRequest(http.MethodPut, h.v.URL()+path, bytes.NewReader(body))
				req.Header = r.Header.Clone()
				req.Header.Set("X-Test-Forwarded", "1")
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.markGenerateAll()
			h.v.SetFault(tc.fault(h))
			var res vault.RotateSecretsResult
			err := h.run(h.acts, "RotateSecrets", in, &res)
			if err == nil || appError(t, err).NonRetryable() {
				t.Fatalf("faulted attempt: %v, want a retryable error", err)
			}
			h.v.SetFault(nil)
			if err := h.run(h.acts, "RotateSecrets", in, &res); err != nil {
				t.Fatalf("retry: %v", err)
			}
			want := []vault.Rotation{{Mount: "secret", Path: "shared/stripe-api", PreviousVersion: 1, NewVersion: 2, Strategy: "generate:api_key", Fields: []string{"api_key"}}}
			if !reflect.DeepEqual(res.Rotated, want) {
				t.Fatalf("retry: %+v, want %+v", res.Rotated, want)
			}
			if _, v, _ := h.v.Secret("secret", "shared/stripe-api"); v != 2 {
				t.Fatalf("secret at version %d, want 2 (rotated exactly once)", v)
			}
			h.noCanary()
		})
	}
}

func TestRotateSecretsConcurrentWriter(t *testing.T) {
	h := newHarness(t)
	h.markGenerateAll()
	const path = "/v1/secret/data/shared/payments-db"
	h.v.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Path == path {
			h.v.PutSecret("secret", "shared/payments-db", map[string]string{"username": "payments", "password": "someone-else-" + testenv.Canary})
			h.v.SetFault(nil)
		}
		return false
	})
	in := vault.RotateSecretsInput{Secrets: []vault.SecretRef{{Mount: "secret", Path: "shared/payments-db"}}, IdempotencyKey: "k"}
	var res vault.RotateSecretsResult
	err := h.run(h.acts, "RotateSecrets", in, &res)
	if err == nil || appError(t, err).NonRetryable() || !strings.Contains(err.Error(), "somebody else") {
		t.Fatalf("conflicting attempt: %v, want a retryable error naming the concurrent writer", err)
	}
	// The retry must not mistake the other writer's version 2 for its own.
	if err := h.run(h.acts, "RotateSecrets", in, &res); err != nil {
		t.Fatalf("retry: %v", err)
	}
	want := []vault.Rotation{{Mount: "secret", Path: "shared/payments-db", PreviousVersion: 2, NewVersion: 3, Strategy: "generate:username,password", Fields: []string{"username", "password"}}}
	if !reflect.DeepEqual(res.Rotated, want) {
		t.Fatalf("retry: %+v, want %+v", res.Rotated, want)
	}
	h.noCanary()
}

// TestRotateSecretsErrors: a malformed input fails the whole activity; a secret that is not
// there is that secret's failure, and the others are still rotated. (Before per-secret
// results, a missing secret failed the whole activity.)
func TestRotateSecretsErrors(t *testing.T) {
	h := newHarness(t)
	h.markGenerateAll()
	var res vault.RotateSecretsResult
	err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: []vault.SecretRef{{Mount: "secret", Path: "shared/../x"}}, IdempotencyKey: "k"}, &res)
	if appErr := appError(t, err); appErr.Type() != vault.ErrInvalidInput || !appErr.NonRetryable() {
		t.Fatalf("relative path: %v, want non-retryable %s", err, vault.ErrInvalidInput)
	}
	in := vault.RotateSecretsInput{IdempotencyKey: "k", Secrets: []vault.SecretRef{
		{Mount: "secret", Path: "shared/nope"}, {Mount: "kv", Path: "x"}, {Mount: "secret", Path: "shared/stripe-api"},
	}}
	if err := h.run(h.acts, "RotateSecrets", in, &res); err != nil {
		t.Fatalf("RotateSecrets: %v", err)
	}
	if len(res.Failed) != 2 || res.Failed[0].Kind != vault.ErrSecretNotFound || res.Failed[1].Kind != vault.ErrSecretNotFound {
		t.Fatalf("failed = %+v, want shared/nope and kv/x as %s", res.Failed, vault.ErrSecretNotFound)
	}
	if len(res.Rotated) != 1 || res.Rotated[0].Path != "shared/stripe-api" {
		t.Fatalf("rotated = %+v, want shared/stripe-api rotated despite the others", res.Rotated)
	}
	h.noCanary()
}

func TestVerifyRevoked(t *testing.T) {
	h := newHarness(t)
	in := vault.VerifyRevokedInput{Accessors: []string{"acc-alice-ci", "acc-alice-laptop"}, EntityID: h.v.EntityID("alice")}
	var res vault.VerifyResult
	if err := h.run(h.acts, "VerifyRevoked", in, &res); err != nil {
		t.Fatalf("VerifyRevoked before: %v", err)
	}
	if res.Passed || len(res.Checks) != 3 {
		t.Fatalf("before revocation: %+v, want 3 failed checks", res)
	}
	for _, c := range res.Checks {
		if c.Passed || c.Detail == "" {
			t.Errorf("before revocation check %+v passed or has no detail", c)
		}
	}

	var rv vault.RevokeTokensResult
	if err := h.run(h.acts, "RevokeTokens", vault.RevokeTokensInput{Accessors: in.Accessors}, &rv); err != nil {
		t.Fatal(err)
	}
	var er vault.EntityResult
	if err := h.run(h.acts, "DisableEntity", vault.EntityInput{EntityID: in.EntityID}, &er); err != nil {
		t.Fatal(err)
	}
	if err := h.run(h.acts, "VerifyRevoked", in, &res); err != nil {
		t.Fatalf("VerifyRevoked after: %v", err)
	}
	if !res.Passed || len(res.Checks) != 3 {
		t.Fatalf("after revocation: %+v, want 3 passed checks", res)
	}

	h.v.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	err := h.run(h.acts, "VerifyRevoked", in, &res)
	if err == nil || appError(t, err).NonRetryable() {
		t.Fatalf("VerifyRevoked with Vault failing: %v, want a retryable error", err)
	}
	h.noCanary()
}
