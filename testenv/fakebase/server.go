package fakebase

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// FaultFunc is a fault hook: it is called for a request before the fake answers it, and when
// it returns true it has written the whole answer and the fake does nothing more.
type FaultFunc func(w http.ResponseWriter, r *http.Request) bool

// Server is a fake's loopback HTTP server: its lifecycle, the fault hook a test or drill
// installs (SetFault) and the operations it makes fail (FailOp). The fake embeds it and
// decides where in its protocol faults apply, by calling Fault and Failing.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	fault    FaultFunc
	failures map[string]int // op ("" for every op) → HTTP status to answer with
}

// Start starts h on 127.0.0.1, with every request recorded in rec under service (in a
// Recorder of its own when rec is nil) and named by opOf (which may be nil).
func Start(rec *Recorder, service string, opOf OpFunc, h http.Handler) *Server {
	if rec == nil {
		rec = &Recorder{}
	}
	s := &Server{failures: map[string]int{}}
	s.srv = httptest.NewServer(rec.Wrap(service, opOf, h))
	return s
}

// URL is the server's base URL, e.g. http://127.0.0.1:12345.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetFault installs f, called for every request (after recording) where the fake takes
// faults: first for most fakes, after the form is parsed for IAM. When f returns true it has
// written the whole answer and the fake does nothing more. It may read the request body: the
// fake reads it afresh afterwards. nil removes it.
func (s *Server) SetFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Fault runs the installed fault hook, if any, and reports whether it answered r. The
// request body is whole again afterwards, whatever the hook read.
func (s *Server) Fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := s.fault
	s.mu.Unlock()
	if f == nil {
		return false
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if f(w, r) {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return false
}

// FailOp makes every request of op (as the Recorder names it, or "" for every request)
// answer with the HTTP status code, in the fake's error form, until cleared with status 0.
func (s *Server) FailOp(op string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.failures, op)
		return
	}
	s.failures[op] = status
}

// Failing returns the status FailOp set for op, or else for every op, and whether one is set.
func (s *Server) Failing(op string) (status int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status, ok = s.failures[op]; !ok {
		status, ok = s.failures[""]
	}
	return status, ok
}

// WriteJSON answers with status and body as JSON (application/json; charset=utf-8).
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// BearerAuthorized reports whether r carries "Authorization: Bearer token"; when it does not,
// it has answered 401 with {"error": …}, as the sandbox's plain HTTP APIs do.
func BearerAuthorized(w http.ResponseWriter, r *http.Request, token string) bool {
	if r.Header.Get("Authorization") == "Bearer "+token {
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, `{"error":"missing or wrong bearer token"}`)
	return false
}
