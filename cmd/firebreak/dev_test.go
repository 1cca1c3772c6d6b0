package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/drills"
)

// watchWriter is an io.Writer whose content a test can wait on without polling.
type watchWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchWriter() *watchWriter { return &watchWriter{changed: make(chan struct{}, 1)} }

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return w.buf.Write(p)
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor returns the first submatch of re once the output matches it.
func (w *watchWriter) waitFor(t *testing.T, re *regexp.Regexp, done <-chan error) string {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m[1]
		}
		select {
		case <-w.changed:
		case err := <-done:
			t.Fatalf("firebreak dev exited early (%v):\n%s", err, w.String())
		case <-deadline:
			t.Fatalf("timed out waiting for %s in:\n%s", re, w.String())
		}
	}
}

// TestDevServesDrillsAndSurvivesRestart starts `firebreak dev` on free ports, checks /healthz,
// runs a drill attached to it through TEMPORAL_ADDRESS, stops it, and starts it again on the
// same state directory: the persisted server comes back with the earlier run in its history.
func TestDevServesDrillsAndSurvivesRestart(t *testing.T) {
	state := t.TempDir()
	// A state dir left world-readable (an older version, a umask) is made the owner's only.
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIREBREAK_STATE_DIR", state)
	t.Setenv("FIREBREAK_CODEC_KEY", "")
	start := func() (addr, httpAddr string, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		out := newWatchWriter()
		done := make(chan error, 1)
		go func() {
			done <- runDev(ctx, out, io.Discard, devFlags{stateDir: state, listen: "127.0.0.1:0", temporalIP: "127.0.0.1", temporalPort: 0, logLevel: "error"})
		}()
		addr = out.waitFor(t, regexp.MustCompile(`Temporal\s+(\S+)`), done)
		httpAddr = out.waitFor(t, regexp.MustCompile(`HTTP\s+http://(\S+)/healthz`), done)
		return addr, httpAddr, func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("firebreak dev stopped with %v", err)
				}
			case <-time.After(time.Minute):
				t.Error("firebreak dev did not stop within a minute of Ctrl-C")
			}
		}
	}

	addr, httpAddr, stop := start()
	resp, err := http.Get("http://" + httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || health["status"] != "ok" {
		t.Fatalf("healthz: %d %v", resp.StatusCode, health)
	}

	t.Setenv("TEMPORAL_ADDRESS", addr)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"drill", "run", "compromised-dev-key", "--auto-approve", "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("attached drill: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var out struct{ Drills []drills.Scorecard }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out.Drills) != 1 {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	stop()
	if _, err := os.Stat(filepath.Join(state, "temporal.db")); err != nil {
		t.Fatalf("no SQLite database in the state dir: %v", err)
	}
	assertPrivate(t, state, 0o700)
	for _, f := range []string{"temporal.db", "codec.key", decisionKeyFile, "evidence-head.key", "dev-slack-signing-secret", "evidence/evidence.jsonl", "evidence/" + evidence.HeadFileName} {
		if _, err := os.Stat(filepath.Join(state, f)); err == nil {
			assertPrivate(t, filepath.Join(state, f), 0o600)
		}
	}

	addr, _, stop = start()
	defer stop()
	t.Setenv("TEMPORAL_ADDRESS", addr)
	conn, err := dialTemporal(context.Background(), envSettings(), newDiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	events, err := conn.DecodeEvents(context.Background(), out.Drills[0].WorkflowID, out.Drills[0].RunID)
	if err != nil || len(events) == 0 {
		t.Fatalf("the drill's history did not survive the restart: %v", err)
	}
}

func newDiscardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
