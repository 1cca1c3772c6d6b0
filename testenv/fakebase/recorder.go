// Package fakebase is what every sandbox fake is built on, so that a fake is its protocol
// and nothing else: the loopback server and its lifecycle (Server), the fault hook and
// per-operation failures, call recording and added latency (Recorder), token-bucket rate
// limits (Bucket), and the canary every secret the sandbox holds contains (Canary).
package fakebase

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Call is one request the sandbox received.
type Call struct {
	Service string    // "vault", "iam", "slack", "pagerduty"
	Method  string    // HTTP method
	Path    string    // URL path
	Op      string    // the operation: IAM Action, Slack method, or "METHOD path" for REST
	Status  int       // HTTP status returned
	Body    string    // request body as received (may contain secrets for vault/iam writes)
	At      time.Time // when the request arrived
}

// Recorder keeps every call made to the sandbox, in arrival order. It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
	// latency is added to every request of every service that records here (SetLatency).
	latency atomic.Int64
}

// Calls returns a copy of the recorded calls, optionally only those of one service.
func (r *Recorder) Calls(service string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if service == "" || c.Service == service {
			out = append(out, c)
		}
	}
	return out
}

// Count returns how many calls of service had the given op.
func (r *Recorder) Count(service, op string) int {
	n := 0
	for _, c := range r.Calls(service) {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Reset forgets every recorded call.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

// OpFunc names the operation of a request whose body has already been read into body, as the
// Recorder records it (an IAM Action, a Slack method); "" falls back to "METHOD path".
type OpFunc func(req *http.Request, body []byte) string

// Wrap returns h with every request recorded under service, after the latency SetLatency
// installed. opOf may be nil.
func (r *Recorder) Wrap(service string, opOf OpFunc, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 4<<20))
		req.Body = io.NopCloser(bytes.NewReader(body))
		op := req.Method + " " + req.URL.Path
		if opOf != nil {
			if o := opOf(req, body); o != "" {
				op = o
			}
		}
		at := time.Now()
		if !r.delay(req) {
			return // the caller gave up while the request was on the wire
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, req)
		r.mu.Lock()
		r.calls = append(r.calls, Call{Service: service, Method: req.Method, Path: req.URL.Path, Op: op, Status: sw.status, Body: string(body), At: at})
		r.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}
