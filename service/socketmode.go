package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/config"
)

// StartSocketMode, when on, connects to Slack over Socket Mode with the app-level token
// (config slack.app_token or SLACK_APP_TOKEN) and serves handler's commands and interactions
// until ctx ends. The channel receives the connection's final error; it is nil when off, so
// a select on it never fires.
func StartSocketMode(ctx context.Context, st *config.Settings, on bool, handler *chatops.Server, cfg chatops.Config, logger *slog.Logger) (<-chan error, error) {
	if !on {
		return nil, nil
	}
	appToken, err := SocketAppToken(st, cfg)
	if err != nil {
		return nil, err
	}
	sm := socketmode.New(SlackClient(st, cfg.Slack.BotToken, slackapi.OptionAppLevelToken(appToken)))
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

// SocketAppToken is the app-level token Socket Mode connects with: config slack.app_token, else
// SLACK_APP_TOKEN; anything but an xapp- token is a usage error.
func SocketAppToken(st *config.Settings, cfg chatops.Config) (string, error) {
	appToken := cfg.Slack.AppToken
	if appToken == "" {
		appToken = st.Get("SLACK_APP_TOKEN")
	}
	if !strings.HasPrefix(appToken, "xapp-") {
		return "", config.Usagef("--socket-mode needs an app-level token starting with xapp- in SLACK_APP_TOKEN (or slack.app_token in --config); found %s", describeToken(appToken))
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
