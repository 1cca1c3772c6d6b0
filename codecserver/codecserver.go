// Package codecserver serves Temporal's remote codec protocol (POST …/decode and, when asked
// for, …/encode, with a JSON Payloads body) with firebreak's payload codec, so the Temporal
// Web UI and the temporal CLI can show decrypted run histories to the people allowed to read
// them, and to nobody else.
//
// A request is authenticated in one of four ways, in this order:
//
//   - dev: no credentials at all, for a loopback-only server beside `firebreak dev`; the
//     caller and the Host it asked for must both be loopback;
//   - a static bearer token, for scripts (codec.server_token);
//   - an OIDC access token, a JWT the Web UI passes as "Authorization: Bearer …" when its
//     codec setting "pass access token" is on: issuer, audience, expiry and signature are
//     checked against the issuer's JWKS, and the user must be in an allowed group or have an
//     allowed email;
//   - an authenticating proxy's identity headers (oauth2-proxy and the like, with the Web UI's
//     "include cross-origin credentials" sending the proxy's cookie), trusted only from the
//     proxy's addresses; the same group and email rules apply.
//
// Every request must name a Temporal namespace (X-Namespace, which the Web UI and the CLI
// send) that the server serves; /encode is refused unless enabled. Each decode is logged with
// who asked, for which namespace, and the runs and steps the decoded payloads name: the Web UI
// sends no workflow id, so the log names what the payloads themselves identify.
package codecserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// MaxRequest bounds a codec request body: Temporal payloads are at most a few MiB, and a page
// of history holds a bounded number of them.
const MaxRequest = 32 << 20

