package chatops_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// fakeTemporal implements chatops.Starter in memory with Temporal's semantics for what chatops
// relies on: USE_EXISTING joins an open run with the same id; Describe of an unknown id is
// NotFound. When hang is set, every call blocks until its context ends.
type fakeTemporal struct {
	mu       sync.Mutex
	runs     map[string]*fakeRun // workflow id → open run
	starts   []fakeStart         // every ExecuteWorkflow call
	updates  []map[string]any    // every approval request, as JSON
	hang     bool
	startErr error
	// runStartErr fails the starts of runs only (claim markers still start).
	runStartErr error
	// validate plays the workflow's update validator: it returns the result or a refusal.
	validate func(workflowID string, req map[string]any) (map[string]any, error)
	status   map[string]workflows.RunResult
	calls    int
	seq      int // runs started so far, for run ids
	// describeBlind makes Describe answer NotFound, as when a run closes between Describe
	// and the start.
	describeBlind bool
	// claims holds the ids of requests' claim markers (runs.Client.Claim).
	claims map[string]bool
	// released holds the claim markers terminated by runs.Client.Release.
	released map[string]bool
}

type fakeStart struct {
	Options client.StartWorkflowOptions
	Input   workflows.RunInput
	Joined  bool
}

type fakeRun struct {
	id, runID string
	closed    bool // the run has finished; its id stays taken
}

// finish marks the run with workflow id as finished.
func (f *fakeTemporal) finish(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs[id].closed = true
}

func newFake() *fakeTemporal {
	return &fakeTemporal{runs: map[string]*fakeRun{}, status: map[string]workflows.RunResult{}}
}

func (f *fakeTemporal) enter(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return fmt.Errorf("temporal unreachable: %w", ctx.Err())
	}
	return nil
}

func (f *fakeTemporal) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	if wf == runs.ClaimWorkflowType {
		// A request's claim marker: Temporal refuses a second start of its id.
		if f.claims == nil {
			f.claims = map[string]bool{}
		}
		if f.claims[o.ID] && !(f.released[o.ID] && o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY) {
			return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "claim")
		}
		f.claims[o.ID] = true
		delete(f.released, o.ID)
		return &fakeRun{id: o.ID, runID: "claim"}, nil
	}
	if f.runStartErr != nil {
		return nil, f.runStartErr
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("fake: expected one workflows.RunInput argument, found none")
	}
	in, ok := args[0].(workflows.RunInput)
	if !ok || len(args) != 1 {
		return nil, fmt.Errorf("fake: expected one workflows.RunInput argument, found %T", args[0])
	}
	if r, ok := f.runs[o.ID]; ok && r.closed && o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		// Temporal refuses; the SDK hides that unless asked not to.
		if o.WorkflowExecutionErrorWhenAlreadyStarted {
			return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already finished", "", r.runID)
		}
		return r, nil
	}
	if r, open := f.runs[o.ID]; open && !r.closed {
		if o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
			return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", r.runID)
		}
		f.starts = append(f.starts, fakeStart{Options: o, Input: in, Joined: true})
		return r, nil
	}
	f.seq++
	r := &fakeRun{id: o.ID, runID: "run-" + strconv.Itoa(f.seq)}
	f.runs[o.ID] = r
	f.starts = append(f.starts, fakeStart{Options: o, Input: in})
	return r, nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claims[id] {
		status := enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
		if f.released[id] {
			status = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
		}
		return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "claim"}, Status: status,
		}}, nil
	}
	r, ok := f.runs[id]
	if !ok || f.describeBlind {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	status := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if r.closed {
		status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: r.runID},
		Status:    status,
	}}, nil
}

// TerminateWorkflow terminates a claim marker (runs.Client.Release); runs are never
// terminated by chatops.
func (f *fakeTemporal) TerminateWorkflow(ctx context.Context, id, runID, reason string, details ...any) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.claims[id] {
		return serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	if f.released == nil {
		f.released = map[string]bool{}
	}
	f.released[id] = true
	return nil
}

