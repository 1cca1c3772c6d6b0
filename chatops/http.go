// Package chatops is firebreak's inbound side: the HTTP endpoints through which responders
// and alerting reach it. Every Slack and PagerDuty request is verified (signature, replay
// window, size) before anything else is done with it; Slack is answered at once and the
// Temporal work — starting a run, an approval Update, a status query — happens after the
// answer, with the outcome posted to the request's response_url.
//
// Endpoints:
//
//	POST /slack/commands       /revoke-dev and /firebreak
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
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// Starter is the part of the Temporal client chatops uses; client.Client satisfies it, tests
// pass a fake.
type Starter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// SlackAPI is the part of the Slack Web API chatops calls to resolve people; *slack.Client
// satisfies it.
type SlackAPI interface {
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
	GetUserByEmailContext(ctx context.Context, email string) (*slack.User, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
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
}

// Server serves firebreak's endpoints. Create it with NewHandler.
type Server struct {
	o       Options
	starter Starter
	lib     *playbooks.Library
	libErr  error
	log     *slog.Logger
	mux     *http.ServeMux
	metrics metrics
	groups  groupCache
	events  seenEvents

	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// NewHandler returns the server of firebreak's endpoints (see the package documentation).
// A library that fails to load is reported by every command that needs it, not here, so
// health endpoints keep working.
func NewHandler(o Options) *Server {
	s := &Server{o: o, starter: o.Starter, lib: o.Library, log: o.Logger, mux: http.NewServeMux()}
	if s.starter == nil && o.Temporal != nil {
		s.starter = o.Temporal
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.o.HTTPClient == nil {
		s.o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
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

// after runs f once the request has been answered, bounded by TemporalTimeout.
func (s *Server) after(f func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, s.o.TemporalTimeout)
		defer cancel()
		f(ctx)
	}()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
