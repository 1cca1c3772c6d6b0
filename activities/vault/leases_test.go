package vault_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

func TestRevokeLeasePrefix(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		fault   int    // HTTP status the sandbox answers instead, 0 for none
		errType string // non-retryable application error type; "" for success or retryable
		retry   bool   // a retryable error is expected
		gone    string // no lease may remain under this prefix
		kept    string // leases under this prefix must survive
	}{
		{name: "database role", prefix: "database/creds/dev-alice/", gone: "database/creds/dev-alice/", kept: "aws/creds/dev-alice/"},
		{name: "twice is once", prefix: "database/creds/dev-alice/", gone: "database/creds/dev-alice/", kept: "database/creds/dev-bob/"},
		{name: "nothing under prefix", prefix: "aws/creds/nobody/", kept: "aws/creds/dev-alice/"},
		{name: "whole mount refused", prefix: "aws/", errType: vault.ErrInvalidInput},
		{name: "auth refused", prefix: "auth/oidc/", errType: vault.ErrInvalidInput},
		{name: "dot-dot refused", prefix: "aws/creds/../../sys", errType: vault.ErrInvalidInput},
		{name: "403 names the path", prefix: "aws/creds/dev-bob/", fault: http.StatusForbidden, errType: vault.ErrPermissionDenied, kept: "aws/creds/dev-bob/"},
		{name: "503 is retried", prefix: "aws/creds/dev-bob/", fault: http.StatusServiceUnavailable, retry: true, kept: "aws/creds/dev-bob/"},
	}
	h := newHarness(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.v.SetFault(nil)
			if tc.fault != 0 {
				h.v.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
					w.WriteHeader(tc.fault)
					_, _ = w.Write([]byte(`{"errors":["injected"]}`))
					return true
				})
			}
			var res vault.RevokeLeasePrefixResult
			err := h.run(h.acts, "RevokeLeasePrefix", vault.RevokeLeasePrefixInput{Prefix: tc.prefix}, &res)
			switch {
			case tc.errType != "":
				if appErr := appError(t, err); appErr.Type() != tc.errType || !appErr.NonRetryable() {
					t.Fatalf("error %v; expected non-retryable %s", err, tc.errType)
				}
				if tc.errType == vault.ErrPermissionDenied && !strings.Contains(err.Error(), "sys/leases/revoke-prefix/") {
					t.Errorf("403 does not name the path: %v", err)
				}
			case tc.retry:
				var appErr *temporal.ApplicationError
				if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
					t.Fatalf("error %v; expected a retryable error", err)
				}
			case err != nil:
				t.Fatal(err)
			case !res.Revoked || res.Prefix != tc.prefix:
				t.Errorf("result %+v", res)
			}
			h.v.SetFault(nil)
			if tc.gone != "" && len(h.v.Leases(tc.gone)) != 0 {
				t.Errorf("leases remain under %s: %v", tc.gone, h.v.Leases(tc.gone))
			}
			if tc.kept != "" && len(h.v.Leases(tc.kept)) == 0 {
				t.Errorf("leases under %s were revoked too", tc.kept)
			}
		})
	}
	h.noCanary()
}

func TestDestroyTOTP(t *testing.T) {
	h := newHarness(t)
	alice := h.v.EntityID("alice")
	tests := []struct {
		name    string
		in      vault.DestroyTOTPInput
		errType string
	}{
		{name: "destroy", in: vault.DestroyTOTPInput{EntityID: alice, MethodID: testenv.VaultTOTPMethodID}},
		{name: "twice is once", in: vault.DestroyTOTPInput{EntityID: alice, MethodID: testenv.VaultTOTPMethodID}},
		{name: "unknown entity", in: vault.DestroyTOTPInput{EntityID: "no-such-entity", MethodID: testenv.VaultTOTPMethodID}, errType: vault.ErrInvalidRequest},
		{name: "unknown method", in: vault.DestroyTOTPInput{EntityID: alice, MethodID: "nope"}, errType: vault.ErrInvalidRequest},
		{name: "path injection", in: vault.DestroyTOTPInput{EntityID: "../x", MethodID: testenv.VaultTOTPMethodID}, errType: vault.ErrInvalidInput},
		{name: "empty method", in: vault.DestroyTOTPInput{EntityID: alice}, errType: vault.ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res vault.DestroyTOTPResult
			err := h.run(h.acts, "DestroyTOTP", tc.in, &res)
			if tc.errType != "" {
				if appErr := appError(t, err); appErr.Type() != tc.errType {
					t.Fatalf("error %v; expected %s", err, tc.errType)
				}
				return
			}
			if err != nil || !res.Destroyed {
				t.Fatalf("%+v %v", res, err)
			}
		})
	}
	if h.v.HasTOTPSecret("alice") || !h.v.HasTOTPSecret("bob") {
		t.Errorf("alice has TOTP %v, bob %v; expected only bob's to remain", h.v.HasTOTPSecret("alice"), h.v.HasTOTPSecret("bob"))
	}
	h.noCanary()
}
