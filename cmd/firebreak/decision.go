package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// decisionKeyFile is the decision key of `firebreak dev`, in its state dir.
const decisionKeyFile = "decision.key"

// loadDecisionSigner returns the decision key's signer: FIREBREAK_DECISION_KEY (decision.key
// in firebreak.yaml), else the state dir's decision.key — created there, mode 0600, when
// create is set (firebreak dev). It returns nil, nil when there is none.
func loadDecisionSigner(st *settings, stateDir string, create bool) (*workflows.Signer, error) {
	k, err := loadKeyFile(st, filepath.Join(stateDir, decisionKeyFile), "FIREBREAK_DECISION_KEY", create)
	if err != nil || k == nil {
		return nil, err
	}
	return workflows.NewSigner(k), nil
}

// loadKeyFile returns the Ed25519 key in the setting env (base64 of its seed), else in the
// file at path — created there, mode 0600 in a 0700 directory, when create is set. It
// returns nil, nil when there is none.
func loadKeyFile(st *settings, path, env string, create bool) (ed25519.PrivateKey, error) {
	if v := st.get(env); v != "" {
		k, err := workflows.ParseDecisionKey(v)
		if err != nil {
			return nil, usagef("%s: %v", env, err)
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
		if err := privateDir(filepath.Dir(path)); err != nil {
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

// workerDecisionKeys are the decision public keys a production worker trusts:
// FIREBREAK_DECISION_PUBLIC_KEYS (decision.public_keys), plus extra (firebreak dev's own).
func workerDecisionKeys(st *settings, logger *slog.Logger, extra ...ed25519.PublicKey) ([]ed25519.PublicKey, error) {
	keys, err := workflows.ParseDecisionPublicKeys(st.get("FIREBREAK_DECISION_PUBLIC_KEYS"))
	if err != nil {
		return nil, usagef("FIREBREAK_DECISION_PUBLIC_KEYS: %v", err)
	}
	keys = append(keys, extra...)
	if len(keys) == 0 && logger != nil {
		logger.Warn("no decision public key configured (decision.public_keys, FIREBREAK_DECISION_PUBLIC_KEYS): this worker counts no approval, denial or manual-step answer")
	}
	return keys, nil
}

// workerApprovers are the people a production worker lets decide with their own keys, each
// only as themselves: FIREBREAK_DECISION_APPROVERS (decision.approvers).
func workerApprovers(st *settings) (workflows.Option, error) {
	list, err := workflows.ParseApprovers(st.get("FIREBREAK_DECISION_APPROVERS"))
	if err != nil {
		return nil, usagef("FIREBREAK_DECISION_APPROVERS: %v", err)
	}
	return workflows.WithApprovers(list...), nil
}

func newDecideCmd(decision string) *cobra.Command {
	var as, config, stateDir, reason string
	var publicKey bool
	verb := map[string]string{workflows.DecisionApprove: "Approve", workflows.DecisionDeny: "Deny"}[decision]
	cmd := &cobra.Command{
		Use:   decision + " RUN STEP",
		Short: verb + " a pending approval, manual step or escalation, signed with the decision key",
		Long: verb + ` step STEP of the open run RUN (its workflow id) on TEMPORAL_ADDRESS, as --as (default
FIREBREAK_REQUESTER, else the login name), with the roles the directory of --config gives them.
The decision is signed with your own approver key (FIREBREAK_APPROVER_KEY), which workers
count only as you, with the roles their decision.approvers give you; without one, with the
decision key (FIREBREAK_DECISION_KEY, or decision.key in the state dir that firebreak dev
creates). Workers count nothing unsigned. Exit 0: the run counted the decision; 1: the run refused it; 2: bad usage, no
decision key, or the person is not in the directory.`,
		Example: "  firebreak " + decision + " firebreak/compromised-dev-key/alice/… two_person_rotate_shared_secrets --reason \"checked the consumers\" --as carol --config firebreak.yaml",
		Args: func(cmd *cobra.Command, args []string) error {
			if publicKey {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, st := contextOf(cmd), settingsOf(cmd)
			if publicKey {
				// What an operator lists in the workers' decision.approvers for you.
				k, err := workflows.ParseDecisionKey(st.get("FIREBREAK_APPROVER_KEY"))
				if err != nil {
					return usagef("--public-key prints the public half of your approver key: set FIREBREAK_APPROVER_KEY to the base64 of a 32-byte random seed (head -c 32 /dev/urandom | base64): %v", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), workflows.FormatDecisionPublicKey(k.Public().(ed25519.PublicKey)))
				return nil
			}
			if st.get("TEMPORAL_ADDRESS") == "" {
				return usagef("firebreak %s decides a run on a Temporal server: set TEMPORAL_ADDRESS (the one firebreak dev or your cluster listens on)", decision)
			}
			// Your own approver key first: the workers count what it signs only as you
			// (decision.approvers), so holding it cannot make you two people.
			var signer *workflows.Signer
			var err error
			if v := st.get("FIREBREAK_APPROVER_KEY"); v != "" {
				k, err := workflows.ParseDecisionKey(v)
				if err != nil {
					return usagef("FIREBREAK_APPROVER_KEY: %v", err)
				}
				signer = workflows.NewSigner(k)
			} else if signer, err = loadDecisionSigner(st, stateDir, false); err != nil {
				return err
			}
			if signer == nil {
				return usagef("you hold no approver or decision key, so you cannot decide: set FIREBREAK_APPROVER_KEY (your own key, listed in the workers' decision.approvers), or run against a firebreak dev whose %s is in --state-dir %s", decisionKeyFile, stateDir)
			}
			cfg, err := loadChatopsConfig(st, config)
			if err != nil {
				return err
			}
			if config == "" && st.get("FIREBREAK_DECISION_KEY") == "" && st.get("FIREBREAK_APPROVER_KEY") == "" {
				// firebreak dev's own key: its directory is the sandbox organisation's.
				sandboxDirectory(&cfg, testenv.DefaultOrg())
			}
			conn, logger, err := dialLogged(cmd, "warn")
			if err != nil {
				return err
			}
			defer conn.Close()
			srv := chatops.NewHandler(chatops.Options{Starter: conn.Client, Config: cfg, Signer: signer, Logger: logger})
			defer srv.Close()
			who, err := srv.Resolve(ctx, as)
			if err != nil {
				return usageError{fmt.Errorf("--as %s: %w", as, err)}
			}
			conn.Runs.Signer = signer
			res, err := conn.Runs.Decide(ctx, args[0], workflows.ApprovalRequest{
				Step: args[1], Decision: decision, Reason: reason,
				Approver: who.Subject, ApproverRoles: who.Roles, ApproverEmail: who.Email,
			})
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s of %s %s refused: %v\n", decision, args[0], args[1], err)
				return errCheckFailed
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (signed by %s as %s with roles [%s], key %s)\n", res.Message, "the decision key", who.Subject, strings.Join(who.Roles, ", "), signer.KeyID())
			return nil
		},
	}
	def := os.Getenv("FIREBREAK_REQUESTER")
	if def == "" {
		def = currentUser()
	}
	cmd.Flags().StringVar(&as, "as", def, "who decides, by directory subject name, email or Slack mention (FIREBREAK_REQUESTER; default: the login name)")
	cmd.Flags().StringVar(&config, "config", os.Getenv("FIREBREAK_CONFIG"), "firebreak.yaml whose directory and roles say who --as is and what they may decide (FIREBREAK_CONFIG)")
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "where firebreak dev keeps its decision.key")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	cmd.Flags().BoolVar(&publicKey, "public-key", false, "print the public half of your approver key (FIREBREAK_APPROVER_KEY), for the workers' decision.approvers, and exit")
	return cmd
}
