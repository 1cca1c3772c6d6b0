package pagerduty_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go.temporal.io/sdk/activity"
	"net/http"
	"strings"
	"testing"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/pagerduty"
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
	a := &pagerduty.Activities{}
	pagerduty.Register(&r, a)
	if len(r.got) != 1 || r.got[0] != a || r.names[0] != pagerduty.ActivityPrefix {
		t.Errorf("Register registered %v, want the Activities struct once", r.got)
	}
}

type fixture struct {
	sb  *testenv.PagerDuty
	rec *testenv.Recorder
	env *testsuite.TestActivityEnvironment
	a   *pagerduty.Activities
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rec := &testenv.Recorder{}
	sb := testenv.NewPagerDuty(testenv.DefaultOrg(), rec)
	t.Cleanup(sb.Close)
	a := &pagerduty.Activities{Client: pd.NewClient(sb.Token(), pd.WithAPIEndpoint(sb.URL())), From: testenv.PagerDutyBotEmail}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return &fixture{sb: sb, rec: rec, env: env, a: a}
}

// run executes activity fn with in and decodes its result into out.
func (f *fixture) run(fn, in, out any) error {
	v, err := f.env.ExecuteActivity(fn, in)
	if err != nil {
		return err
	}
	return v.Get(out)
}

func (f *fixture) addNote(in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
	var out pagerduty.AddNoteResult
	return out, f.run(f.a.AddNote, in, &out)
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an ApplicationError", err, err)
	}
	return ae
}

func TestAddNoteIsIdempotent(t *testing.T) {
	f := newFixture(t)
	in := pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "Vault tokens of alice revoked.\n", IdempotencyKey: "PINC001/vault"}
	first, err := f.addNote(in)
	if err != nil {
		t.Fatalf("first note: %v", err)
	}
	if first.NoteID == "" || first.Duplicate {
		t.Fatalf("first note = %+v, want a new note", first)
	}
	second, err := f.addNote(in)
	if err != nil {
		t.Fatalf("second note: %v", err)
	}
	if second != (pagerduty.AddNoteResult{NoteID: first.NoteID, Duplicate: true}) {
		t.Errorf("second note = %+v, want the first one as a duplicate", second)
	}
	if n := f.rec.Count("pagerduty", "POST /incidents/{id}/notes"); n != 1 {
		t.Errorf("created notes %d times, want 1", n)
	}
	notes := f.sb.Notes("PINC001")
	if len(notes) != 1 || notes[0].Content != "Vault tokens of alice revoked.\n[firebreak:PINC001/vault]" || notes[0].UserID != testenv.PagerDutyBotUserID {
		t.Errorf("notes = %+v, want one note by the bot ending with the marker line", notes)
	}
	// A key that is a prefix of another is still a different note.
	other, err := f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "AWS keys deactivated.", IdempotencyKey: "PINC001/vau"})
	if err != nil || other.Duplicate || other.NoteID == first.NoteID {
		t.Errorf("note with another key = %+v, %v; want a new note", other, err)
	}
}

func TestAcknowledgeAndResolveAreIdempotent(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		fn   func(*pagerduty.Activities) any
		want string
	}{
		{func(a *pagerduty.Activities) any { return a.Acknowledge }, "acknowledged"},
		{func(a *pagerduty.Activities) any { return a.Acknowledge }, "acknowledged"},
		{func(a *pagerduty.Activities) any { return a.Resolve }, "resolved"},
		{func(a *pagerduty.Activities) any { return a.Resolve }, "resolved"},
		{func(a *pagerduty.Activities) any { return a.Acknowledge }, "resolved"},
	}
	for i, st := range steps {
		var got pagerduty.IncidentResult
		if err := f.run(st.fn(f.a), pagerduty.IncidentInput{IncidentID: "PINC001"}, &got); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != (pagerduty.IncidentResult{IncidentID: "PINC001", Status: st.want}) {
			t.Errorf("step %d = %+v, want status %s", i, got, st.want)
		}
	}
	if n := f.rec.Count("pagerduty", "PUT /incidents"); n != 2 {
		t.Errorf("changed the incident %d times, want 2 (acknowledge, resolve)", n)
	}
	if inc, _ := f.sb.Incident("PINC001"); inc.Status != "resolved" {
		t.Errorf("sandbox incident status %q, want resolved", inc.Status)
	}
}

