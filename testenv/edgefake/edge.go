package edgefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// Edge is the sandbox's edge API — a WAF block list, as an http.request target: POST
// /v1/blocklist {"ip","reason"} adds a rule (idempotent by Idempotency-Key), GET
// /v1/blocklist/{ip} reads it. Every request needs the bearer token, which contains Canary.
type Edge struct {
	*fakebase.Server
	mu    sync.Mutex
	rules map[string]EdgeRule // by ip
	keys  map[string]string   // idempotency key → ip
}

// EdgeRule is one block-list entry.
type EdgeRule struct {
	ID     string `json:"id"`
	IP     string `json:"ip"`
	Reason string `json:"reason"`
}

// edgeToken is the edge API's credential, held by firebreak's configuration only.
const edgeToken = "edge-" + fakebase.Canary + "-7f3a"

// New starts the edge API on loopback.
func New(rec *fakebase.Recorder) *Edge {
	e := &Edge{rules: map[string]EdgeRule{}, keys: map[string]string{}}
	e.Server = fakebase.Start(rec, "edge", nil, http.HandlerFunc(e.serve))
	return e
}

// Token is the bearer token the edge API requires.
func (e *Edge) Token() string { return edgeToken }

// Blocked lists the blocked addresses, sorted.
func (e *Edge) Blocked() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for ip := range e.rules {
		out = append(out, ip)
	}
	sort.Strings(out)
	return out
}

func (e *Edge) serve(w http.ResponseWriter, r *http.Request) {
	if !fakebase.BearerAuthorized(w, r, edgeToken) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/blocklist":
		var in EdgeRule
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.IP == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"expected {\"ip\": ..., \"reason\": ...}"}`)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if ip, ok := e.keys[key]; ok && key != "" {
			_ = json.NewEncoder(w).Encode(e.rules[ip]) // a replay: 200 with the rule it made
			return
		}
		in.ID = fmt.Sprintf("rule-%d", len(e.rules)+1)
		e.rules[in.IP] = in
		e.keys[key] = in.IP
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(in)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/blocklist/"):
		rule, ok := e.rules[strings.TrimPrefix(r.URL.Path, "/v1/blocklist/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not blocked"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(rule)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"no such endpoint"}`)
	}
}
