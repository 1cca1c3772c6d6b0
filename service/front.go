package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/config"
)

// FrontOptions configures the front end of firebreak serve and firebreak dev.
type FrontOptions struct {
	Settings *config.Settings
	Logger   *slog.Logger
	Chatops  chatops.Options // Logger is set from Logger; Slack, when nil, from the bot token
	// Listener is where the HTTP endpoints are served; cmd opens it before anything starts.
	Listener net.Listener
	// Metrics wraps the handler so the observer's metrics join chatops's on /metrics.
	Metrics func(http.Handler) http.Handler
	// SocketMode also serves Slack over Socket Mode (StartSocketMode).
	SocketMode bool
	// ReadTimeout and WriteTimeout bound each HTTP request; zero is none.
	ReadTimeout, WriteTimeout time.Duration
}

// Front is a running front end: the chatops server on HTTP and, when asked, Socket Mode.
type Front struct {
	Handler *chatops.Server
	Addr    net.Addr
	hs      *http.Server
	sockc   <-chan error
	errc    chan error
}

// StartFront builds the chatops server and serves it. Close it after Shutdown.
func StartFront(ctx context.Context, o FrontOptions) (*Front, error) {
	co := o.Chatops
	co.Logger = o.Logger
	if co.Slack == nil && co.Config.Slack.BotToken != "" {
		co.Slack = SlackClient(o.Settings, co.Config.Slack.BotToken)
	}
	handler, err := chatops.NewServer(co)
	if err != nil {
		return nil, err
	}
	sockc, err := StartSocketMode(ctx, o.Settings, o.SocketMode, handler, co.Config, o.Logger)
	if err != nil {
		handler.Close()
		return nil, err
	}
	var h http.Handler = handler
	if o.Metrics != nil {
		h = o.Metrics(h)
	}
	f := &Front{Handler: handler, Addr: o.Listener.Addr(), sockc: sockc, errc: make(chan error, 1),
		hs: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout}}
	go func() { f.errc <- f.hs.Serve(o.Listener) }()
	return f, nil
}

// Wait returns when ctx ends (nil), Socket Mode stops (its error) or the HTTP server fails.
func (f *Front) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-f.sockc:
		return err
	case err := <-f.errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	}
}

// Shutdown stops the HTTP server (up to 10 s for requests in flight) and waits for the
// chatops server's work in progress.
func (f *Front) Shutdown() {
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = f.hs.Shutdown(shutdown)
	f.Handler.Wait()
}

// Close releases the chatops server.
func (f *Front) Close() { f.Handler.Close() }

// SlackClient is the Slack Web API client for token, at SLACK_API_URL when set.
func SlackClient(st *config.Settings, token string, opts ...slackapi.Option) *slackapi.Client {
	if u := st.Get("SLACK_API_URL"); u != "" {
		opts = append(opts, slackapi.OptionAPIURL(u))
	}
	return slackapi.New(token, opts...)
}

// DevSigningSecret is firebreak dev's Slack signing secret when none is configured: the one
// in stateDir/dev-slack-signing-secret, created (mode 0600) on first use so a developer can
// sign test requests. It returns the secret and the file's path.
func DevSigningSecret(stateDir string) (string, string, error) {
	file := filepath.Join(stateDir, "dev-slack-signing-secret")
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 24)
		if _, err := rand.Read(key); err != nil {
			return "", "", err
		}
		b = []byte(hex.EncodeToString(key))
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return "", "", fmt.Errorf("dev signing secret: %w", err)
		}
	} else if err != nil {
		return "", "", fmt.Errorf("dev signing secret: %w", err)
	}
	return strings.TrimSpace(string(b)), file, nil
}
