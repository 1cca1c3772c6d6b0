package main

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// decisionKeyFile is the decision key of `firebreak dev`, in its state dir.
const decisionKeyFile = service.DecisionKeyFile

// loadDecisionSigner is the decision key's signer, nil without one (service.DecisionSigner).
func loadDecisionSigner(st *settings, stateDir string, create bool) (*workflows.Signer, error) {
	return service.DecisionSigner(st.conf(), stateDir, create)
}

// loadKeyFile is the Ed25519 key in the setting env, else in the file at path (service.LoadKeyFile).
func loadKeyFile(st *settings, path, env string, create bool) (ed25519.PrivateKey, error) {
	return service.LoadKeyFile(st.conf(), path, env, create)
}

// workerDecisionKeys are the decision public keys a production worker trusts (service.DecisionKeys).
func workerDecisionKeys(st *settings, logger *slog.Logger, extra ...ed25519.PublicKey) ([]ed25519.PublicKey, error) {
	return service.DecisionKeys(st.conf(), logger, extra...)
}

// workerApprovers are the people a production worker lets decide with their own keys (service.Approvers).
func workerApprovers(st *settings) (workflows.Option, error) { return service.Approvers(st.conf()) }

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
			signer, err := service.DeciderSigner(st.conf(), stateDir)
			if err != nil {
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
