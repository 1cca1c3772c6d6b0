package fakebase_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// echo is a fake whose protocol is to answer with the request body, after faults and failures.
func echo(t *testing.T, rec *fakebase.Recorder) *fakebase.Server {
	t.Helper()
	var srv *fakebase.Server
	srv = fakebase.Start(rec, "echo", func(r *http.Request, body []byte) string { return "op-" + strings.TrimPrefix(r.URL.Path, "/") }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if srv.Fault(w, r) {
			return
		}
		if status, ok := srv.Failing("op-" + strings.TrimPrefix(r.URL.Path, "/")); ok {
			w.WriteHeader(status)
			return
		}
		_, _ = io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerRecordsFaultsAndFailures(t *testing.T) {
	rec := &fakebase.Recorder{}
	srv := echo(t, rec)

	// A fault that reads the body and lets the request through leaves it whole for the fake.
	srv.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		b, _ := io.ReadAll(r.Body)
		if string(b) == "refuse" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	if status, body := post(t, srv.URL()+"/a", "hello"); status != 200 || body != "hello" {
		t.Errorf("through the fault: %d %q; expected 200 hello", status, body)
	}
	if status, _ := post(t, srv.URL()+"/a", "refuse"); status != http.StatusServiceUnavailable {
		t.Errorf("answered by the fault: %d; expected 503", status)
	}
	srv.SetFault(nil)

	// An op's own failure wins over the failure of every op; status 0 clears.
	srv.FailOp("", http.StatusBadGateway)
	srv.FailOp("op-b", http.StatusTooManyRequests)
	if status, _ := post(t, srv.URL()+"/b", "x"); status != http.StatusTooManyRequests {
		t.Errorf("op-b: %d; expected 429", status)
	}
	if status, _ := post(t, srv.URL()+"/c", "x"); status != http.StatusBadGateway {
		t.Errorf("op-c: %d; expected 502", status)
	}
	srv.FailOp("", 0)
	srv.FailOp("op-b", 0)
	if status, _ := post(t, srv.URL()+"/b", "x"); status != 200 {
		t.Errorf("op-b cleared: %d; expected 200", status)
	}

	calls := rec.Calls("echo")
	if len(calls) != 5 || calls[0].Op != "op-a" || calls[0].Body != "hello" || calls[1].Status != 503 || calls[2].Status != 429 {
		t.Errorf("recorded %+v; expected five calls, the first op-a with its body, then 503 and 429", calls)
	}
	if n := rec.Count("echo", "op-b"); n != 2 {
		t.Errorf("Count(echo, op-b) = %d; expected 2", n)
	}
}

func TestRecorderLatency(t *testing.T) {
	rec := &fakebase.Recorder{}
	srv := echo(t, rec)
	rec.SetLatency(40 * time.Millisecond)
	start := time.Now()
	post(t, srv.URL()+"/a", "x")
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("answered in %s; expected at least the 40ms latency", d)
	}
	if rec.Latency() != 40*time.Millisecond {
		t.Errorf("Latency() = %s", rec.Latency())
	}
}

func TestCountdown(t *testing.T) {
	c := fakebase.NewCountdown(2)
	got := []bool{c.Take(), c.Take(), c.Take()}
	if !got[0] || !got[1] || got[2] {
		t.Errorf("Take x3 = %v; expected true, true, false", got)
	}
	c.Set(1)
	if !c.Take() || c.Take() {
		t.Errorf("after Set(1): expected one true then false")
	}
}

func TestBucket(t *testing.T) {
	b := fakebase.NewBucket(fakebase.Rate{PerSecond: 10, Burst: 2})
	now := time.Now()
	ok1, _ := b.Take(now)
	ok2, _ := b.Take(now)
	ok3, wait := b.Take(now)
	if !ok1 || !ok2 || ok3 || wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("burst of 2 at 10/s: %v %v %v wait %s; expected two allowed, then a wait of at most 100ms", ok1, ok2, ok3, wait)
	}
	if ok, _ := b.Take(now.Add(100 * time.Millisecond)); !ok {
		t.Errorf("a token after 100ms at 10/s: refused")
	}
	if allowed, throttled := b.Counts(); allowed != 3 || throttled != 1 {
		t.Errorf("Counts = %d, %d; expected 3, 1", allowed, throttled)
	}
	if s := (fakebase.Rate{}).String(); s != "unlimited" {
		t.Errorf("zero Rate = %q", s)
	}
	if s := (fakebase.Rate{PerSecond: 20}).String(); s != "20/s burst 20" {
		t.Errorf("Rate{20} = %q", s)
	}
}
