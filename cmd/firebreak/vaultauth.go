package main

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
)

// Vault login methods, in the order vaultClient tries them.
const (
	vaultAuthToken      = "token"
	vaultAuthAppRole    = "approle"
	vaultAuthKubernetes = "kubernetes"
	vaultAuthNone       = "none"
)

// defaultK8sTokenPath is where Kubernetes mounts a pod's service-account token.
const defaultK8sTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// vaultClient builds the Vault client from the SDK's own environment (VAULT_ADDR,
// VAULT_NAMESPACE, VAULT_CACERT…) and authenticates it with the first of:
//
//   - VAULT_TOKEN, as the SDK reads it;
//   - AppRole: VAULT_ROLE_ID and VAULT_SECRET_ID (mount VAULT_APPROLE_MOUNT, default approle);
//   - Kubernetes: VAULT_K8S_ROLE with the pod's service-account token from
//     VAULT_K8S_TOKEN_PATH (default the standard mount; mount VAULT_K8S_MOUNT, default kubernetes).
//
// A token obtained by logging in is kept alive until ctx ends by the SDK's LifetimeWatcher,
// which renews it and logs in again when it can no longer be renewed. It returns the client
// and the method used (vaultAuthNone when nothing is configured).
func vaultClient(ctx context.Context, st *settings, logger *slog.Logger) (*vaultapi.Client, string, error) {
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, "", fmt.Errorf("vault configuration: %w", cfg.Error)
	}
	if err := st.vaultFileConfig(cfg); err != nil { // firebreak.yaml's vault.address and ca_cert
		return nil, "", err
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
	st.vaultFileNamespace(c)
	if c.Token() != "" {
		return c, vaultAuthToken, nil
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
func vaultLoginFrom(st *settings) (vaultLogin, string, error) {
	if roleID, secretID := st.get("VAULT_ROLE_ID"), st.get("VAULT_SECRET_ID"); roleID != "" || secretID != "" {
		if roleID == "" || secretID == "" {
			return nil, vaultAuthAppRole, usagef("vault AppRole login needs both VAULT_ROLE_ID and VAULT_SECRET_ID; only one is set")
		}
		mount := st.getOr("VAULT_APPROLE_MOUNT", "approle")
		return vaultLoginAt(vaultAuthAppRole, "auth/"+mount+"/login", func() (map[string]any, error) {
			return map[string]any{"role_id": roleID, "secret_id": secretID}, nil
		}), vaultAuthAppRole, nil
	}
	if role := st.get("VAULT_K8S_ROLE"); role != "" {
		mount := st.getOr("VAULT_K8S_MOUNT", "kubernetes")
		path := st.getOr("VAULT_K8S_TOKEN_PATH", defaultK8sTokenPath)
		return vaultLoginAt(vaultAuthKubernetes, "auth/"+mount+"/login", func() (map[string]any, error) {
			// Re-read on every login: the kubelet rotates projected service-account tokens.
			jwt, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("vault kubernetes login: reading the service-account token: %w", err)
			}
			return map[string]any{"role": role, "jwt": strings.TrimSpace(string(jwt))}, nil
		}), vaultAuthKubernetes, nil
	}
	return nil, vaultAuthNone, nil
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
