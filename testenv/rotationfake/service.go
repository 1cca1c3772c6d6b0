package rotationfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// ServiceName is the name firebreak's configuration gives the sandbox's SecretService
// (http_services), as secrets marked firebreak-rotate: service:payments-admin/… name it.
const ServiceName = "payments-admin"

// SecretService is the sandbox's stand-in for an internal admin API that rotates the
// credentials it issues (a payments team's Stripe key): POST /rotate/{credential} with
// {"mount","path","version","idempotency_key"} revokes the credential's current value, issues
// a new one and answers 200 {"data": {field: value}}; a repeated idempotency key is answered
// with the values it issued then. Unknown credentials answer 404 {"error": …}. Every request
// needs the bearer token, which contains Canary.
type SecretService struct {
	*fakebase.Server
	mu   sync.Mutex
	live map[string]secretServiceCred // credential → current value
	keys map[string]map[string]any    // idempotency key → answer
	// Refuse makes the service answer every rotation with this status and error (a fault).
	refuse int
}

type secretServiceCred struct {
	field, value string
	rotations    int
}

const secretServiceToken = "padmin-" + fakebase.Canary + "-91c2"

// New starts the service with one credential, "stripe", whose field api_key
// holds value (the value seeded in Vault).
func New(rec *fakebase.Recorder, stripeKey string) *SecretService {
	s := &SecretService{live: map[string]secretServiceCred{"stripe": {field: "api_key", value: stripeKey}}, keys: map[string]map[string]any{}}
	s.Server = fakebase.Start(rec, ServiceName, nil, http.HandlerFunc(s.serve))
	return s
}

// Token is the bearer token the service requires.
func (s *SecretService) Token() string { return secretServiceToken }

// Valid reports whether value is the credential's current value: what the service accepts.
func (s *SecretService) Valid(credential, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.live[credential]
	return ok && c.value == value
}

// Rotations returns how many times the credential was rotated.
func (s *SecretService) Rotations(credential string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[credential].rotations
}

// RefuseRotations makes every rotation answer status (0: answer normally again).
func (s *SecretService) RefuseRotations(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = status
}

func (s *SecretService) serve(w http.ResponseWriter, r *http.Request) {
	if !fakebase.BearerAuthorized(w, r, secretServiceToken) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	name, ok := strings.CutPrefix(r.URL.Path, "/rotate/")
	if r.Method != http.MethodPost || !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"no such endpoint; expected POST /rotate/{credential}"}`)
		return
	}
	var in struct {
		Mount, Path    string
		Version        int
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Path == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"expected {\"mount\", \"path\", \"version\", \"idempotency_key\"}"}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != 0 {
		w.WriteHeader(s.refuse)
		fmt.Fprintf(w, `{"error":"rotation of %s refused: the credential is locked by its owner"}`, name)
		return
	}
	c, ok := s.live[name]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no credential %q here"}`, name)
		return
	}
	key := in.IdempotencyKey
	if ans, ok := s.keys[key]; ok && key != "" {
		_ = json.NewEncoder(w).Encode(map[string]any{"data": ans})
		return
	}
	c.value = fakebase.NewCanaryValue("sk_test_", "_", 12)
	c.rotations++
	s.live[name] = c
	ans := map[string]any{c.field: c.value}
	if key != "" {
		s.keys[key] = ans
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": ans})
}
