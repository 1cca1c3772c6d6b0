package service_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/testenv"
)

// TestVaultClientFromEnv logs in with each method the worker supports, against the sandbox,
// and checks that a login token is renewed by the LifetimeWatcher before it expires.
func TestVaultClientFromEnv(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	sb.Vault.EnableAppRole(testenv.VaultAppRoleID, testenv.VaultAppRoleSecretID, 2*time.Second)
	sb.Vault.EnableKubernetes(testenv.VaultK8sRole, testenv.VaultK8sJWT, time.Hour)
	jwt := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwt, []byte(testenv.VaultK8sJWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, wantErr string
		env                   map[string]string
	}{
		{name: "token", method: service.VaultAuthToken, env: map[string]string{"VAULT_TOKEN": sb.Vault.RootToken()}},
		{name: "approle", method: service.VaultAuthAppRole, env: map[string]string{"VAULT_ROLE_ID": testenv.VaultAppRoleID, "VAULT_SECRET_ID": testenv.VaultAppRoleSecretID}},
		{name: "approle half configured", wantErr: "needs both", env: map[string]string{"VAULT_ROLE_ID": testenv.VaultAppRoleID}},
		{name: "approle wrong secret", wantErr: "invalid role or secret ID", env: map[string]string{"VAULT_ROLE_ID": testenv.VaultAppRoleID, "VAULT_SECRET_ID": "wrong"}},
		{name: "kubernetes", method: service.VaultAuthKubernetes, env: map[string]string{"VAULT_K8S_ROLE": testenv.VaultK8sRole, "VAULT_K8S_TOKEN_PATH": jwt}},
		{name: "kubernetes wrong role", wantErr: "permission denied", env: map[string]string{"VAULT_K8S_ROLE": "other", "VAULT_K8S_TOKEN_PATH": jwt}},
		{name: "kubernetes no token file", wantErr: "service-account token", env: map[string]string{"VAULT_K8S_ROLE": testenv.VaultK8sRole, "VAULT_K8S_TOKEN_PATH": jwt + ".missing"}},
		{name: "nothing", method: service.VaultAuthNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_K8S_ROLE", "VAULT_K8S_TOKEN_PATH"} {
				t.Setenv(k, "")
			}
			t.Setenv("VAULT_ADDR", sb.Vault.URL())
			t.Setenv("HOME", t.TempDir()) // no ~/.vault-token
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, method, err := service.VaultClient(ctx, &config.Settings{Env: os.LookupEnv}, slog.New(slog.DiscardHandler))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; expected %q", err, tc.wantErr)
				}
				if testenv.ContainsCanary(err.Error()) {
					t.Error("the error holds a secret")
				}
				return
			}
			if err != nil || method != tc.method {
				t.Fatalf("method %s, error %v; expected %s", method, err, tc.method)
			}
			if method == service.VaultAuthNone {
				return
			}
			if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
				t.Fatalf("the client's token does not work: %v", err)
			}
		})
	}

	// A 2s AppRole token is renewed by the LifetimeWatcher before it expires.
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("VAULT_ADDR", sb.Vault.URL())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("VAULT_ROLE_ID", testenv.VaultAppRoleID)
	t.Setenv("VAULT_SECRET_ID", testenv.VaultAppRoleSecretID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _, err := service.VaultClient(ctx, &config.Settings{Env: os.LookupEnv}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for sb.Vault.Renewals() == 0 {
		select {
		case <-deadline:
			t.Fatal("the login token was not renewed within 20s")
		case <-tick.C:
		}
	}
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatalf("after renewal the token does not work: %v", err)
	}
}
