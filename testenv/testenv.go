// Package testenv is firebreak's sandbox: loopback HTTP servers that speak the wire protocols
// of Vault, AWS IAM, Slack and PagerDuty well enough that the unmodified vendor SDK clients
// work against them, seeded with a small fictional organisation and recording every call.
//
// Every piece of secret material the sandbox holds or creates contains Canary, so tests can
// scan workflow history, logs and outbound chat for leaks.
package testenv

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Canary is the marker contained in every secret value the sandbox seeds or mints.
const Canary = "fbcanary"

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

// Wrap returns h with every request recorded under service. opOf names the operation of a
// request whose body has already been read into body; it may be nil.
func (r *Recorder) Wrap(service string, opOf func(req *http.Request, body []byte) string, h http.Handler) http.Handler {
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

// ContainsCanary reports whether s holds the sandbox's canary marker.
func ContainsCanary(s string) bool { return strings.Contains(s, Canary) }
