package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/observability"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

type devFlags struct {
	config       string
	stateDir     string
	listen       string
	temporalIP   string
	temporalPort int
	logLevel     string
	socketMode   bool
}

// attachEnv is the shell line that points another firebreak at this dev server: its address
// and its state directory, whose codec.key the attached command needs to read the runs.
func attachEnv(addr, stateDir string) string {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	return fmt.Sprintf("export TEMPORAL_ADDRESS=%s FIREBREAK_STATE_DIR=%s", addr, shellQuote(stateDir))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// defaultStateDir is the state directory the environment names, for flag defaults: flags are
// made before the configuration file is read.
func defaultStateDir() string { return envSettings().stateDir() }

func newDevCmd() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run an embedded Temporal server (SQLite), the drill worker, the HTTP endpoints and the sandbox in one process",
		Long: `firebreak dev is a whole firebreak on a laptop: an embedded Temporal server persisted to a
SQLite file in --state-dir (runs survive a restart and resume), the worker on the drill task
queue bound to the loopback sandbox, and the HTTP endpoints. Other commands attach to it with
TEMPORAL_ADDRESS, and so does the temporal CLI. Ctrl-C stops it cleanly.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", os.Getenv("FIREBREAK_CONFIG"), "configuration file, firebreak.yaml (FIREBREAK_CONFIG): its directory, roles and rules (default: the sandbox organisation's); dev never reads its vault: references")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", defaultStateDir(), "where the Temporal database and the evidence chain are kept")
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:8080", "HTTP listen address (GET /healthz)")
	cmd.Flags().StringVar(&f.temporalIP, "temporal-ip", "127.0.0.1", "IP the embedded Temporal frontend listens on")
	cmd.Flags().IntVar(&f.temporalPort, "temporal-port", 7233, "port of the embedded Temporal frontend")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	addSocketModeFlag(cmd, &f.socketMode)
	return cmd
}

// runDev runs with the settings ctx carries (the command's; the environment's in tests).
func runDev(ctx context.Context, stdout, stderr io.Writer, f devFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	st := settingsFrom(ctx)
	logger, err := st.logger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.socketMode {
		// A missing app token is a usage error before anything starts.
		cfg, err := loadChatopsConfig(st, f.config)
		if err != nil {
			return err
		}
		if _, err := service.SocketAppToken(st.conf(), cfg); err != nil {
			return err
		}
	}

	if err := privateDir(f.stateDir); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usagef("cannot listen on %s (--listen): %v", f.listen, err)
	}
	defer ln.Close()
	srv, err := service.StartServer(ctx, serviceOptions(ctx, st, logger), f.stateDir, f.temporalIP, f.temporalPort)
	if err != nil {
		return err
	}
	defer srv.Stop()
	obs, err := startObserver(ctx, logger, "") // its metrics join chatops's on /metrics
	if err != nil {
		return err
	}
	defer obs.Close()
	conn, err := service.DialServer(ctx, serviceOptions(observability.NewContext(ctx, obs), st, logger), srv, f.stateDir)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := conn.Client

	// The evidence head is signed with dev's evidence key (FIREBREAK_EVIDENCE_KEY, else
	// evidence-head.key in the state dir, mode 0600).
	headKey, err := loadKeyFile(st, filepath.Join(f.stateDir, "evidence-head.key"), "FIREBREAK_EVIDENCE_KEY", true)
	if err != nil {
		return err
	}
	store, err := evidence.OpenSignedFileStore(filepath.Join(f.stateDir, "evidence"), headKey)
	if err != nil {
		return err
	}
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	// In dev both queues are served by workers bound to the sandbox: drills on the drill queue,
	// and runs started from Slack, PagerDuty or `firebreak run` on the production queue.
	// The front end below signs decisions with dev's own decision key; the production-queue
	// worker trusts it (and any configured key), the drill-queue worker only the sandbox's.
	signer, err := loadDecisionSigner(st, f.stateDir, true)
	if err != nil {
		return err
	}
	prodKeys, err := workerDecisionKeys(st, nil, signer.Public())
	if err != nil {
		return err
	}
	// The production-queue worker runs only plans its own library compiles (the bundled
	// playbooks and playbooks.dir), as a production worker does.
	lib, err := playbooks.LoadLibrary(st.get("FIREBREAK_PLAYBOOKS"))
	if err != nil {
		return err
	}
	approvers, err := workerApprovers(st) // people deciding with their own keys, as on a production worker
	if err != nil {
		return err
	}
	queue := func(q string, keys ...ed25519.PublicKey) service.QueueWorker {
		return service.QueueWorker{Queue: q, Options: []workflows.Option{workflows.WithDecisionKeys(keys...), approvers, workflows.WithLibrary(lib)}}
	}
	stopWorkers, err := service.StartWorkers(c, func(w worker.Registry) error { return sb.Register(w, store) },
		queue(workflows.DrillTaskQueue, workflows.NewSigner(workflows.SandboxDecisionKey()).Public()), queue(workflows.TaskQueue, prodKeys...))
	if err != nil {
		return err
	}
	defer stopWorkers()

	cfg, secretFile, err := devChatopsConfig(st, f, sb)
	if err != nil {
		return err
	}
	front, err := service.StartFront(ctx, service.FrontOptions{
		Settings: st.conf(), Logger: logger, Listener: ln, Metrics: obs.WithMetrics, SocketMode: f.socketMode,
		Chatops: chatops.Options{Temporal: c, Config: cfg, Slack: sb.SlackClient(), Signer: signer,
			Info: map[string]string{"temporal": srv.FrontendHostPort(), "namespace": srv.Namespace(), "task_queue": workflows.DrillTaskQueue, "mode": "dev"}},
	})
	if err != nil {
		return usageError{err}
	}
	defer front.Close()
	socketLine := ""
	if f.socketMode {
		socketLine = "  Socket Mode on (SLACK_APP_TOKEN): Slack commands and buttons also arrive over it\n"
	}

	fmt.Fprintf(stdout, `firebreak dev is running
  Temporal    %s (namespace %s), state in %s
  HTTP        http://%s/healthz
  Workers     task queues %s and %s, both bound to the sandbox
  Slack       POST /slack/commands and /slack/interactions, signing secret in %s
%s  Sandbox     vault %s  iam %s  slack %s  pagerduty %s
  Evidence    %s

Attach from another terminal (the state directory holds the payload key runs are encrypted with):
  %s
  firebreak drill run compromised-dev-key
Press Ctrl-C to stop; unfinished runs resume on the next start.
`, srv.FrontendHostPort(), srv.Namespace(), f.stateDir, ln.Addr(), workflows.DrillTaskQueue, workflows.TaskQueue, secretFile, socketLine,
		sb.Vault.URL(), sb.IAM.URL(), sb.Slack.URL(), sb.PagerDuty.URL(), store.Path(), attachEnv(srv.FrontendHostPort(), f.stateDir))

	err = front.Wait(ctx)
	fmt.Fprintln(stdout, "firebreak dev: stopping")
	front.Shutdown()
	return err
}

// sandboxDirectory makes the sandbox organisation cfg's directory (testenv.ChatopsDirectory).
func sandboxDirectory(cfg *chatops.Config, org *testenv.Org) { testenv.ChatopsDirectory(cfg, org) }

// devChatopsConfig is the chatops configuration of `firebreak dev`: the --config file when
// given, else the sandbox organisation (its developers as the directory, all of them
// responders, carol the security on-call who may approve). The Slack signing secret comes from
// SLACK_SIGNING_SECRET or a file in the state dir, created on first use, so a developer can
// sign test requests; its path is returned.
func devChatopsConfig(st *settings, f devFlags, sb *testenv.Sandbox) (chatops.Config, string, error) {
	cfg, err := loadChatopsConfig(st, f.config)
	if err != nil {
		return cfg, "", err
	}
	if f.config == "" {
		sandboxDirectory(&cfg, sb.Org)
	}
	secretFile := "SLACK_SIGNING_SECRET"
	if cfg.Slack.SigningSecret == "" {
		cfg.Slack.SigningSecret, secretFile, err = service.DevSigningSecret(f.stateDir)
	}
	return cfg, secretFile, err
}
