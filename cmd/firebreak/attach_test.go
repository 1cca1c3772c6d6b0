package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDevPrintsTheAttachEnvironment: `firebreak dev` with a --state-dir of its own prints the
// exact line that attaches another terminal, and that line works; an attached command that
// finds no payload key names the state directory it looked in. The banner used to print only
// TEMPORAL_ADDRESS, so attaching failed ("no payload key") for any non-default state dir.
func TestDevPrintsTheAttachEnvironment(t *testing.T) {
	t.Setenv("FIREBREAK_STATE_DIR", "")
	t.Setenv("FIREBREAK_CODEC_KEY", "")
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // the default state dir is not the dev server's
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := newWatchWriter()
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, out, io.Discard, devFlags{stateDir: state, listen: "127.0.0.1:0", temporalIP: "127.0.0.1", temporalPort: 0, logLevel: "error"})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("firebreak dev did not stop within a minute")
		}
	}()
	line := out.waitFor(t, regexp.MustCompile(`(export TEMPORAL_ADDRESS=\S+ FIREBREAK_STATE_DIR=\S+)`), done)
	m := regexp.MustCompile(`TEMPORAL_ADDRESS=(\S+) FIREBREAK_STATE_DIR=(\S+)`).FindStringSubmatch(line)
	if m == nil || m[2] != state {
		t.Fatalf("attach line %q; want this dev server's address and state dir %s", line, state)
	}

	t.Setenv("TEMPORAL_ADDRESS", m[1])
	empty := t.TempDir()
	t.Setenv("FIREBREAK_STATE_DIR", empty)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"audit", "list"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "no payload key") || !strings.Contains(stderr.String(), empty) {
		t.Fatalf("without the key: exit %d, stderr %q; want 2 naming the state dir %s", code, stderr.String(), empty)
	}
	t.Setenv("FIREBREAK_STATE_DIR", m[2])
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"audit", "list"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("attached with the printed environment: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
