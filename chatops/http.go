// Package chatops is firebreak's inbound side: the HTTP endpoints through which responders
// and alerting reach it. Every Slack and PagerDuty request is verified (signature, replay
// window, size) before anything else is done with it; Slack is answered at once and the
// Temporal work — starting a run, an approval Update, a status query — happens after the
// answer, with the outcome posted to the request's response_url.
//
// Endpoints:
//
//	POST /slack/commands       /firebreak, /revoke-dev and every playbook's triggers.slash
//	POST /slack/interactions   Block Kit buttons: confirm/cancel a start, approve/deny a step
//	POST /pagerduty/webhook    v3 webhooks; incident.triggered starts a matching playbook
//	GET  /healthz              200 while the process serves requests
//	GET  /readyz               200 when Temporal answers a health check, else 503
//	GET  /metrics              Prometheus text: requests by endpoint and outcome
//
// Teams without a public URL receive the same commands and button presses over Slack Socket
// Mode instead (ServeSocketMode).
package chatops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/secretscan"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Starter is the part of the Temporal client chatops uses; client.Client satisfies it, tests
// pass a fake.
type Starter = runs.Temporal

// SlackAPI is the part of the Slack Web API chatops calls to resolve people; *slack.Client
// satisfies it.
type SlackAPI interface {
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
	GetUserByEmailContext(ctx context.Context, email string) (*slack.User, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
}

// SlackPoster posts a message to a channel; *slack.Client satisfies it.
type SlackPoster interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
}

// poster is the Slack client that posts confirmations, or nil.
func (s *Server) poster() SlackPoster {
	if s.o.SlackPoster != nil {
		return s.o.SlackPoster
	}
	p, _ := s.o.Slack.(SlackPoster)
	return p
}

// Options configures the HTTP endpoints. Zero values are documented per field.
type Options struct {
	// Temporal is checked by /readyz (nil means "not ready") and, when Starter is nil, starts,
	// updates and queries runs.
	Temporal client.Client
	// Starter overrides Temporal for starts, updates and queries (tests pass a fake).
	Starter Starter
	// Info is echoed by /healthz (addresses, task queue); it must hold no secrets.
	Info map[string]string
	// Config holds secrets, the directory, roles and PagerDuty rules.
	Config Config
	// Slack resolves people the directory alone cannot; nil means the directory only.
	Slack SlackAPI
	// SlackPoster posts the confirmations that PagerDuty incidents with free-text inputs wait
	// for; nil means Slack when it is a SlackPoster too (as *slack.Client is), else none.
	SlackPoster SlackPoster
	// Library holds the playbooks; nil means the bundled library.
	Library *playbooks.Library
	// Logger receives one line per rejected or failed request; nil means slog.Default().
	Logger *slog.Logger
	// HTTPClient posts to Slack response_url; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock for replay windows and trigger times; nil means time.Now.
	Now func() time.Time
	// TemporalTimeout bounds each Temporal call made after acknowledging; zero means 15 s.
	TemporalTimeout time.Duration
	// LookupTimeout bounds the Slack API lookups made before acknowledging; zero means 1.5 s,
	// which keeps the acknowledgement inside Slack's 3 s.
	LookupTimeout time.Duration
	// AckBudget bounds all the work done before acknowledging a Slack request, however many
	// lookups it takes, so the answer beats Slack's 3 s limit; zero means 2 s.
	AckBudget time.Duration
	// Signer signs the decisions this front end sends with the decision key (firebreak serve
	// and dev hold it; workers do not). Nil: no decision can be sent, and people are told so.
	// Decisions on drills are signed with the sandbox's decision key instead, which only
	// drill workers trust.
	Signer *workflows.Signer
}

// maxResponding is how many response_url posts may be in flight at once.
const maxResponding = 16

// maxInFlight is how many pieces of work after an acknowledgement run at once.
const maxInFlight = 128

