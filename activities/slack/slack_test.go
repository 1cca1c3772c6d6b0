package slack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go.temporal.io/sdk/activity"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/testenv"
)

// registry records what Register registers; the embedded nil Registry panics on anything else.
type registry struct {
	worker.Registry
	got   []any
	names []string
}

func (r *registry) RegisterActivityWithOptions(a any, o activity.RegisterOptions) {
	r.got = append(r.got, a)
	r.names = append(r.names, o.Name)
}

func TestRegister(t *testing.T) {
	var r registry
	a := &slack.Activities{}
	slack.Register(&r, a)
	if len(r.got) != 1 || r.got[0] != a || r.names[0] != slack.ActivityPrefix {
		t.Errorf("Register registered %v, want the Activities struct once", r.got)
	}
}

type fixture struct {
	sb  *testenv.Slack
	rec *testenv.Recorder
	env *testsuite.TestActivityEnvironment
	a   *slack.Activities
}

func newFixture(t *testing.T, opts ...slackapi.Option) *fixture {
	t.Helper()
	rec := &testenv.Recorder{}
	sb := testenv.NewSlack(testenv.DefaultOrg(), rec)
	t.Cleanup(sb.Close)
	opts = append([]slackapi.Option{slackapi.OptionAPIURL(sb.URL() + "/api/")}, opts...)
	a := &slack.Activities{Client: slackapi.New(sb.BotToken(), opts...)}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return &fixture{sb: sb, rec: rec, env: env, a: a}
}

func (f *fixture) post(in slack.PostInput) (slack.PostResult, error) {
	var out slack.PostResult
	v, err := f.env.ExecuteActivity(f.a.Post, in)
	if err == nil {
		err = v.Get(&out)
	}
	return out, err
}

func (f *fixture) update(in slack.UpdateInput) (slack.UpdateResult, error) {
	var out slack.UpdateResult
	v, err := f.env.ExecuteActivity(f.a.Update, in)
	if err == nil {
		err = v.Get(&out)
	}
	return out, err
}

func (f *fixture) lookup(in slack.LookupUserInput) (slack.LookupUserResult, error) {
	var out slack.LookupUserResult
	v, err := f.env.ExecuteActivity(f.a.LookupUser, in)
	if err == nil {
		err = v.Get(&out)
	}
	return out, err
}

// appError returns err's ApplicationError, failing the test when there is none.
func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an ApplicationError", err, err)
	}
	return ae
}