func (f *fakeTemporal) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	if o.UpdateName != "approve" || o.WaitForStage != client.WorkflowUpdateStageCompleted || len(o.Args) != 1 {
		return nil, fmt.Errorf("fake: expected the approve update with one argument waiting for completion, found %q %v %d args", o.UpdateName, o.WaitForStage, len(o.Args))
	}
	b, err := json.Marshal(o.Args[0])
	if err != nil {
		return nil, err
	}
	var req map[string]any
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.updates = append(f.updates, req)
	_, open := f.runs[o.WorkflowID]
	validate := f.validate
	f.mu.Unlock()
	if !open {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + o.WorkflowID)
	}
	if validate == nil {
		return nil, errors.New("fake: no validator")
	}
	res, err := validate(o.WorkflowID, req)
	if err != nil {
		return nil, err
	}
	return fakeHandle{id: o.WorkflowID, v: res}, nil
}

func (f *fakeTemporal) QueryWorkflow(ctx context.Context, id, runID, queryType string, args ...any) (converter.EncodedValue, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	res, ok := f.status[id]
	if ok && queryType == workflows.QueryPending {
		return jsonValue{res.Pending}, nil
	}
	if !ok || queryType != workflows.QueryStatus {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	return jsonValue{res}, nil
}

func (f *fakeTemporal) ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, s := range f.starts {
		if !s.Joined {
			resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: s.Options.ID}})
		}
	}
	return resp, nil
}

func (f *fakeTemporal) snapshot() ([]fakeStart, []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeStart(nil), f.starts...), append([]map[string]any(nil), f.updates...)
}

func (f *fakeTemporal) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (r *fakeRun) GetID() string                        { return r.id }
func (r *fakeRun) GetRunID() string                     { return r.runID }
func (r *fakeRun) GetFirstExecutionRunID() string       { return r.runID }
func (r *fakeRun) Get(ctx context.Context, v any) error { return errors.New("fake: runs never finish") }
func (r *fakeRun) GetWithOptions(ctx context.Context, v any, _ client.WorkflowRunGetOptions) error {
	return r.Get(ctx, v)
}

type fakeHandle struct {
	id string
	v  any
}

func (h fakeHandle) WorkflowID() string { return h.id }
func (h fakeHandle) RunID() string      { return "" }
func (h fakeHandle) UpdateID() string   { return "update-1" }
func (h fakeHandle) Get(ctx context.Context, v any) error {
	return jsonValue{h.v}.Get(v)
}

