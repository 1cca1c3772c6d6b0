package chatops

import (
	"context"
	"errors"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// SocketAcker acknowledges Socket Mode requests; *socketmode.Client satisfies it.
type SocketAcker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// ServeSocketMode serves slash commands and interactions that arrive over a Slack Socket Mode
// connection, for teams without a public URL (the app-level token, SLACK_APP_TOKEN, opens
// it). Slack authenticates the connection itself, so there is no request signature to check;
// everything after that is what the HTTP endpoints do, acknowledgement first. It returns when
// ctx ends (nil) or the connection gives up (its error).
func (s *Server) ServeSocketMode(ctx context.Context, sm *socketmode.Client) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sm.RunContext(ctx) }()
	err := s.ServeSocketEvents(ctx, sm.Events, sm, runErr)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ServeSocketEvents answers Socket Mode events from events, acknowledging each request
// through ack, until ctx ends, events closes, or an error arrives on stop. Each request is
// handled on its own goroutine (tracked by Wait and Close), so one slow lookup never delays
// the acknowledgement of the next.
func (s *Server) ServeSocketEvents(ctx context.Context, events <-chan socketmode.Event, ack SocketAcker, stop <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-stop:
			return err
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			s.bg.Add(1)
			go func() {
				defer s.bg.Done()
				s.socketEvent(ctx, ev, ack)
			}()
		}
	}
}

func (s *Server) socketEvent(ctx context.Context, ev socketmode.Event, ack SocketAcker) {
	const epCommands, epInteractions = "socket_commands", "socket_interactions"
	switch ev.Type {
	case socketmode.EventTypeConnecting:
		s.log.Info("chatops: Socket Mode connecting to Slack")
		return
	case socketmode.EventTypeConnected:
		s.log.Info("chatops: Socket Mode connected to Slack")
		return
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		// The event's data may hold the request; log only the type.
		s.log.Warn("chatops: Socket Mode trouble", "event", string(ev.Type))
		return
	}
	if ev.Request == nil || ev.Request.EnvelopeID == "" {
		// hello and disconnect messages carry no envelope: there is nothing to acknowledge.
		return
	}
	if ev.Request.RetryAttempt > 0 {
		// Every start is idempotent by workflow id: a retry can at most join the first run.
		s.log.Info("chatops: Slack retry over Socket Mode", "type", string(ev.Type), "retry", ev.Request.RetryAttempt, "reason", ev.Request.RetryReason)
	}
	var err error
	switch ev.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := ev.Data.(slack.SlashCommand)
		if !ok || cmd.Command == "" || cmd.UserID == "" {
			s.metrics.request(epCommands, "bad_request")
			s.log.Warn("chatops: Socket Mode slash command without command or user_id; acknowledged, nothing done")
			err = ack.Ack(*ev.Request)
			break
		}
		m, outcome := s.dispatchCommand(ctx, cmd)
		s.metrics.request(epCommands, outcome)
		if m.Text == "" && len(m.Blocks.BlockSet) == 0 {
			err = ack.Ack(*ev.Request)
		} else {
			err = ack.Ack(*ev.Request, redactedMsg(m))
		}
	case socketmode.EventTypeInteractive:
		ic, ok := ev.Data.(slack.InteractionCallback)
		if !ok {
			s.metrics.request(epInteractions, "bad_request")
			err = ack.Ack(*ev.Request)
			break
		}
		s.metrics.request(epInteractions, s.dispatchInteraction(ctx, ic))
		err = ack.Ack(*ev.Request)
	default:
		// Events API and anything newer: firebreak subscribes to none; acknowledge so Slack
		// does not retry.
		err = ack.Ack(*ev.Request)
	}
	if err != nil {
		s.log.Warn("chatops: acknowledging a Socket Mode request failed", "type", string(ev.Type), "error", err)
	}
}