// Identity is who a request comes from.
type Identity struct {
	Method  string   `json:"method"` // dev | token | oidc | proxy
	Subject string   `json:"subject,omitempty"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// Authentication methods.
const (
	MethodDev   = "dev"
	MethodToken = "token"
	MethodOIDC  = "oidc"
	MethodProxy = "proxy"
)

// String names the person (or script) for a log line.
func (id Identity) String() string {
	switch {
	case id.Email != "" && id.Subject != "" && id.Email != id.Subject:
		return id.Email + " (" + id.Subject + ")"
	case id.Email != "":
		return id.Email
	case id.Subject != "":
		return id.Subject
	}
	return id.Method
}

// Proxy trusts an authenticating reverse proxy's identity headers.
type Proxy struct {
	// UserHeader carries the user's email or name (e.g. X-Forwarded-Email); required.
	UserHeader string
	// GroupsHeader carries the user's groups, comma-separated (e.g. X-Forwarded-Groups).
	GroupsHeader string
	// Trusted are the proxy's addresses; a request from anywhere else has its headers
	// ignored. Empty: loopback only.
	Trusted []netip.Prefix
}

// Options configure a codec server.
type Options struct {
	Codec converter.PayloadCodec
	// Namespaces are the Temporal namespaces whose payloads the server decodes; a request
	// must name one of them in X-Namespace.
	Namespaces []string
	// CORSOrigins may call the server from a browser (the Web UI's origin, e.g.
	// https://temporal.example.com). In Dev mode every loopback origin may.
	CORSOrigins []string
	// AllowEncode enables /encode. Off, nobody can mint ciphertext that workers would accept.
	AllowEncode bool
	// Token is a static bearer token for scripts ("" disables it).
	Token string
	// OIDC validates access tokens (nil disables it).
	OIDC *OIDCVerifier
	// Proxy trusts an authenticating proxy (nil disables it).
	Proxy *Proxy
	// AllowedGroups and AllowedEmails say which OIDC or proxy users may decode; at least one
	// must be set when OIDC or Proxy is.
	AllowedGroups, AllowedEmails []string
	// Dev serves loopback callers with no credentials; the listener must be loopback too
	// (CheckDevListen).
	Dev bool
	// Log receives one line per decode (the audit trail of reads) and per refusal; nil
	// discards them.
	Log *slog.Logger
}

// Errors a caller of New can test for.
var (
	ErrNoNamespace = errors.New("codecserver: no namespace configured: expected at least one Temporal namespace to serve")
	ErrNoAuth      = errors.New("codecserver: no way to authenticate callers: expected a token, an OIDC issuer, a trusted proxy, or dev mode")
	ErrNoAllowList = errors.New("codecserver: OIDC or proxy users are configured but nobody is allowed: expected allowed groups or allowed emails")
)

type server struct {
	o       Options
	tokenH  [sha256.Size]byte
	origins map[string]bool
	log     *slog.Logger
}

// New returns the codec server's handler.
func New(o Options) (http.Handler, error) {
	switch {
	case o.Codec == nil:
		return nil, errors.New("codecserver: no codec")
	case len(o.Namespaces) == 0:
		return nil, ErrNoNamespace
	case !o.Dev && o.Token == "" && o.OIDC == nil && o.Proxy == nil:
		return nil, ErrNoAuth
	case !o.Dev && (o.OIDC != nil || o.Proxy != nil) && len(o.AllowedGroups) == 0 && len(o.AllowedEmails) == 0:
		return nil, ErrNoAllowList
	case o.Proxy != nil && o.Proxy.UserHeader == "":
		return nil, errors.New("codecserver: a trusted proxy needs the header that carries the user")
	}
	s := &server{o: o, origins: map[string]bool{}, log: o.Log}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Token != "" {
		s.tokenH = sha256.Sum256([]byte(o.Token))
	}
	for _, origin := range o.CORSOrigins {
		if err := CheckOrigin(origin); err != nil {
			return nil, err
		}
		s.origins[origin] = true
	}
	return s, nil
}

// CheckOrigin reports whether origin is a browser origin: scheme and host, no path.
func CheckOrigin(origin string) error {
	scheme, rest, ok := strings.Cut(origin, "://")
	if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#") {
		return fmt.Errorf("codecserver: CORS origin %q: expected scheme and host such as https://temporal.example.com (no path, no trailing slash)", origin)
	}
	return nil
}

// CheckDevListen refuses a dev-mode listen address that is not loopback: a server that
// decrypts for anyone must be reachable only from this machine.
func CheckDevListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: expected host:port: %w", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("listen address %q: dev mode needs no credentials, so it listens on loopback only: expected 127.0.0.1, ::1 or localhost, found %q", addr, host)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

func remoteAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// refusal is a request refused with status and a message saying what was expected.
type refusal struct {
	status int
	msg    string
}

func (e *refusal) Error() string { return e.msg }

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, msg: fmt.Sprintf(format, args...)}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && s.allowOrigin(origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
		h.Set("Access-Control-Max-Age", "600")
		h.Add("Vary", "Origin")
		// Browsers send no credentials on a preflight; it reveals nothing.
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	op, err := s.serve(w, r)
	if err != nil {
		var rf *refusal
		if !errors.As(err, &rf) {
			rf = refuse(http.StatusBadRequest, "%v", err)
		}
		if rf.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak-codec"`)
		}
		s.log.Warn("codec request refused", "path", r.URL.Path, "namespace", r.Header.Get("X-Namespace"), "who", op.who(), "remote", r.RemoteAddr, "status", rf.status, "reason", rf.msg)
		http.Error(w, rf.msg, rf.status)
		return
	}
	s.log.Info("codec "+op.verb, "who", op.id.String(), "auth", op.id.Method, "groups", op.id.Groups, "namespace", op.namespace,
		"payloads", op.payloads, "runs", op.refs.workflows, "steps", op.refs.keys, "remote", r.RemoteAddr)
}

// op is what one request did, for the log.
type op struct {
	verb      string
	id        *Identity
	namespace string
	payloads  int
	refs      refs
}

