package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// fakeSocketSlack is Slack's side of Socket Mode: apps.connections.open hands out a WebSocket
// URL; the socket says hello, delivers one slash command envelope, and passes the client's
// acknowledgement to acks.
type fakeSocketSlack struct {
	srv     *httptest.Server
	command map[string]string
	acks    chan map[string]any
	tokens  chan string
}

func newFakeSocketSlack(t *testing.T, command map[string]string) *fakeSocketSlack {
	f := &fakeSocketSlack{command: command, acks: make(chan map[string]any, 4), tokens: make(chan string, 4)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }} // the SDK sends Slack's origin
	mux := http.NewServeMux()
	mux.HandleFunc("/api/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.tokens <- r.Header.Get("Authorization"):
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/link"})
	})
	mux.HandleFunc("/link", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("websocket upgrade: %v", err)
			return
		}
		defer c.Close()
		_ = c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A0FIREBREAK"}})
		_ = c.WriteJSON(map[string]any{"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": true, "payload": f.command})
		for {
			var m map[string]any
			if err := c.ReadJSON(&m); err != nil {
				return
			}
			if m["envelope_id"] != nil {
				f.acks <- m
			}
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// TestDevSocketMode: `firebreak dev --socket-mode` connects with SLACK_APP_TOKEN and answers a
// slash command that arrives over the socket, with every playbook's command in its help.
func TestDevSocketMode(t *testing.T) {
	state := t.TempDir()
	fake := newFakeSocketSlack(t, map[string]string{"command": "/firebreak", "text": "help", "user_id": "U0BOB", "channel_id": "C0SECOPS", "team_id": "T0FIREBREAK", "trigger_id": "trig-sm"})
	t.Setenv("FIREBREAK_STATE_DIR", state)
	t.Setenv("FIREBREAK_CODEC_KEY", "")
	t.Setenv("FIREBREAK_CONFIG", "")
	t.Setenv("SLACK_APP_TOKEN", "xapp-1-test")
	t.Setenv("SLACK_API_URL", fake.srv.URL+"/api/")
	ctx, cancel := context.WithCancel(context.Background())
	out := newWatchWriter()
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, out, io.Discard, devFlags{stateDir: state, listen: "127.0.0.1:0", temporalIP: "127.0.0.1", temporalPort: 0, logLevel: "error", socketMode: true})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("firebreak dev stopped with %v", err)
		}
	}()
	out.waitFor(t, regexp.MustCompile(`(Socket Mode on)`), done)
	select {
	case ack := <-fake.acks:
		payload, _ := json.Marshal(ack["payload"])
		if ack["envelope_id"] != "env-1" || !strings.Contains(string(payload), "/deprovision") || !strings.Contains(string(payload), "/revoke-dev") {
			t.Errorf("acknowledgement %v; want env-1 with the help listing every command", ack)
		}
	case err := <-done:
		t.Fatalf("firebreak dev exited: %v\n%s", err, out.String())
	case <-time.After(time.Minute):
		t.Fatalf("no acknowledgement over Socket Mode within a minute:\n%s", out.String())
	}
	if tok := <-fake.tokens; tok != "Bearer xapp-1-test" {
		t.Errorf("apps.connections.open authorised with %q; want the app-level token", tok)
	}
}

// Without an app-level token, --socket-mode is a usage error before anything starts.
func TestDevSocketModeNeedsAnAppToken(t *testing.T) {
	t.Setenv("SLACK_APP_TOKEN", "xoxb-not-an-app-token")
	t.Setenv("FIREBREAK_CONFIG", "")
	var stdout, stderr bytes.Buffer
	code := run([]string{"dev", "--socket-mode", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--temporal-port", "0"}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "xapp-") || !strings.Contains(stderr.String(), "a bot token (xoxb-)") || strings.Contains(stderr.String(), "xoxb-not") {
		t.Errorf("exit %d, stderr %q; want a usage error asking for an xapp- token without showing the one found", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "is running") {
		t.Errorf("dev started: %s", stdout.String())
	}
}

// `firebreak slack manifest` lists every command the playbooks declare; conflicting ones are
// refused.
func TestSlackManifestListsPlaybookCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"slack", "manifest", "--url", "https://fb.example.com"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, c := range []string{`"/deprovision"`, `"/lost-mfa"`, `"/revoke-dev"`, `"/firebreak"`} {
		if !strings.Contains(out.String(), c) {
			t.Errorf("manifest lacks %s:\n%s", c, out.String())
		}
	}
	dir := t.TempDir()
	src, err := os.ReadFile("../../playbooks/library/lost-mfa-device.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clash := strings.Replace(strings.Replace(string(src), "name: lost-mfa-device", "name: lost-mfa-clone", 1), "/lost-mfa", "/deprovision", 1)
	if err := os.WriteFile(filepath.Join(dir, "clone.yaml"), []byte(clash), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"slack", "manifest", "--playbooks", dir}, &out, &errb); code == exitOK || !strings.Contains(errb.String(), "/deprovision is claimed by 2 playbooks (emergency-deprovision, lost-mfa-clone)") {
		t.Errorf("conflicting commands: exit %d, stderr %q", code, errb.String())
	}
	// serve refuses to start with them, before connecting to anything.
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	errb.Reset()
	if code := run([]string{"serve", "--listen", "127.0.0.1:0", "--playbooks", dir}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "claimed by 2 playbooks") {
		t.Errorf("serve with conflicting commands: exit %d, stderr %q", code, errb.String())
	}
}

// `firebreak run --incident P` refuses to join the open run that holds P of another playbook,
// or of the same playbook with other inputs (saying which), and joins its own.
func TestRunIncidentRefusesAnotherPlaybooksRun(t *testing.T) {
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{Logger: newDiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString([]byte("run-join-test-key-0123456789abcd")))
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	conn, err := dialTemporal(ctx, settingsFrom(ctx), newDiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := lib.Get("emergency-deprovision")
	inputs, err := p.BindInputs(map[string]string{"subject": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	// The incident's run: no worker serves the queue here, so it stays open.
	id := workflows.IncidentWorkflowID("PJOIN1")
	first, err := conn.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING},
		workflows.Run, workflows.RunInput{Plan: *p, Inputs: inputs, Trigger: workflows.Trigger{Kind: "pagerduty", By: "pagerduty:PSVCDEV", At: time.Now().UTC()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compromised-dev-key", "subject=bob"}, exitUsage, "incident PJOIN1 already has run " + id},
		{[]string{"emergency-deprovision", "subject=alice"}, exitUsage, `of playbook emergency-deprovision with other inputs (subject: "bob" in the run, "alice" here); refusing to join it`},
		// Not only the subject: any bound input that differs is another response.
		{[]string{"emergency-deprovision", "subject=bob", "others=carol,dave"}, exitUsage, `(others: [] in the run, ["carol","dave"] here)`},
		// The reason only describes a run: another responder's words join it.
		{[]string{"emergency-deprovision", "subject=bob", "reason=seen in the SIEM too"}, exitOK, "run " + id + " (" + first.GetRunID() + ")"},
		{[]string{"emergency-deprovision", "subject=bob"}, exitOK, "run " + id + " (" + first.GetRunID() + ")"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"run"}, append(tc.args, "--incident", "PJOIN1", "--no-wait")...), &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run %v --incident PJOIN1: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
