package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/observability"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/workflows"
)

type serveFlags struct {
	listen      string
	config      string
	playbookDir string
	logLevel    string
	socketMode  bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Slack and PagerDuty endpoints against TEMPORAL_ADDRESS",
		Long: `firebreak serve is the production front end: POST /slack/commands, POST /slack/interactions,
POST /pagerduty/webhook, GET /healthz, GET /readyz and GET /metrics on --listen. It verifies
every request, answers Slack at once and starts, approves and queries runs on the Temporal
cluster named by TEMPORAL_ADDRESS. Secrets come from SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and
PAGERDUTY_WEBHOOK_SECRET, which override the references of the config file (--config,
firebreak.yaml: docs/configuration.md). Run as many as you like behind a load balancer; they keep no state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(contextOf(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	listen := os.Getenv("FIREBREAK_LISTEN")
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&f.listen, "listen", listen, "HTTP listen address (FIREBREAK_LISTEN)")
	cmd.Flags().StringVar(&f.config, "config", os.Getenv("FIREBREAK_CONFIG"), "configuration file, firebreak.yaml (FIREBREAK_CONFIG): Temporal, integrations, directory, roles, pagerduty rules; environment variables override it")
	cmd.Flags().StringVar(&f.playbookDir, "playbooks", "", playbooksFlagUsage)
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	addSocketModeFlag(cmd, &f.socketMode)
	return cmd
}

// loadChatopsConfig reads the chatops config file (when path is set) and fills secrets the file
// leaves empty from the environment.
func loadChatopsConfig(st *settings, path string) (chatops.Config, error) {
	var cfg chatops.Config
	if path != "" {
		var err error // firebreak.yaml (config.go): strict, validated, secret references resolved
		if cfg, err = chatopsConfigFile(st, path); err != nil {
			return cfg, err
		}
	}
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	fill(&cfg.Slack.SigningSecret, "SLACK_SIGNING_SECRET")
	fill(&cfg.Slack.BotToken, "SLACK_BOT_TOKEN")
	fill(&cfg.PagerDuty.WebhookSecret, "PAGERDUTY_WEBHOOK_SECRET")
	return cfg, nil
}

// runServe serves with the settings ctx carries (the command's; the environment's in tests).
func runServe(ctx context.Context, stdout, stderr io.Writer, f serveFlags) error {
	st := settingsFrom(ctx)
	if st.get("TEMPORAL_ADDRESS") == "" {
		return usagef("firebreak serve fronts an existing Temporal cluster: set TEMPORAL_ADDRESS (for a laptop, run `firebreak dev`)")
	}
	logger, err := st.logger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := loadChatopsConfig(st, f.config)
	if err != nil {
		return err
	}
	if cfg.Slack.SigningSecret == "" {
		logger.Warn("no Slack signing secret (SLACK_SIGNING_SECRET): every Slack request will be refused")
	}
	if cfg.PagerDuty.WebhookSecret == "" {
		logger.Warn("no PagerDuty webhook secret (PAGERDUTY_WEBHOOK_SECRET): every webhook will be refused")
	}
	var signer *workflows.Signer
	if st.get("FIREBREAK_DECISION_KEY") != "" {
		if signer, err = loadDecisionSigner(st, "", false); err != nil {
			return err
		}
	} else {
		logger.Warn("no decision key (decision.key, FIREBREAK_DECISION_KEY): approvals, denials and manual-step answers will be refused")
	}
	lib, err := playbooks.LoadLibrary(f.playbookDir)
	if err != nil {
		return err
	}
	if _, err := chatops.SlashRoutes(lib); err != nil {
		return usageError{err} // before connecting to anything: a startup error
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usagef("cannot listen on %s (--listen): %v", f.listen, err)
	}
	defer ln.Close()
	obs, err := startObserver(ctx, logger, "") // its metrics join chatops's on /metrics
	if err != nil {
		return err
	}
	defer obs.Close()
	conn, err := dialTemporal(observability.NewContext(ctx, obs), st, logger)
	if err != nil {
		return err
	}
	defer conn.Close()

	front, err := service.StartFront(ctx, service.FrontOptions{
		Settings: st.conf(), Logger: logger, Listener: ln, Metrics: obs.WithMetrics, SocketMode: f.socketMode,
		ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second,
		Chatops: chatops.Options{Temporal: conn.Client, Config: cfg, Library: lib, Signer: signer,
			Info: map[string]string{"temporal": conn.Address, "task_queue": workflows.TaskQueue, "mode": "serve"}},
	})
	if err != nil {
		return err
	}
	defer front.Close()
	fmt.Fprintf(stdout, "firebreak serve listening on http://%s (Temporal %s)\n", ln.Addr(), conn.Address)
	err = front.Wait(ctx)
	front.Shutdown()
	return err
}

// newSlackCmd is the `firebreak slack` group; registered beside serve.
func newSlackCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "slack", Short: "Slack app helpers"}
	var base, playbookDir string
	manifest := &cobra.Command{
		Use:   "manifest",
		Short: "Print a Slack app manifest (every slash command, interactivity URL, scopes) for firebreak at --url",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := playbooks.LoadLibrary(playbookDir)
			if err != nil {
				return err
			}
			routes, err := chatops.SlashRoutes(lib)
			if err != nil {
				return err
			}
			b, err := chatops.Manifest(base, routes)
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
	manifest.Flags().StringVar(&base, "url", "https://firebreak.example.com", "public base URL where firebreak serve is reachable")
	manifest.Flags().StringVar(&playbookDir, "playbooks", "", "directory of extra playbooks whose slash commands are listed too (as firebreak serve --playbooks)")
	cmd.AddCommand(manifest)
	return cmd
}

// addSocketModeFlag registers --socket-mode on firebreak serve and firebreak dev.
func addSocketModeFlag(cmd *cobra.Command, on *bool) {
	cmd.Flags().BoolVar(on, "socket-mode", false, "also receive Slack commands and button presses over Socket Mode (needs SLACK_APP_TOKEN, xapp-…), for teams without a public URL")
}