func TestResolveRacingAnotherResolver(t *testing.T) {
	f := newFixture(t)
	// Someone resolves the incident between the activity's read and its write.
	f.sb.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"Invalid Input Provided","code":2001,"errors":["Incident Already Resolved"]}}`)
		return true
	})
	var got pagerduty.IncidentResult
	if err := f.run(f.a.Resolve, pagerduty.IncidentInput{IncidentID: "PINC001"}, &got); err != nil || got.Status != "resolved" {
		t.Errorf("resolve = %+v, %v; want success with status resolved", got, err)
	}
}

func TestOnCall(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		in   pagerduty.OnCallInput
		want []pagerduty.OnCallUser
	}{
		{"by escalation policy", pagerduty.OnCallInput{EscalationPolicyID: testenv.PagerDutyEscalationPolicyID},
			[]pagerduty.OnCallUser{{ID: "PCAROL1", Name: "Carol", Email: "carol@example.test"}}},
		{"by schedule", pagerduty.OnCallInput{ScheduleID: testenv.PagerDutyScheduleID},
			[]pagerduty.OnCallUser{{ID: "PCAROL1", Name: "Carol", Email: "carol@example.test"}}},
		{"nobody", pagerduty.OnCallInput{EscalationPolicyID: "PNOPE"}, []pagerduty.OnCallUser{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got pagerduty.OnCallResult
			if err := f.run(f.a.OnCall, tt.in, &got); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Users) != fmt.Sprint(tt.want) {
				t.Errorf("on call = %+v, want %+v", got.Users, tt.want)
			}
		})
	}
}

func TestErrorsAreClassified(t *testing.T) {
	note := func(f *fixture) error {
		_, err := f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "x", IdempotencyKey: "k"})
		return err
	}
	tests := []struct {
		name      string
		setup     func(f *fixture)
		call      func(f *fixture) error
		wantType  string
		retryable bool
		wantText  string
	}{
		{"unknown incident", nil, func(f *fixture) error {
			_, err := f.addNote(pagerduty.AddNoteInput{IncidentID: "PNOPE", Content: "x", IdempotencyKey: "k"})
			return err
		}, pagerduty.ErrTypeUnknownIncident, false, "PNOPE"},
		{"acknowledge unknown incident", nil, func(f *fixture) error {
			var out pagerduty.IncidentResult
			return f.run(f.a.Acknowledge, pagerduty.IncidentInput{IncidentID: "PNOPE"}, &out)
		}, pagerduty.ErrTypeUnknownIncident, false, "no such incident"},
		{"bad token", func(f *fixture) {
			f.a.Client = pd.NewClient("u+wrong", pd.WithAPIEndpoint(f.sb.URL()))
		}, note, pagerduty.ErrTypeInvalidToken, false, "API token"},
		{"forbidden", func(f *fixture) { f.sb.FailOp("POST /incidents/{id}/notes", http.StatusForbidden) },
			note, pagerduty.ErrTypeForbidden, false, "HTTP 403"},
		{"From is no user", func(f *fixture) { f.a.From = "mallory@example.test" },
			note, pagerduty.ErrTypeInvalidRequest, false, "From"},
		{"From missing", func(f *fixture) { f.a.From = "" },
			note, pagerduty.ErrTypeInvalidRequest, false, "Activities.From"},
		{"PagerDuty down", func(f *fixture) { f.sb.SetDown(true) },
			note, pagerduty.ErrTypePagerDutyError, true, "503"},
		{"rate limited", func(f *fixture) { f.sb.FailOp("GET /incidents/{id}/notes", http.StatusTooManyRequests) },
			note, pagerduty.ErrTypeRateLimited, true, "429"},
		{"unreachable", func(f *fixture) {
			f.a.Client = pd.NewClient(f.sb.Token(), pd.WithAPIEndpoint("http://127.0.0.1:1"))
		}, note, pagerduty.ErrTypePagerDutyError, true, "will retry"},
		{"empty content", nil, func(f *fixture) error {
			_, err := f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", IdempotencyKey: "k"})
			return err
		}, pagerduty.ErrTypeInvalidRequest, false, "content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			ae := appError(t, tt.call(f))
			if ae.Type() != tt.wantType || ae.NonRetryable() == tt.retryable {
				t.Errorf("error %v: type %q non-retryable %v; want %q, retryable %v", ae, ae.Type(), ae.NonRetryable(), tt.wantType, tt.retryable)
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
// sandbox's secret marker (the API token).
func TestNoCanaryInResults(t *testing.T) {
	f := newFixture(t)
	var outputs []string
	record := func(v any, err error) {
		b, _ := json.Marshal(v)
		outputs = append(outputs, string(b), fmt.Sprint(err))
	}
	record(f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "hello", IdempotencyKey: "k"}))
	record(f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "hello", IdempotencyKey: "k"}))
	var ir pagerduty.IncidentResult
	record(ir, f.run(f.a.Acknowledge, pagerduty.IncidentInput{IncidentID: "PINC001"}, &ir))
	record(ir, f.run(f.a.Resolve, pagerduty.IncidentInput{IncidentID: "PINC001"}, &ir))
	var oc pagerduty.OnCallResult
	record(oc, f.run(f.a.OnCall, pagerduty.OnCallInput{}, &oc))
	record(f.addNote(pagerduty.AddNoteInput{IncidentID: "PNOPE", Content: "x", IdempotencyKey: "k"}))
	f.a.Client = pd.NewClient(f.sb.Token()+"x", pd.WithAPIEndpoint(f.sb.URL()))
	record(f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "x", IdempotencyKey: "k2"}))
	for _, o := range outputs {
		if testenv.ContainsCanary(o) {
			t.Errorf("output leaks the canary: %s", o)
		}
	}
}

// TestNotesAndTitlesRedactCredentials: nothing firebreak writes to PagerDuty carries a credential.
func TestNotesAndTitlesRedactCredentials(t *testing.T) {
	const secret = "sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF"
	f := newFixture(t)
	if _, err := f.addNote(pagerduty.AddNoteInput{IncidentID: "PINC001", Content: "rotated " + secret, IdempotencyKey: "PINC001/leak"}); err != nil {
		t.Fatalf("note: %v", err)
	}
	for _, n := range f.sb.Notes("PINC001") {
		if strings.Contains(n.Content, secret) || !strings.Contains(n.Content, "[redacted ") {
			t.Fatalf("expected the credential redacted from the note, got %q", n.Content)
		}
	}
}