type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return j.v != nil }
func (j jsonValue) Get(v any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// responses records what the server posts to response_url.
type responses struct {
	srv *httptest.Server
	ch  chan slack.Msg
}

func newResponses(t testing.TB) *responses {
	r := &responses{ch: make(chan slack.Msg, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m slack.Msg
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			t.Errorf("response_url: expected a JSON message: %v", err)
		}
		r.ch <- m
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// next returns the next posted message; the server must have been Waited on first.
func (r *responses) next(t testing.TB) slack.Msg {
	t.Helper()
	select {
	case m := <-r.ch:
		return m
	default:
		t.Fatal("expected a message posted to response_url, found none")
		return slack.Msg{}
	}
}

func (r *responses) none(t testing.TB) {
	t.Helper()
	select {
	case m := <-r.ch:
		t.Fatalf("expected no message posted to response_url, found %q", m.Text)
	default:
	}
}

const (
	signingSecret = "test-signing-secret"
	pdSecret      = "test-pd-secret"
)

func testConfig() chatops.Config {
	return chatops.Config{
		Slack: chatops.SlackConfig{SigningSecret: signingSecret},
		PagerDuty: chatops.PagerDutyConfig{WebhookSecret: pdSecret, Rules: []chatops.TriggerRule{{
			Service: "PSVCDEV", Urgency: "high", Playbook: "compromised-dev-key",
			Inputs: map[string]chatops.InputSource{
				"subject": {From: "details.subject", Trusted: true}, // a monitoring integration's routing key
				"reason":  {From: "title"},
			},
		}}},
		Directory: []chatops.Person{
			{Subject: "alice", Email: "alice@example.test"},
			{Subject: "bob", Email: "bob@example.test", SlackID: "U0BOB"},
			{Subject: "carol", Email: "carol@example.test"},
		},
		Roles: map[string]chatops.RoleMembers{
			"responder": {Users: []string{"U0BOB", "U0CAROL"}},
			"approver":  {Users: []string{"U0CAROL"}},
		},
		TemporalUIURL: "http://127.0.0.1:8233/namespaces/default",
	}
}

type harness struct {
	srv   *chatops.Server
	fake  *fakeTemporal
	resp  *responses
	logs  *syncBuffer
	slack *testenv.Slack
	now   time.Time
	// trig numbers the trigger_ids of requests: Slack gives each action its own, and a
	// retry (X-Slack-Retry-Num) repeats the request, trigger_id and all.
	trig   int
	trigMu sync.Mutex // requests are sent from several goroutines at once
}

// triggerID is the trigger_id of the next request: a new one, or the last one again for a
// Slack retry.
func (h *harness) triggerID(hdr []string) string {
	h.trigMu.Lock()
	defer h.trigMu.Unlock()
	if !slices.Contains(hdr, "X-Slack-Retry-Num") || h.trig == 0 {
		h.trig++
	}
	return "trig-" + strconv.Itoa(h.trig)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSigner is the front end's decision key in these tests.
var testSigner = workflows.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))

func newHarness(t testing.TB, mod ...func(*chatops.Options)) *harness {
	t.Helper()
	sb := testenv.NewSlack(testenv.DefaultOrg(), nil)
	t.Cleanup(sb.Close)
	h := &harness{fake: newFake(), resp: newResponses(t), logs: &syncBuffer{}, slack: sb,
		now: time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)}
	o := chatops.Options{
		Starter: h.fake,
		Config:  testConfig(),
		Slack:   slack.New(sb.BotToken(), slack.OptionAPIURL(sb.URL()+"/api/")),
		Logger:  slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     func() time.Time { return h.now },
		Signer:  testSigner,
	}
	for _, m := range mod {
		m(&o)
	}
	h.srv = chatops.NewHandler(o)
	t.Cleanup(h.srv.Close)
	return h
}

// signSlack signs body as Slack does at time ts.
func signSlack(r *http.Request, secret string, body []byte, ts time.Time) {
	s := strconv.FormatInt(ts.Unix(), 10)
	r.Header.Set("X-Slack-Request-Timestamp", s)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(chatops.SlackSignature(secret, s, body)))
}

func (h *harness) command(t testing.TB, user, command, text string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{
		"command": {command}, "text": {text}, "user_id": {user}, "user_name": {user},
		"channel_id": {"C0SECOPS"}, "team_id": {testenv.SlackTeamID}, "response_url": {h.resp.srv.URL + "/commands/1"},
		"trigger_id": {h.triggerID(hdr)},
	}
	return h.post(t, "/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()), hdr...)
}

func (h *harness) press(t testing.TB, user, actionID, value string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	payload := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": "C0SECOPS"},
		"response_url": h.resp.srv.URL + "/actions/1", "trigger_id": h.triggerID(hdr),
		"actions": []any{map[string]any{"action_id": actionID, "block_id": "b", "type": "button", "value": value}},
	}
	b, _ := json.Marshal(payload)
	form := url.Values{"payload": {string(b)}}
	return h.post(t, "/slack/interactions", "application/x-www-form-urlencoded", []byte(form.Encode()), hdr...)
}

// post sends a Slack-signed request; hdr are extra header name, value pairs.
func (h *harness) post(t testing.TB, path, ctype string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	signSlack(r, signingSecret, body, h.now)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, r)
	return rec
}

// decodeMsg decodes an acknowledgement body.
func decodeMsg(t testing.TB, rec *httptest.ResponseRecorder) slack.Msg {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", rec.Code, rec.Body.String())
	}
	var m slack.Msg
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("acknowledgement is not a Slack message: %v: %q", err, rec.Body.String())
	}
	return m
}
