package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Export, verify and list the auditable record of runs"}
	cmd.AddCommand(newAuditExportCmd(), newAuditVerifyCmd(), newAuditListCmd(), newAuditReviewCmd(), newAuditMetricsCmd(), newAuditKeyCmd())
	for _, c := range cmd.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return cmd
}

func newAuditExportCmd() *cobra.Command {
	var format, out, keyFile, runID string
	cmd := &cobra.Command{
		Use:   "export WORKFLOW_ID [--run-id RUN_ID] [--format json|markdown|html] [-o FILE]",
		Short: "Build a run's signed, hash-chained timeline from its Temporal history",
		Long: `Reads the run's history (decrypting payloads with the connection's codec) and writes its
timeline: trigger and requester, playbook name, version and content hash, inputs (secret-looking
ones redacted), each activity with its arguments and results, approvals, durations, outcome.
The JSON export is a SHA-256 hash chain sealed by an Ed25519-signed checkpoint; verify it
offline with 'firebreak audit verify'. Markdown and HTML are reading copies of the same record.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "json", "markdown", "html":
			default:
				return usagef("--format: expected json, markdown or html, found %q", format)
			}
			key, err := loadSigningKey(settingsOf(cmd), keyFile)
			if err != nil {
				return err
			}
			ctx, conn, err := toolConn(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			ex, err := exportRun(ctx, settingsOf(cmd), conn, args[0], runID, key)
			if err != nil {
				return err
			}
			b, err := audit.Render(ex, format)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return writePrivate(out, b) // a decrypted run history: for the auditor only
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "json (verifiable), markdown or html")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&keyFile, "signing-key", "", "Ed25519 private key (PKCS#8 PEM) that signs the checkpoint (default: audit-signing-key.pem in the state dir, created on first use)")
	cmd.Flags().StringVar(&runID, "run-id", "", "the run of the workflow id (default: the latest)")
	return cmd
}

// toolConn connects a command that reads runs (audit, review, schedules) to Temporal, with
// only warnings logged to stderr.
func toolConn(cmd *cobra.Command) (context.Context, *temporalConn, error) {
	ctx := contextOf(cmd)
	conn, err := dialTemporal(ctx, settingsOf(cmd), slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	return ctx, conn, err
}

// throwawayHint explains an empty listing on the embedded server a command starts when
// TEMPORAL_ADDRESS is unset: that server is new, in memory and empty, so the empty result
// says nothing about the runs that happened elsewhere.
func throwawayHint(w io.Writer, embedded bool, found int) {
	if !embedded || found > 0 {
		return
	}
	fmt.Fprintln(w, "firebreak: nothing to show: TEMPORAL_ADDRESS is unset, so this command started its own empty, in-memory Temporal server. Point it at the server that ran the runs: the export line `firebreak dev` prints, or your cluster's address.")
}

// exportRun reads a run's decrypted history and builds its sealed export.
func exportRun(ctx context.Context, st *settings, conn *temporalConn, workflowID, runID string, key ed25519.PrivateKey) (*audit.Export, error) {
	ex, err := audit.Read(ctx, conn.Runs, conn.Address, workflowID, runID, audit.Options{People: st.conf().People()})
	if err != nil {
		return nil, err
	}
	ex.Seal(key, time.Now())
	return ex, nil
}

// loadSigningKey reads an Ed25519 PKCS#8 PEM key from path; with no path it uses the state
// dir's audit-signing-key.pem, generating and saving it (0600) on first use.
func loadSigningKey(st *settings, path string) (ed25519.PrivateKey, error) {
	generate := path == ""
	if generate {
		path = filepath.Join(st.stateDir(), "audit-signing-key.pem")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && generate {
		key, pem, err := audit.NewSigningKey()
		if err != nil {
			return nil, err
		}
		if err := privateDir(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("audit signing key: %w", err)
		}
		if err := os.WriteFile(path, pem, 0o600); err != nil {
			return nil, fmt.Errorf("audit signing key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	key, err := audit.ParseSigningKey(b)
	if err != nil {
		return nil, usagef("audit signing key %s: %v", path, err)
	}
	return key, nil
}

func newAuditVerifyCmd() *cobra.Command {
	var keyID, evidenceFile, evidenceKey string
	cmd := &cobra.Command{
		Use:   "verify FILE [--key-id ID] [--evidence EVIDENCE.jsonl]",
		Short: "Check a JSON audit export offline; on any change, name the first entry that does not verify",
		Long: `Checks that FILE is an untouched firebreak audit export: every entry's SHA-256 hash chains to
the one before, the checkpoint seals the chain's head and is signed by the embedded Ed25519 key,
and the bytes are the export's canonical encoding. The key must be one you trust: give its id
with --key-id (or FIREBREAK_AUDIT_KEY_ID), learned from the operators out of band —
` + "`firebreak audit key`" + ` prints it where the exports are signed — never from the export
itself, which anyone could re-sign with a key of their own. Without a trusted key the export
is reported intact but unauthenticated, and verify fails. --evidence also checks the run's evidence file (evidence.jsonl
in the evidence directory): its own hash chain, and that every evidence snapshot the export
records names a record of this run with the same sha256 and chain_sha256. Exit 0 when it
verifies, 1 when it does not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			if keyID == "" {
				keyID = settingsOf(cmd).get("FIREBREAK_AUDIT_KEY_ID")
			}
			ex, err := audit.Verify(b, keyID)
			var ve *audit.VerifyError
			switch {
			case err == nil && keyID == "":
				fmt.Fprintf(cmd.OutOrStdout(), "FAIL %s: intact, but UNAUTHENTICATED: signed by key %s, and no key is trusted (give --key-id with your organisation's audit key id; `firebreak audit key` prints it where exports are signed)\n", args[0], ex.Checkpoint.KeyID)
				return errCheckFailed
			case errors.As(err, &ve):
				fmt.Fprintf(cmd.OutOrStdout(), "FAIL %s: %s\n", args[0], ve.Error())
				return errCheckFailed
			case err != nil:
				fmt.Fprintf(cmd.OutOrStdout(), "FAIL %s: %v\n", args[0], err)
				return errCheckFailed
			}
			fmt.Fprintf(cmd.OutOrStdout(), "OK %s: %d entries, head %s, signed %s by Ed25519 key %s\n", args[0], len(ex.Entries), ex.Checkpoint.Head, ex.Checkpoint.SignedAt.Format(time.RFC3339), ex.Checkpoint.KeyID)
			if evidenceFile == "" {
				return nil
			}
			var evKey ed25519.PublicKey
			if evidenceKey == "" {
				evidenceKey = settingsOf(cmd).get("FIREBREAK_EVIDENCE_PUBLIC_KEY")
			}
			if evidenceKey != "" {
				keys, err := workflows.ParseDecisionPublicKeys(evidenceKey)
				if err != nil || len(keys) != 1 {
					return usagef("--evidence-key: expected the base64 of the workers' 32-byte Ed25519 evidence public key")
				}
				evKey = keys[0]
			}
			if !audit.CheckEvidenceFile(cmd.OutOrStdout(), args[0], ex, evidenceFile, evKey) {
				return errCheckFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyID, "key-id", "", "the id (fingerprint) of the audit key you trust; required (FIREBREAK_AUDIT_KEY_ID)")
	cmd.Flags().StringVar(&evidenceFile, "evidence", "", "also check the run's evidence file (evidence.jsonl) against the export and the signed head beside it")
	cmd.Flags().StringVar(&evidenceKey, "evidence-key", "", "base64 Ed25519 public key of the workers' evidence key (evidence.head_key); heads must be signed by it (FIREBREAK_EVIDENCE_PUBLIC_KEY)")
	return cmd
}