func (o op) who() string {
	if o.id == nil {
		return "-"
	}
	return o.id.String()
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) (op, error) {
	var o op
	switch {
	case r.Method != http.MethodPost:
		return o, refuse(http.StatusMethodNotAllowed, "expected POST /decode or /encode, found %s", r.Method)
	case strings.HasSuffix(r.URL.Path, "/decode"):
		o.verb = "decode"
	case strings.HasSuffix(r.URL.Path, "/encode"):
		o.verb = "encode"
	default:
		return o, refuse(http.StatusNotFound, "expected POST /decode or /encode, found %s", r.URL.Path)
	}
	id, err := s.authenticate(r)
	if err != nil {
		return o, err
	}
	o.id = &id
	if err := s.authorise(id); err != nil {
		return o, err
	}
	ns := r.Header.Get("X-Namespace")
	switch {
	case ns == "":
		return o, refuse(http.StatusBadRequest, "missing X-Namespace header: expected one of the namespaces this server serves (%s)", strings.Join(s.o.Namespaces, ", "))
	case !slices.Contains(s.o.Namespaces, ns):
		return o, refuse(http.StatusForbidden, "namespace %q is not served here: expected one of %s", ns, strings.Join(s.o.Namespaces, ", "))
	}
	o.namespace = ns
	if o.verb == "encode" && !s.o.AllowEncode {
		return o, refuse(http.StatusForbidden, "/encode is off: it would let callers make ciphertext that workers accept; start the server with --allow-encode (codec.server.allow_encode) if a tool needs it")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequest))
	if err != nil {
		return o, refuse(http.StatusRequestEntityTooLarge, "reading the request: %v (at most %d bytes)", err, MaxRequest)
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(body, &in); err != nil {
		return o, refuse(http.StatusBadRequest, "expected a JSON Payloads body ({\"payloads\":[…]}): %v", err)
	}
	var out []*commonpb.Payload
	if o.verb == "decode" {
		out, err = s.codecFor(o.namespace).Decode(in.GetPayloads())
		o.refs = refsOf(out)
	} else {
		out, err = s.codecFor(o.namespace).Encode(in.GetPayloads())
	}
	if err != nil {
		return o, refuse(http.StatusBadRequest, "%s: %v", o.verb, err)
	}
	o.payloads = len(out)
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		return o, refuse(http.StatusInternalServerError, "encoding the response: %v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	return o, nil
}

func (s *server) allowOrigin(origin string) bool {
	if s.origins[origin] {
		return true
	}
	if !s.o.Dev {
		return false
	}
	_, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	host, _, err := net.SplitHostPort(rest)
	if err != nil {
		host = rest
	}
	return loopbackHost(host)
}

func (s *server) authenticate(r *http.Request) (Identity, error) {
	if s.o.Dev {
		// The Host check defeats DNS rebinding: a page on another site that resolves its own
		// name to 127.0.0.1 still sends its own name as Host.
		addr, ok := remoteAddr(r)
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !ok || !addr.IsLoopback() || !loopbackHost(host) {
			return Identity{}, refuse(http.StatusForbidden, "dev mode serves loopback callers only: found caller %s asking for host %q", r.RemoteAddr, r.Host)
		}
		return Identity{Method: MethodDev, Subject: "local user (dev mode)"}, nil
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		raw, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || raw == "" {
			return Identity{}, refuse(http.StatusUnauthorized, "Authorization header: expected \"Bearer <token>\"")
		}
		if s.o.Token != "" {
			got := sha256.Sum256([]byte(raw))
			if subtle.ConstantTimeCompare(got[:], s.tokenH[:]) == 1 {
				return Identity{Method: MethodToken, Subject: "static token"}, nil
			}
		}
		if s.o.OIDC == nil {
			return Identity{}, refuse(http.StatusUnauthorized, "bearer token refused: expected the codec server token (codec.server_token)")
		}
		id, err := s.o.OIDC.Verify(r.Context(), raw)
		if err != nil {
			return Identity{}, refuse(http.StatusUnauthorized, "access token refused: %v", err)
		}
		return id, nil
	}
	if p := s.o.Proxy; p != nil {
		user := strings.TrimSpace(r.Header.Get(p.UserHeader))
		addr, ok := remoteAddr(r)
		trusted := ok && (addr.IsLoopback() && len(p.Trusted) == 0 || slices.ContainsFunc(p.Trusted, func(pf netip.Prefix) bool { return pf.Contains(addr) }))
		switch {
		case user != "" && !trusted:
			return Identity{}, refuse(http.StatusUnauthorized, "%s from %s ignored: expected it only from the authenticating proxy", p.UserHeader, r.RemoteAddr)
		case user != "":
			id := Identity{Method: MethodProxy, Subject: user}
			if strings.Contains(user, "@") {
				id.Email = user
			}
			if p.GroupsHeader != "" {
				id.Groups = splitList(r.Header.Get(p.GroupsHeader))
			}
			return id, nil
		}
	}
	return Identity{}, refuse(http.StatusUnauthorized, "no credentials: expected %s", s.expected())
}

func (s *server) expected() string {
	var ways []string
	if s.o.OIDC != nil {
		ways = append(ways, "an OIDC access token (Authorization: Bearer, the Web UI's \"pass access token\")")
	}
	if s.o.Proxy != nil {
		ways = append(ways, "the authenticating proxy's "+s.o.Proxy.UserHeader+" header")
	}
	if s.o.Token != "" {
		ways = append(ways, "Authorization: Bearer <codec server token>")
	}
	return strings.Join(ways, " or ")
}

func (s *server) authorise(id Identity) error {
	switch id.Method {
	case MethodDev, MethodToken:
		return nil
	}
	if id.Email != "" && slices.ContainsFunc(s.o.AllowedEmails, func(e string) bool { return strings.EqualFold(e, id.Email) }) {
		return nil
	}
	for _, g := range id.Groups {
		if slices.Contains(s.o.AllowedGroups, g) {
			return nil
		}
	}
	return refuse(http.StatusForbidden, "%s (groups: %s) may not read payloads: expected membership of %s or an email in %s",
		id, orNone(id.Groups), orNone(s.o.AllowedGroups), orNone(s.o.AllowedEmails))
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// refs are the runs and steps that decoded payloads name.
type refs struct {
	workflows []string
	keys      []string
}

const maxRefs = 20

// refsOf reads the identifiers firebreak's payloads carry: a run's workflow_id (run results
// and statuses) and activities' idempotency keys (which name the run and the step). Values
// are never logged.
func refsOf(payloads []*commonpb.Payload) refs {
	var r refs
	for _, p := range payloads {
		if string(p.GetMetadata()["encoding"]) != "json/plain" {
			continue
		}
		var v struct {
			WorkflowID     string `json:"workflow_id"`
			IdempotencyKey string `json:"idempotency_key"`
		}
		if json.Unmarshal(p.GetData(), &v) != nil {
			continue
		}
		if v.WorkflowID != "" && !slices.Contains(r.workflows, v.WorkflowID) && len(r.workflows) < maxRefs {
			r.workflows = append(r.workflows, v.WorkflowID)
		}
		if v.IdempotencyKey != "" && !slices.Contains(r.keys, v.IdempotencyKey) && len(r.keys) < maxRefs {
			r.keys = append(r.keys, v.IdempotencyKey)
		}
	}
	return r
}

// namespaced is a codec that binds ciphertexts to a Temporal namespace
// (workflows.Codec.Reader is one).
type namespaced interface {
	ForNamespace(ns string) converter.PayloadCodec
}

// codecFor returns the codec for the request's namespace: payloads sealed for another
// namespace do not decode here, and what /encode seals is bound to ns.
func (s *server) codecFor(ns string) converter.PayloadCodec {
	if n, ok := s.o.Codec.(namespaced); ok {
		return n.ForNamespace(ns)
	}
	return s.o.Codec
}
