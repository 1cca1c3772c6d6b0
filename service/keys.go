package service

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/workflows"
)

// DecisionKeyFile is the decision key of `firebreak dev`, in its state dir.
const DecisionKeyFile = "decision.key"

// DecisionSigner returns the decision key's signer: FIREBREAK_DECISION_KEY (decision.key
// in firebreak.yaml), else the state dir's decision.key — created there, mode 0600, when
// create is set (firebreak dev). It returns nil, nil when there is none.
func DecisionSigner(st *config.Settings, stateDir string, create bool) (*workflows.Signer, error) {
	k, err := LoadKeyFile(st, filepath.Join(stateDir, DecisionKeyFile), "FIREBREAK_DECISION_KEY", create)
	if err != nil || k == nil {
		return nil, err
	}
	return workflows.NewSigner(k), nil
}

// DeciderSigner is the signer of a person deciding from the command line: their own
// approver key (FIREBREAK_APPROVER_KEY), which workers count only as them, else the
// decision key (DecisionSigner, never created). It returns nil, nil when there is neither.
func DeciderSigner(st *config.Settings, stateDir string) (*workflows.Signer, error) {
	if v := st.Get("FIREBREAK_APPROVER_KEY"); v != "" {
		k, err := workflows.ParseDecisionKey(v)
		if err != nil {
			return nil, config.Usagef("FIREBREAK_APPROVER_KEY: %v", err)
		}
		return workflows.NewSigner(k), nil
	}
	return DecisionSigner(st, stateDir, false)
}

// LoadKeyFile returns the Ed25519 key in the setting env (base64 of its seed), else in the
// file at path — created there, mode 0600 in a 0700 directory, when create is set. It
// returns nil, nil when there is none.
func LoadKeyFile(st *config.Settings, path, env string, create bool) (ed25519.PrivateKey, error) {
	if v := st.Get(env); v != "" {
		k, err := workflows.ParseDecisionKey(v)
		if err != nil {
			return nil, config.Usagef("%s: %v", env, err)
		}
		return k, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !create:
		return nil, nil
	case errors.Is(err, os.ErrNotExist):
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		if err := PrivateDir(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		if err := os.WriteFile(path, []byte(workflows.FormatDecisionKey(k)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		return k, nil
	case err != nil:
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	k, err := workflows.ParseDecisionKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// DecisionKeys are the decision public keys a production worker trusts:
// FIREBREAK_DECISION_PUBLIC_KEYS (decision.public_keys), plus extra (firebreak dev's own).
func DecisionKeys(st *config.Settings, logger *slog.Logger, extra ...ed25519.PublicKey) ([]ed25519.PublicKey, error) {
	keys, err := workflows.ParseDecisionPublicKeys(st.Get("FIREBREAK_DECISION_PUBLIC_KEYS"))
	if err != nil {
		return nil, config.Usagef("FIREBREAK_DECISION_PUBLIC_KEYS: %v", err)
	}
	keys = append(keys, extra...)
	if len(keys) == 0 && logger != nil {
		logger.Warn("no decision public key configured (decision.public_keys, FIREBREAK_DECISION_PUBLIC_KEYS): this worker counts no approval, denial or manual-step answer")
	}
	return keys, nil
}

// Approvers are the people a production worker lets decide with their own keys, each
// only as themselves: FIREBREAK_DECISION_APPROVERS (decision.approvers).
func Approvers(st *config.Settings) (workflows.Option, error) {
	list, err := workflows.ParseApprovers(st.Get("FIREBREAK_DECISION_APPROVERS"))
	if err != nil {
		return nil, config.Usagef("FIREBREAK_DECISION_APPROVERS: %v", err)
	}
	return workflows.WithApprovers(list...), nil
}
