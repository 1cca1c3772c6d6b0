package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/chatops"
)

// addSocketModeFlag registers --socket-mode on firebreak serve and firebreak dev.
func addSocketModeFlag(cmd *cobra.Command, on *bool) {
	cmd.Flags().BoolVar(on, "socket-mode", false, "also receive Slack commands and button presses over Socket Mode (needs SLACK_APP_TOKEN, xapp-…), for teams without a public URL")
}

// startSocketMode, when on, connects to Slack over Socket Mode with the app-level token
// (config slack.app_token or SLACK_APP_TOKEN) and serves handler's commands and interactions
// until ctx ends. The channel receives the connection's final error; it is nil when off, so
// a select on it never fires.
func startSocketMode(ctx context.Context, st *settings, on bool, handler *chatops.Server, cfg chatops.Config, logger *slog.Logger) (<-chan error, error) {
	if !on {
		return nil, nil
	}
	appToken, err := socketAppToken(st, cfg)
	if err != nil {
		return nil, err
	}
	opts := []slackapi.Option{slackapi.OptionAppLevelToken(appToken)}
	if u := st.get("SLACK_API_URL"); u != "" {
		opts = append(opts, slackapi.OptionAPIURL(u))
	}
	sm := socketmode.New(slackapi.New(cfg.Slack.BotToken, opts...))
	errc := make(chan error, 1)
	go func() {
		err := handler.ServeSocketMode(ctx, sm)
		if err != nil {
			err = fmt.Errorf("slack socket mode: %w", err)
		}
		errc <- err
	}()
	logger.Info("serving Slack over Socket Mode")
	return errc, nil
}

// socketAppToken is the app-level token Socket Mode connects with: config slack.app_token, else
// SLACK_APP_TOKEN; anything but an xapp- token is a usage error.
func socketAppToken(st *settings, cfg chatops.Config) (string, error) {
	appToken := cfg.Slack.AppToken
	if appToken == "" {
		appToken = st.get("SLACK_APP_TOKEN")
	}
	if !strings.HasPrefix(appToken, "xapp-") {
		return "", usagef("--socket-mode needs an app-level token starting with xapp- in SLACK_APP_TOKEN (or slack.app_token in --config); found %s", describeToken(appToken))
	}
	return appToken, nil
}

// describeToken says what kind of token was found without showing it.
func describeToken(tok string) string {
	switch {
	case tok == "":
		return "none"
	case strings.HasPrefix(tok, "xoxb-"):
		return "a bot token (xoxb-)"
	}
	return "a token of another kind"
}