func TestPostIsIdempotent(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		thread  bool
	}{
		{"top-level by ID", "C0DRILLS", false},
		{"top-level by name", "#firebreak-drills", false},
		{"thread reply", "C0DRILLS", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			threadTS := ""
			if tt.thread {
				parent, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "run started", IdempotencyKey: "run-1/start"})
				if err != nil {
					t.Fatalf("parent post: %v", err)
				}
				threadTS = parent.TS
				f.rec.Reset()
			}
			in := slack.PostInput{Channel: tt.channel, ThreadTS: threadTS, Text: "vault tokens revoked",
				Blocks:         json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"*vault* tokens revoked"}}]`),
				IdempotencyKey: "run-1/vault"}
			first, err := f.post(in)
			if err != nil {
				t.Fatalf("first post: %v", err)
			}
			if first.Duplicate || first.Channel != "C0DRILLS" || first.TS == "" {
				t.Fatalf("first post = %+v, want a new message in C0DRILLS", first)
			}
			second, err := f.post(in)
			if err != nil {
				t.Fatalf("second post: %v", err)
			}
			if want := (slack.PostResult{Channel: "C0DRILLS", TS: first.TS, Duplicate: true}); second != want {
				t.Errorf("second post = %+v, want %+v", second, want)
			}
			if n := f.rec.Count("slack", "chat.postMessage"); n != 1 {
				t.Errorf("chat.postMessage called %d times, want 1", n)
			}
			var stored *testenv.SlackMessage
			for _, m := range f.sb.Messages("C0DRILLS") {
				if m.TS == first.TS {
					stored = &m
				}
			}
			if stored == nil || stored.ThreadTS != threadTS || stored.Metadata == nil ||
				stored.Metadata.EventType != slack.MessageEventType || stored.Metadata.EventPayload["key"] != "run-1/vault" ||
				!strings.Contains(string(stored.Blocks), "*vault* tokens revoked") {
				t.Errorf("stored message = %+v, want thread_ts %q, the key in metadata and the blocks", stored, threadTS)
			}
			// A different key is a different message.
			other, err := f.post(slack.PostInput{Channel: tt.channel, ThreadTS: threadTS, Text: "aws keys deactivated", IdempotencyKey: "run-1/aws"})
			if err != nil || other.Duplicate || other.TS == first.TS {
				t.Errorf("post with another key = %+v, %v; want a new message", other, err)
			}
		})
	}
}

// lossyTransport forwards requests but loses the response of the first chat.postMessage,
// as when a worker crashes after Slack accepted the post.
type lossyTransport struct{ lost atomic.Bool }

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, "/chat.postMessage") && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

func TestPostRetryAfterLostResponse(t *testing.T) {
	f := newFixture(t, slackapi.OptionHTTPClient(&http.Client{Transport: &lossyTransport{}}))
	in := slack.PostInput{Channel: "C0SECOPS", Text: "containment started", IdempotencyKey: "inc-PINC001/start"}
	_, err := f.post(in)
	if ae := appError(t, err); ae.NonRetryable() {
		t.Fatalf("lost response gave non-retryable %v, want a retryable error", err)
	}
	got, err := f.post(in) // Temporal's retry
	if err != nil || !got.Duplicate {
		t.Fatalf("retry = %+v, %v; want the message already posted, Duplicate", got, err)
	}
	if msgs := f.sb.Messages("C0SECOPS"); len(msgs) != 1 || msgs[0].TS != got.TS {
		t.Errorf("channel holds %+v, want exactly the one message %s", msgs, got.TS)
	}
}

func TestUpdateInPlace(t *testing.T) {
	f := newFixture(t)
	posted, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "revoking: 0/3", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ { // twice: an update retried is harmless
		got, err := f.update(slack.UpdateInput{Channel: posted.Channel, TS: posted.TS, Text: "revoking: 3/3",
			Blocks: json.RawMessage(`[{"type":"divider"}]`)})
		if err != nil || got != (slack.UpdateResult{Channel: posted.Channel, TS: posted.TS}) {
			t.Fatalf("update %d = %+v, %v", i, got, err)
		}
	}
	msgs := f.sb.Messages("C0DRILLS")
	if len(msgs) != 1 || msgs[0].Text != "revoking: 3/3" || msgs[0].Edits != 2 || !strings.Contains(string(msgs[0].Blocks), "divider") {
		t.Errorf("messages = %+v, want one message updated in place twice", msgs)
	}
	if msgs[0].Metadata == nil || msgs[0].Metadata.EventPayload["key"] != "k" {
		t.Errorf("update lost the idempotency metadata: %+v", msgs[0].Metadata)
	}
}

func TestLookupUser(t *testing.T) {
	f := newFixture(t)
	got, err := f.lookup(slack.LookupUserInput{Email: "carol@example.test"})
	if err != nil || got != (slack.LookupUserResult{UserID: "U0CAROL", Name: "carol"}) {
		t.Errorf("lookup carol = %+v, %v", got, err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *fixture)
		call      func(f *fixture) error
		wantType  string
		retryable bool
		wantDelay time.Duration
		wantText  string
	}{
		{"rate limited", func(f *fixture) { f.sb.RateLimit(1, 30*time.Second) },
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeRateLimited, true, 30 * time.Second, "retry after 30s"},
		{"rate limited post", func(f *fixture) {
			// the history read passes, then the post itself is rate-limited
			f.sb.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
					return false
				}
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			})
		}, func(f *fixture) error {
			_, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", IdempotencyKey: "k"})
			return err
		},
			slack.ErrTypeRateLimited, true, 7 * time.Second, "rate-limited"},
		{"invalid auth", func(f *fixture) {
			f.a.Client = slackapi.New("xoxb-wrong", slackapi.OptionAPIURL(f.sb.URL()+"/api/"))
		}, func(f *fixture) error {
			_, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", IdempotencyKey: "k"})
			return err
		},
			slack.ErrTypeInvalidAuth, false, 0, "bot token"},
		{"unknown channel", nil,
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "C0NOPE", Text: "x", IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeChannelNotFound, false, 0, "channel ID"},
		{"unknown channel name", nil,
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "#nope", Text: "x", IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeChannelNotFound, false, 0, "#nope"},
		{"not in channel", func(f *fixture) { f.sb.SetError("chat.postMessage", "not_in_channel") },
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeNotInChannel, false, 0, "invite the bot"},
		{"unknown user", nil,
			func(f *fixture) error {
				_, err := f.lookup(slack.LookupUserInput{Email: "mallory@example.test"})
				return err
			},
			slack.ErrTypeUnknownUser, false, 0, "mallory@example.test"},
		{"slack down", func(f *fixture) { f.sb.FailMethod("", http.StatusServiceUnavailable) },
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeSlackError, true, 0, "503"},
		{"update unknown message", nil,
			func(f *fixture) error {
				_, err := f.update(slack.UpdateInput{Channel: "C0DRILLS", TS: "1.000000", Text: "x"})
				return err
			},
			slack.ErrTypeInvalidRequest, false, 0, "message_not_found"},
		{"bad blocks", nil,
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", Blocks: json.RawMessage(`{"type":"section"}`), IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeInvalidRequest, false, 0, "JSON array"},
		{"no text", nil,
			func(f *fixture) error {
				_, err := f.post(slack.PostInput{Channel: "C0DRILLS", IdempotencyKey: "k"})
				return err
			},
			slack.ErrTypeInvalidRequest, false, 0, "text or blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			start := time.Now()
			err := tt.call(f)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("activity took %s: it must return, not wait out Slack", took)
			}
			ae := appError(t, err)
			if ae.Type() != tt.wantType || ae.NonRetryable() == tt.retryable || ae.NextRetryDelay() != tt.wantDelay {
				t.Errorf("error %v: type %q non-retryable %v delay %s; want %q, retryable %v, delay %s",
					err, ae.Type(), ae.NonRetryable(), ae.NextRetryDelay(), tt.wantType, tt.retryable, tt.wantDelay)
			}
			if !strings.Contains(ae.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", ae.Error(), tt.wantText)
			}
			if testenv.ContainsCanary(ae.Error()) {
				t.Errorf("error leaks the canary: %q", ae.Error())
			}
		})
	}
}

// TestNoCanaryInResults runs every activity and checks that no result or error carries the
// sandbox's secret marker (the bot token).
func TestNoCanaryInResults(t *testing.T) {
	f := newFixture(t)
	var outputs []string
	record := func(v any, err error) {
		b, _ := json.Marshal(v)
		outputs = append(outputs, string(b), fmt.Sprint(err))
	}
	p, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "hello", IdempotencyKey: "k"})
	record(p, err)
	record(f.post(slack.PostInput{Channel: "C0DRILLS", Text: "hello", IdempotencyKey: "k"}))
	record(f.update(slack.UpdateInput{Channel: p.Channel, TS: p.TS, Text: "bye"}))
	record(f.lookup(slack.LookupUserInput{Email: "alice@example.test"}))
	record(f.lookup(slack.LookupUserInput{Email: "nobody@example.test"}))
	f.a.Client = slackapi.New(f.sb.BotToken()+"x", slackapi.OptionAPIURL(f.sb.URL()+"/api/"))
	record(f.post(slack.PostInput{Channel: "C0DRILLS", Text: "x", IdempotencyKey: "k2"}))
	for _, o := range outputs {
		if testenv.ContainsCanary(o) {
			t.Errorf("output leaks the canary: %s", o)
		}
	}
}

// TestPostAndUpdateRedactCredentials: whatever puts a credential in a message (a step output,
// someone's free text, an error quoting a request), it never reaches Slack.
func TestPostAndUpdateRedactCredentials(t *testing.T) {
	const secret = "sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF"
	f := newFixture(t)
	res, err := f.post(slack.PostInput{Channel: "C0DRILLS", Text: "key " + secret,
		Blocks:         json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"key ` + secret + `"}}]`),
		IdempotencyKey: "run-1/leak"})
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	if _, err := f.update(slack.UpdateInput{Channel: res.Channel, TS: res.TS, Text: "now " + secret,
		Blocks: json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"now ` + secret + `"}}]`)}); err != nil {
		t.Fatalf("update: %v", err)
	}
	msgs := f.sb.Messages("C0DRILLS")
	if len(msgs) == 0 {
		t.Fatal("expected the message in the sandbox channel")
	}
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		if strings.Contains(string(b), secret) {
			t.Fatalf("the credential reached Slack: %s", b)
		}
		if !strings.Contains(string(b), "[redacted stripe-access-token]") {
			t.Fatalf("expected the credential replaced by a redaction mark, got %s", b)
		}
	}
}
