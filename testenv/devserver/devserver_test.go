package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Test workflows and activities, shared with the benchmarks.

const (
	testTaskQueue    = "devserver-test"
	testResumeSignal = "resume"
)

// echoActivity returns its input; it stands in for any real activity.
func echoActivity(_ context.Context, in string) (string, error) { return in, nil }

func activityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
}

// oneActivityWorkflow runs one activity.
func oneActivityWorkflow(ctx workflow.Context, in string) (string, error) {
	var out string
	err := workflow.ExecuteActivity(activityCtx(ctx), echoActivity, in).Get(ctx, &out)
	return out, err
}

// tenActivitiesWorkflow runs ten activities one after the other.
func tenActivitiesWorkflow(ctx workflow.Context, in string) (string, error) {
	ctx = activityCtx(ctx)
	out := in
	for i := range 10 {
		if err := workflow.ExecuteActivity(ctx, echoActivity, fmt.Sprintf("%s-%d", in, i)).Get(ctx, &out); err != nil {
			return "", err
		}
	}
	return out, nil
}

// signalWorkflow runs an activity, waits for the resume signal, then runs an
// activity with the signal's payload.
func signalWorkflow(ctx workflow.Context, in string) (string, error) {
	ctx = activityCtx(ctx)
	var before, after, sig string
	if err := workflow.ExecuteActivity(ctx, echoActivity, in).Get(ctx, &before); err != nil {
		return "", err
	}
	workflow.GetSignalChannel(ctx, testResumeSignal).Receive(ctx, &sig)
	if err := workflow.ExecuteActivity(ctx, echoActivity, sig).Get(ctx, &after); err != nil {
		return "", err
	}
	return before + "+" + after, nil
}

// startServer starts a server and stops it when the test ends.
func startServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		tb.Fatalf("Start(%+v): %v", opts, err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("Stop: %v", err)
		}
	})
	return s
}

// discardLogger drops the SDK's logs (its default logger writes to stdout).
func discardLogger() *slog.Logger { return slog.New(discardHandler{}) }

// dialWorker connects a client to s and starts a worker with the test
// workflows registered. Both are closed when the test ends, or earlier by
// calling the returned stop function.
func dialWorker(tb testing.TB, s *Server) (client.Client, func()) {
	tb.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendHostPort(),
		Namespace: s.Namespace(),
		Logger:    sdklog.NewStructuredLogger(discardLogger()),
	})
	if err != nil {
		tb.Fatalf("dial %s: %v", s.FrontendHostPort(), err)
	}
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(oneActivityWorkflow)
	w.RegisterWorkflow(tenActivitiesWorkflow)
	w.RegisterWorkflow(signalWorkflow)
	w.RegisterActivity(echoActivity)
	if err := w.Start(); err != nil {
		c.Close()
		tb.Fatalf("start worker: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			w.Stop()
			c.Close()
		})
	}
	tb.Cleanup(stop)
	return c, stop
}

func runWorkflow(ctx context.Context, c client.Client, id string, wf any, in string) (string, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: testTaskQueue}, wf, in)
	if err != nil {
		return "", fmt.Errorf("start workflow %s: %w", id, err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		return "", fmt.Errorf("workflow %s: %w", id, err)
	}
	return out, nil
}

// TestStartRunStop starts several in-memory servers at once in this process,
// runs a workflow with a real SDK worker on each, and stops them.
func TestStartRunStop(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ns   string
	}{
		{name: "defaults", opts: Options{}, ns: "default"},
		{name: "named namespace", opts: Options{Namespace: "firebreak-test"}, ns: "firebreak-test"},
		{name: "with logger", opts: Options{Logger: discardLogger()}, ns: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tt.opts)
			if got := s.Namespace(); got != tt.ns {
				t.Errorf("Namespace() = %q, want %q", got, tt.ns)
			}
			host, port, err := net.SplitHostPort(s.FrontendHostPort())
			if err != nil || host != "127.0.0.1" || port == "0" {
				t.Fatalf("FrontendHostPort() = %q, want 127.0.0.1:<port> (err %v)", s.FrontendHostPort(), err)
			}
			c, _ := dialWorker(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := runWorkflow(ctx, c, "start-run-stop", oneActivityWorkflow, "hello")
			if err != nil {
				t.Fatal(err)
			}
			if out != "hello" {
				t.Errorf("workflow result = %q, want %q", out, "hello")
			}
		})
	}
}

