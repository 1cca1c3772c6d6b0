package vault_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

func TestKVReader(t *testing.T) {
	h := newHarness(t)
	r := vault.KVReader{Client: h.client(h.v.RootToken()).Logical()}
	tests := []struct {
		name, mount, path, field string
		want                     string
		errType                  string
		errHas                   string
	}{
		{name: "reads the field", mount: "secret", path: "shared/payments-db", field: "username", want: "payments"},
		{name: "no secret", mount: "secret", path: "portal/nobody", field: "token", errType: vault.ErrSecretNotFound, errHas: "no KV v2 secret at secret/data/portal/nobody"},
		{name: "no field", mount: "secret", path: "shared/payments-db", field: "token", errType: vault.ErrSecretNotFound, errHas: `no field "token"`},
		{name: "mount with slash", mount: "secret/data", path: "x", field: "token", errType: vault.ErrInvalidInput, errHas: "single path segment"},
		{name: "path escapes", mount: "secret", path: "../sys/x", field: "token", errType: vault.ErrInvalidInput, errHas: "not a plain path"},
		{name: "empty field", mount: "secret", path: "shared/payments-db", errType: vault.ErrInvalidInput, errHas: "field is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.ReadKVField(context.Background(), tc.mount, tc.path, tc.field)
			if tc.errType == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ReadKVField = %q, %v; expected %q", got, err, tc.want)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != tc.errType || !app.NonRetryable() || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("ReadKVField error = %v; expected a non-retryable %s mentioning %q", err, tc.errType, tc.errHas)
			}
			if testenv.ContainsCanary(err.Error()) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}
