package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/config"
)

// Vault login methods, in the order VaultClient tries them.
const (
	VaultAuthToken      = "token"
	VaultAuthAppRole    = "approle"
	VaultAuthKubernetes = "kubernetes"
	VaultAuthNone       = "none"
)

// defaultK8sTokenPath is where Kubernetes mounts a pod's service-account token.
const defaultK8sTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// VaultClient builds the Vault client from the SDK's own environment (VAULT_ADDR,
// VAULT_NAMESPACE, VAULT_CACERT…) and authenticates it with the first of:
//
//   - VAULT_TOKEN, as the SDK reads it;
//   - AppRole: VAULT_ROLE_ID and VAULT_SECRET_ID (mount VAULT_APPROLE_MOUNT, default approle);
//   - Kubernetes: VAULT_K8S_ROLE with the pod's service-account token from
//     VAULT_K8S_TOKEN_PATH (default the standard mount; mount VAULT_K8S_MOUNT, default kubernetes).
//
// A token obtained by logging in is kept alive until ctx ends by the SDK's LifetimeWatcher,
// which renews it and logs in again when it can no longer be renewed. It returns the client
// and the method used (VaultAuthNone when nothing is configured).
func VaultClient(ctx context.Context, st *config.Settings, logger *slog.Logger) (*vaultapi.Client, string, error) {
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, "", fmt.Errorf("vault configuration: %w", cfg.Error)
	}
	// firebreak.yaml's vault.address and ca_cert, where VAULT_ADDR and VAULT_CACERT do not set them.
	if a := st.FileOnly("VAULT_ADDR"); a != "" {
		cfg.Address = a
	}
	if ca := st.FileOnly("VAULT_CACERT"); ca != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: ca}); err != nil {
			return nil, "", config.Usagef("vault.ca_cert %s: %v", ca, err)
		}
	}
	// Keep a connection per accessor lookup an inventory has in flight; the SDK's pool keeps
	// GOMAXPROCS+1, and a scan of Vault's tokens would otherwise open and close connections.
	if tr, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, fbvault.DefaultLookupConcurrency)
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("vault client: %w", err)
	}
	if ns := st.FileOnly("VAULT_NAMESPACE"); ns != "" { // vault.namespace
		c.SetNamespace(ns)
	}
	if c.Token() != "" {
		return c, VaultAuthToken, nil
	}
	login, method, err := vaultLoginFrom(st)
	if err != nil || login == nil {
		return c, method, err
	}
	secret, err := login(ctx, c)
	if err != nil {
		return nil, method, err
	}
	go keepVaultLogin(ctx, c, login, secret, logger)
	return c, method, nil
}

// vaultLogin logs c in and sets its token, returning the login's auth secret.
type vaultLogin func(ctx context.Context, c *vaultapi.Client) (*vaultapi.Secret, error)

// vaultLoginFrom chooses the login method from the settings; nil when none is set.
func vaultLoginFrom(st *config.Settings) (vaultLogin, string, error) {
	if roleID, secretID := st.Get("VAULT_ROLE_ID"), st.Get("VAULT_SECRET_ID"); roleID != "" || secretID != "" {
		if roleID == "" || secretID == "" {
			return nil, VaultAuthAppRole, config.Usagef("vault AppRole login needs both VAULT_ROLE_ID and VAULT_SECRET_ID; only one is set")
		}
		mount := st.GetOr("VAULT_APPROLE_MOUNT", "approle")
		return vaultLoginAt(VaultAuthAppRole, "auth/"+mount+"/login", func() (map[string]any, error) {
			return map[string]any{"role_id": roleID, "secret_id": secretID}, nil
		}), VaultAuthAppRole, nil
	}
	if role := st.Get("VAULT_K8S_ROLE"); role != "" {
		mount := st.GetOr("VAULT_K8S_MOUNT", "kubernetes")
		path := st.GetOr("VAULT_K8S_TOKEN_PATH", defaultK8sTokenPath)
		return vaultLoginAt(VaultAuthKubernetes, "auth/"+mount+"/login", func() (map[string]any, error) {
			// Re-read on every login: the kubelet rotates projected service-account tokens.
			jwt, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("vault kubernetes login: reading the service-account token: %w", err)
			}
			return map[string]any{"role": role, "jwt": strings.TrimSpace(string(jwt))}, nil
		}), VaultAuthKubernetes, nil
	}
	return nil, VaultAuthNone, nil
}

func vaultLoginAt(method, path string, body func() (map[string]any, error)) vaultLogin {
	return func(ctx context.Context, c *vaultapi.Client) (*vaultapi.Secret, error) {
		data, err := body()
		if err != nil {
			return nil, err
		}
		// Log in without whatever token the client holds (an expired one would be sent).
		lc, err := c.Clone()
		if err != nil {
			return nil, err
		}
		lc.ClearToken()
		s, err := lc.Logical().WriteWithContext(ctx, path, data)
		if err != nil {
			var re *vaultapi.ResponseError
			if errors.As(err, &re) {
				return nil, fmt.Errorf("vault %s login at %s was refused (%d %s)", method, path, re.StatusCode, strings.Join(re.Errors, "; "))
			}
			return nil, fmt.Errorf("vault %s login at %s: %w", method, path, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return nil, fmt.Errorf("vault %s login at %s: expected a token in the response, found none", method, path)
		}
		c.SetToken(s.Auth.ClientToken)
		return s, nil
	}
}

// keepVaultLogin renews the login token with a LifetimeWatcher and logs in again when the
// watcher gives up (the token reached its max TTL or could not be renewed), until ctx ends.
func keepVaultLogin(ctx context.Context, c *vaultapi.Client, login vaultLogin, secret *vaultapi.Secret, logger *slog.Logger) {
	backoff := time.Second
	for {
		if secret.Auth.LeaseDuration <= 0 {
			return // a token without a TTL never needs renewing
		}
		w, err := c.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{Secret: secret})
		if err != nil {
			logger.Error("vault token renewal cannot start", "error", err)
			return
		}
		go w.Start()
	watch:
		for {
			select {
			case <-ctx.Done():
				w.Stop()
				return
			case err := <-w.DoneCh():
				if err != nil {
					logger.Warn("vault token renewal ended; logging in again", "error", err)
				}
				break watch
			case r := <-w.RenewCh():
				logger.Debug("vault token renewed", "at", r.RenewedAt)
			}
		}
		w.Stop()
		for {
			s, err := login(ctx, c)
			if err == nil {
				secret, backoff = s, time.Second
				break
			}
			logger.Error("vault login failed; retrying", "error", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
		}
	}
}

// VaultKV reads KV v2 secrets with c, for the vault: references of firebreak.yaml.
func VaultKV(c *vaultapi.Client) config.VaultKV {
	return func(ctx context.Context, mount, path string) (map[string]any, error) {
		s, err := c.KVv2(mount).Get(ctx, path)
		if errors.Is(err, vaultapi.ErrSecretNotFound) {
			return nil, config.ErrSecretNotFound
		}
		if err != nil {
			return nil, errors.New(fbvault.DescribeError(err))
		}
		return s.Data, nil
	}
}