// TestStopIdempotent checks that Stop can be called twice.
func TestStopIdempotent(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("first Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestRestartResumesWorkflow runs a workflow up to a signal wait on a
// file-backed server, restarts the server on the same file, signals, and
// expects the workflow to complete. A third start on the same file registers a
// new namespace in the existing database.
func TestRestartResumesWorkflow(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const id = "restart-resumes"

	// First life: start the workflow and wait until it blocks on the signal.
	s1, err := Start(ctx, Options{DBFile: dbFile})
	if err != nil {
		t.Fatalf("first start on new file: %v", err)
	}
	c1, stopWorker1 := dialWorker(t, s1)
	run, err := c1.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: testTaskQueue}, signalWorkflow, "before")
	if err != nil {
		t.Fatal(err)
	}
	waitForWorkflowTaskAfterActivity(ctx, t, c1, id, run.GetRunID())
	stopWorker1()
	if err := s1.Stop(); err != nil {
		t.Fatalf("stop first server: %v", err)
	}

	// Second life: same file, fresh server, client and worker.
	s2 := startServer(t, Options{DBFile: dbFile})
	c2, _ := dialWorker(t, s2)
	if err := c2.SignalWorkflow(ctx, id, run.GetRunID(), testResumeSignal, "after"); err != nil {
		t.Fatalf("signal after restart: %v", err)
	}
	var out string
	if err := c2.GetWorkflow(ctx, id, run.GetRunID()).Get(ctx, &out); err != nil {
		t.Fatalf("workflow after restart: %v", err)
	}
	if want := "before+after"; out != want {
		t.Errorf("workflow result = %q, want %q", out, want)
	}
	if err := s2.Stop(); err != nil {
		t.Fatalf("stop second server: %v", err)
	}

	// Third life: a namespace that the existing database does not have yet.
	s3 := startServer(t, Options{DBFile: dbFile, Namespace: "drills"})
	c3, _ := dialWorker(t, s3)
	resp, err := c3.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "drills"})
	if err != nil {
		t.Fatalf("describe namespace registered on existing DB: %v", err)
	}
	if got := resp.GetNamespaceInfo().GetState(); got != enumspb.NAMESPACE_STATE_REGISTERED {
		t.Errorf("namespace state = %v, want registered", got)
	}
}

// waitForWorkflowTaskAfterActivity long-polls the history until a workflow task
// completed after the first activity: the workflow is then parked on its
// signal wait.
func waitForWorkflowTaskAfterActivity(ctx context.Context, t *testing.T, c client.Client, id, runID string) {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, runID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	activityDone := false
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("read history of %s: %v", id, err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			activityDone = true
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			if activityDone {
				return
			}
		}
	}
	t.Fatalf("history of %s ended before the workflow waited for its signal", id)
}

// TestPortInUse checks the error for an occupied frontend port.
func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	addr := "127.0.0.1:" + strconv.Itoa(port)

	s, err := Start(context.Background(), Options{FrontendPort: port})
	if err == nil {
		_ = s.Stop()
		t.Fatalf("Start on occupied port %d succeeded, want error", port)
	}
	if !errors.Is(err, ErrAddressInUse) {
		t.Errorf("error %q does not wrap ErrAddressInUse", err)
	}
	for _, want := range []string{addr, "--temporal-port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestInvalidOptions checks that bad options fail before anything starts.
func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "not an IP", opts: Options{IP: "localhost"}, want: "not an IP address"},
		{name: "port out of range", opts: Options{FrontendPort: 70000}, want: "out of range"},
		{name: "missing directory", opts: Options{DBFile: filepath.Join(t.TempDir(), "nope", "temporal.db")}, want: "must exist"},
		{name: "directory as file", opts: Options{DBFile: t.TempDir()}, want: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(context.Background(), tt.opts)
			if err == nil {
				_ = s.Stop()
				t.Fatalf("Start(%+v) succeeded, want error containing %q", tt.opts, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start(%+v) error = %q, want it to contain %q", tt.opts, err, tt.want)
			}
		})
	}
}

// TestStartCanceledContext checks that a done context is honoured.
func TestStartCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with canceled context: err = %v, want context.Canceled", err)
	}
}