// Server serves firebreak's endpoints. Create it with NewHandler.
type Server struct {
	o       Options
	starter Starter
	runs    *runs.Client
	lib     *playbooks.Library
	libErr  error
	log     *slog.Logger
	mux     *http.ServeMux
	metrics metrics
	groups  groupCache
	events  seenEvents
	// routes are the slash commands answered, sorted by command; routesErr says why the
	// library's own slash triggers were not routed.
	routes    []SlashRoute
	routesErr error

	// responding bounds the response_url posts in flight (maxResponding), so a burst of them —
	// every start failing at once when a dial to Temporal times out — queues instead of
	// taking the CPU from acknowledgements.
	responding chan struct{}
	// inFlight bounds the work after acknowledgements running at once (maxInFlight).
	inFlight chan struct{}

	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// NewServer returns the server of firebreak's endpoints, as NewHandler does, or the error that
// makes its configuration unusable: slash commands claimed twice (SlashRoutes). cmd calls it
// so such a server refuses to start.
func NewServer(o Options) (*Server, error) {
	s := NewHandler(o)
	if s.routesErr != nil {
		s.Close()
		return nil, s.routesErr
	}
	return s, nil
}

// NewHandler returns the server of firebreak's endpoints (see the package documentation).
// A library that fails to load is reported by every command that needs it, not here, so
// health endpoints keep working; so are conflicting slash triggers (NewServer refuses them):
// only /firebreak is routed then, and any other command is answered with the conflict.
func NewHandler(o Options) *Server {
	s := &Server{o: o, starter: o.Starter, lib: o.Library, log: o.Logger, mux: http.NewServeMux()}
	if s.starter == nil && o.Temporal != nil {
		s.starter = o.Temporal
	}
	s.runs = &runs.Client{Signer: o.Signer, Now: func() time.Time { return s.o.Now() }}
	if s.starter != nil {
		s.runs.Temporal = s.starter
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.o.HTTPClient == nil {
		// Connections to Slack are kept and reused: when Temporal fails many starts at once,
		// telling each requester must not mean a new TLS connection per message.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = maxResponding
		s.o.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	s.responding = make(chan struct{}, maxResponding)
	s.inFlight = make(chan struct{}, maxInFlight)
	if s.o.Now == nil {
		s.o.Now = time.Now
	}
	if s.o.TemporalTimeout == 0 {
		s.o.TemporalTimeout = 15 * time.Second
	}
	if s.o.AckBudget == 0 {
		s.o.AckBudget = 2 * time.Second
	}
	if s.o.LookupTimeout == 0 {
		s.o.LookupTimeout = 1500 * time.Millisecond
	}
	if s.lib == nil {
		s.lib, s.libErr = playbooks.LoadLibrary("")
	}
	if s.lib != nil {
		s.routes, s.routesErr = SlashRoutes(s.lib)
	} else {
		s.routesErr = fmt.Errorf("the playbook library did not load: %w", s.libErr)
	}
	if o.Config.PagerDuty.ConfirmChannel == "" {
		for i, r := range o.Config.PagerDuty.Rules {
			for _, name := range slices.Sorted(maps.Keys(r.Inputs)) {
				if name != "reason" && slices.Contains(freeTextFields, r.Inputs[name].From) {
					s.log.Warn("chatops: a PagerDuty rule takes an input from the incident's free text and no pagerduty.confirm_channel is set: its incidents will start nothing", "rule", i, "playbook", r.Playbook, "input", name)
				}
			}
		}
	}
	if s.routesErr != nil {
		s.log.Error("chatops: the playbooks' slash commands are not routed; only /firebreak is answered", "error", s.routesErr)
		s.routes = []SlashRoute{{Command: CommandFirebreak}}
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"status": "ok"}
		for k, v := range o.Info {
			body[k] = v
		}
		writeJSON(w, http.StatusOK, body)
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.Temporal == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "temporal": "no client"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := o.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "temporal": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.mux.HandleFunc("POST /slack/commands", s.slackCommands)
	s.mux.HandleFunc("POST /slack/interactions", s.slackInteractions)
	s.mux.HandleFunc("POST /pagerduty/webhook", s.pagerDutyWebhook)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Wait blocks until every piece of work started after an acknowledgement has finished.
func (s *Server) Wait() { s.bg.Wait() }

// Close cancels the work still running after acknowledgements and waits for it to end.
func (s *Server) Close() {
	s.bgCancel()
	s.bg.Wait()
}

// after runs f once the request has been answered, bounded by TemporalTimeout. At most
// maxInFlight run at once; the rest wait their turn within the same bound. When Temporal
// hangs and then fails every call together (a dial timing out), only those in flight wake at
// once, so the burst of failures cannot starve acknowledgements of CPU.
func (s *Server) after(f func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, s.o.TemporalTimeout)
		defer cancel()
		select {
		case s.inFlight <- struct{}{}:
			defer func() { <-s.inFlight }()
		case <-ctx.Done():
		}
		f(ctx) // with ctx done, f fails at its first call and tells the requester
	}()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(redactedJSON(v), '\n'))
}

// redactedJSON encodes a reply with every credential in it redacted: replies quote people's
// free text and error messages, and nothing firebreak sends to Slack may carry a secret.
func redactedJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "could not encode the reply"})
	}
	return secretscan.RedactJSON(b)
}

// redactedMsg is m with every credential in it redacted.
func redactedMsg(m slack.Msg) slack.Msg {
	plain, err := json.Marshal(m)
	if err != nil {
		return m
	}
	red := secretscan.RedactJSON(plain)
	if bytes.Equal(plain, red) {
		return m
	}
	var out slack.Msg
	if err := json.Unmarshal(red, &out); err != nil {
		return slack.Msg{Text: secretscan.Redact(m.Text), ResponseType: m.ResponseType}
	}
	return out
}
