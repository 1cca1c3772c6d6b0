package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// TestDrillCtrlCCancelsItsRunOnDev: Ctrl-C (SIGINT, as a terminal sends it) on a tabletop
// drill attached to a running `firebreak dev` cancels the drill's run — its task queue is the
// command's own, so it would be left with no worker — and says so. It used to leave the run
// "running" until it timed out, unannounced, minutes later. The drill runs as its own process
// (the built binary) so that the signal is a real one.
func TestDrillCtrlCCancelsItsRunOnDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds firebreak and signals it")
	}
	bin := filepath.Join(t.TempDir(), "firebreak")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building firebreak: %v\n%s", err, out)
	}
	t.Setenv("FIREBREAK_STATE_DIR", "")
	t.Setenv("FIREBREAK_CODEC_KEY", "")
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	devOut := newWatchWriter()
	devDone := make(chan error, 1)
	go func() {
		devDone <- runDev(ctx, devOut, io.Discard, devFlags{stateDir: state, listen: "127.0.0.1:0", temporalIP: "127.0.0.1", temporalPort: 0, logLevel: "error"})
	}()
	defer func() {
		cancel()
		select {
		case <-devDone:
		case <-time.After(time.Minute):
			t.Error("firebreak dev did not stop within a minute")
		}
	}()
	addr := devOut.waitFor(t, regexp.MustCompile(`export TEMPORAL_ADDRESS=(\S+) FIREBREAK_STATE_DIR=`), devDone)

	drill := exec.Command(bin, "drill", "run", "compromised-dev-key", "--evidence-dir", filepath.Join(t.TempDir(), "evidence"))
	drill.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+addr, "FIREBREAK_STATE_DIR="+state, "FIREBREAK_CODEC_KEY=", "FIREBREAK_CONFIG=", "HOME="+t.TempDir())
	out := newWatchWriter()
	drill.Stdout, drill.Stderr = out, out
	if err := drill.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- drill.Wait() }()
	// A named playbook drilled on a shared server is a tabletop: it waits for a participant.
	id := out.waitFor(t, regexp.MustCompile(`answer in Slack: /firebreak approve (\S+) step=`), exited)
	if err := drill.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	select {
	case err := <-exited:
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitFailed {
			t.Errorf("after Ctrl-C: %v; want exit 1 (the drill did not pass)\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		_ = drill.Process.Kill()
		t.Fatalf("the drill did not end within a minute of Ctrl-C:\n%s", out.String())
	}
	if want := "interrupted; run " + id + " was cancelled and has ended"; !strings.Contains(out.String(), want) {
		t.Errorf("after Ctrl-C the drill does not say %q:\n%s", want, out.String())
	}

	// Ask the dev server: the run is closed as cancelled, not left running with no worker.
	t.Setenv("TEMPORAL_ADDRESS", addr)
	t.Setenv("FIREBREAK_STATE_DIR", state)
	conn, err := connectTemporal(ctx, newDiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d, err := conn.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	// The run is closed as cancelled (not failed, not left running with no worker).
	if s := d.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("run %s is %s after Ctrl-C; want CANCELED", id, s)
	}
}