// listRuns lists the interpreter runs started within since (zero: all) whose workflow id
// starts with prefix, newest first (audit.ListRuns), and says whether they came from this
// command's own embedded server.
func listRuns(cmd *cobra.Command, since time.Duration, prefix, playbook string, withResults bool) ([]runs.Summary, bool, error) {
	ctx, conn, err := toolConn(cmd)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	var from time.Time
	if since > 0 {
		from = time.Now().Add(-since)
	}
	list, err := audit.ListRuns(ctx, conn.Runs, runs.Filter{Since: from, Prefix: prefix}, playbook, withResults)
	return list, conn.Embedded, err
}

func newAuditListCmd() *cobra.Command {
	var since time.Duration
	var playbook string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--since 24h] [--playbook NAME] [--json]",
		Short: "List runs for an auditor's sampling",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, embedded, err := listRuns(cmd, since, "", playbook, false)
			if err != nil {
				return err
			}
			throwawayHint(cmd.ErrOrStderr(), embedded, len(list))
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"runs": list})
			}
			return audit.WriteRuns(cmd.OutOrStdout(), list)
		},
	}
	cmd.Flags().DurationVar(&since, "since", 0, "only runs started within this long (e.g. 720h); default all")
	cmd.Flags().StringVar(&playbook, "playbook", "", "only runs of this playbook")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAuditKeyCmd() *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Print the id and public key of the audit signing key, for auditors to pin",
		Long: `Prints the id (fingerprint) and Ed25519 public key of the key that signs audit exports here
(--signing-key, or audit-signing-key.pem in the state dir, created on first use). Publish the
id to auditors through a channel of your own; they pass it to firebreak audit verify --key-id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := loadSigningKey(settingsOf(cmd), keyFile)
			if err != nil {
				return err
			}
			pub := key.Public().(ed25519.PublicKey)
			fmt.Fprintf(cmd.OutOrStdout(), "key id      %s\npublic key  %s\n", audit.KeyFingerprint(pub), base64.StdEncoding.EncodeToString(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "signing-key", "", "Ed25519 private key (PKCS#8 PEM); default: audit-signing-key.pem in the state dir")
	return cmd
}
