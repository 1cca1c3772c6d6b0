package iamfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// IAM is a loopback server speaking the AWS IAM Query API (Version 2010-05-08) as
// github.com/aws/aws-sdk-go-v2/service/iam sends it: form-encoded POSTs signed with SigV4,
// XML answers and AWS-shaped errors. It holds the users, access keys, login profiles, MFA
// devices, groups, inline policies and tags of an Org, and records every call.
//
// Any Active access key in the store authenticates (as in AWS), so a key deactivated through
// the API stops working against the sandbox too. The sandbox's own key, for firebreak's client,
// belongs to the service user "firebreak" and is given by AccessKeyID and SecretAccessKey.
type IAM struct {
	*fakebase.Server
	throttle fakebase.Countdown

	mu     sync.Mutex
	users  map[string]*iamUser
	groups map[string]iamGroup
	mfa    map[string]string // virtual MFA serial → assigned user name ("" when unassigned)
}

type iamUser struct {
	name, id string
	created  time.Time
	keys     []*iamKey
	login    *time.Time // login profile creation date; nil when the user has no console password
	mfa      []iamMFA
	groups   []string
	policies map[string]string // inline policy name → document (not encoded)
	tags     []iamTag
}

type iamKey struct {
	seed.IAMKey
	user string
}

type iamMFA struct {
	serial  string
	enabled time.Time
}

type iamTag struct{ key, value string }

type iamGroup struct {
	name, id string
	created  time.Time
}

// iamAccount is the fictional AWS account id of the sandbox.
const iamAccount = "000000000000"

// iamServiceUser is the IAM user the sandbox's own credentials belong to.
const iamServiceUser = "firebreak"

const (
	iamSandboxKeyID  = "AKFBSANDBOXFIREBREAK"
	iamSandboxSecret = "firebreak/" + fakebase.Canary + "/Sx2rT9pLq4vW7nY3kZ0"
	iamNamespace     = "https://iam.amazonaws.com/doc/2010-05-08/"
	iamTimeLayout    = "2006-01-02T15:04:05Z"
)

// New starts the IAM sandbox on 127.0.0.1, seeded with org's developers (users, keys,
// login profiles, MFA devices, groups). Calls are recorded in rec under service "iam" with the
// Action as op; rec may be nil. Call Close when done.
func New(org *seed.Org, rec *fakebase.Recorder) *IAM {
	s := &IAM{
		users:  map[string]*iamUser{},
		groups: map[string]iamGroup{},
		mfa:    map[string]string{},
	}
	day := 24 * time.Hour
	s.users[iamServiceUser] = &iamUser{
		name: iamServiceUser, id: iamUserID(iamServiceUser), created: seed.Epoch.Add(-500 * day),
		keys:     []*iamKey{{IAMKey: seed.IAMKey{ID: iamSandboxKeyID, Secret: iamSandboxSecret, Status: "Active", Created: seed.Epoch.Add(-500 * day)}, user: iamServiceUser}},
		policies: map[string]string{},
	}
	if org != nil {
		for _, d := range org.Developers {
			if d.NoIAMUser {
				continue // e.g. they reach AWS through IAM Identity Center
			}
			u := &iamUser{name: d.Name, id: iamUserID(d.Name), created: seed.Epoch.Add(-400 * day), policies: map[string]string{}}
			for _, k := range d.IAMKeys {
				u.keys = append(u.keys, &iamKey{IAMKey: k, user: d.Name})
			}
			if d.LoginProfile {
				t := seed.Epoch.Add(-300 * day)
				u.login = &t
			}
			for _, serial := range d.MFASerials {
				u.mfa = append(u.mfa, iamMFA{serial: serial, enabled: seed.Epoch.Add(-200 * day)})
				s.mfa[serial] = d.Name
			}
			for _, g := range d.Groups {
				u.groups = append(u.groups, g)
				if _, ok := s.groups[g]; !ok {
					s.groups[g] = iamGroup{name: g, id: iamPrincipalID("AGPA", g), created: seed.Epoch.Add(-600 * day)}
				}
			}
			sort.Strings(u.groups)
			s.users[d.Name] = u
		}
	}
	s.Server = fakebase.Start(rec, "iam", iamOpOf, http.HandlerFunc(s.serve))
	return s
}

// AccessKeyID is the access key id of the sandbox's own credentials, for firebreak's client.
func (s *IAM) AccessKeyID() string { return iamSandboxKeyID }

// SecretAccessKey is the secret of the sandbox's own credentials; it contains Canary.
func (s *IAM) SecretAccessKey() string { return iamSandboxSecret }

// AccountID is the fictional AWS account id of the sandbox.
func (s *IAM) AccountID() string { return iamAccount }

// Throttle makes the next n requests answer Throttling ("Rate exceeded", HTTP 400), as AWS
// does when a caller exceeds the IAM request rate.
func (s *IAM) Throttle(n int) { s.throttle.Set(n) }

// DenyAction makes every request for action (an IAM Action such as "UpdateAccessKey") answer
// AccessDenied as AWS does when the caller's policies do not allow it. It replaces any fault.
func (s *IAM) DenyAction(action string) {
	s.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.FormValue("Action") != action {
			return false
		}
		msg := fmt.Sprintf("User: arn:aws:iam::%s:user/%s is not authorized to perform: iam:%s on resource: user %s because no identity-based policy allows the iam:%s action",
			iamAccount, iamServiceUser, action, r.FormValue("UserName"), action)
		WriteError(w, "AccessDenied", msg)
		return true
	})
}

// WriteError writes an IAM Query API error response with the HTTP status AWS uses for code
// (NoSuchEntity 404, LimitExceeded and DeleteConflict 409, AccessDenied and the credential
// errors 403, ServiceFailure 500, ServiceUnavailable 503, everything else 400).
func WriteError(w http.ResponseWriter, code, message string) {
	status := http.StatusBadRequest
	switch code {
	case "NoSuchEntity":
		status = http.StatusNotFound
	case "LimitExceeded", "DeleteConflict", "EntityAlreadyExists", "ConcurrentModification":
		status = http.StatusConflict
	case "AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken", "IncompleteSignature":
		status = http.StatusForbidden
	case "ServiceFailure":
		status = http.StatusInternalServerError
	case "ServiceUnavailable":
		status = http.StatusServiceUnavailable
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	var b strings.Builder
	b.WriteString(`<ErrorResponse xmlns="` + iamNamespace + `"><Error><Type>` + typ + `</Type>`)
	iamElem(&b, "Code", code)
	iamElem(&b, "Message", message)
	b.WriteString(`</Error>`)
	id := iamRequestID()
	iamElem(&b, "RequestId", id)
	b.WriteString(`</ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// KeyStatus returns the status ("Active" or "Inactive") of user's access key keyID, or false
// when there is no such key.
func (s *IAM) KeyStatus(user, keyID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[user]; ok {
		if k := u.key(keyID); k != nil {
			return k.Status, true
		}
	}
	return "", false
}

// KeySecret returns the secret access key of keyID, whoever owns it, or false.
func (s *IAM) KeySecret(keyID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.findKey(keyID); k != nil {
		return k.Secret, true
	}
	return "", false
}

// AccessKeyIDs returns the ids of user's access keys in creation order.
func (s *IAM) AccessKeyIDs(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if u, ok := s.users[user]; ok {
		for _, k := range u.keys {
			out = append(out, k.ID)
		}
	}
	return out
}

// UserPolicy returns the document of user's inline policy name as it was put (not URL-encoded).
func (s *IAM) UserPolicy(user, name string) (doc string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, found := s.users[user]; found {
		doc, ok = u.policies[name]
	}
	return doc, ok
}

// HasLoginProfile reports whether user has a console password.
func (s *IAM) HasLoginProfile(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
	return ok && u.login != nil
}

// MFASerials returns the serial numbers of the MFA devices assigned to user.
func (s *IAM) MFASerials(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if u, ok := s.users[user]; ok {
		for _, m := range u.mfa {
			out = append(out, m.serial)
		}
	}
	return out
}

// VirtualMFADeviceExists reports whether the virtual MFA device serial still exists (assigned
// or not).
func (s *IAM) VirtualMFADeviceExists(serial string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.mfa[serial]
	return ok
}

// Groups returns the sorted names of the groups user belongs to.
func (s *IAM) Groups(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[user]; ok {
		return append([]string(nil), u.groups...)
	}
	return nil
}

// UserTags returns user's tags.
func (s *IAM) UserTags(user string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if u, ok := s.users[user]; ok {
		for _, t := range u.tags {
			out[t.key] = t.value
		}
	}
	return out
}

func (u *iamUser) key(id string) *iamKey {
	for _, k := range u.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func (s *IAM) findKey(id string) *iamKey {
	for _, u := range s.users {
		if k := u.key(id); k != nil {
			return k
		}
	}
	return nil
}

func iamOpOf(_ *http.Request, body []byte) string {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return v.Get("Action")
}

// iamRequest is one parsed call: its parameters, the authenticated caller and the response
// being built.
type iamRequest struct {
	form   url.Values
	caller string
	w      http.ResponseWriter
}

func (s *IAM) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		WriteError(w, "InvalidInput", "could not read the request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	// Parse the form by hand: r.ParseForm would insist on a Content-Type, and the headers
	// must stay as signed.
	r.PostForm = url.Values{}
	if r.Method == http.MethodPost {
		if v, err := url.ParseQuery(string(body)); err == nil {
			r.PostForm = v
		}
	}
	r.Form = url.Values{}
	for k, v := range r.URL.Query() {
		r.Form[k] = append(r.Form[k], v...)
	}
	for k, v := range r.PostForm {
		r.Form[k] = append(r.Form[k], v...)
	}

	// Faults come after the form is parsed, so a fault can use r.FormValue("Action").
	throttled := s.throttle.Take()
	if s.Fault(w, r) {
		return
	}
	if throttled {
		WriteError(w, "Throttling", "Rate exceeded")
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		WriteError(w, "InvalidAction", "IAM accepts only POST and GET requests")
		return
	}
	caller, code, msg := s.authenticate(r, body)
	if code != "" {
		WriteError(w, code, msg)
		return
	}
	action := r.Form.Get("Action")
	if v := r.Form.Get("Version"); v != "2010-05-08" {
		WriteError(w, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v))
		return
	}
	handler, ok := iamActions[action]
	if !ok {
		WriteError(w, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2010-05-08", action))
		return
	}
	req := &iamRequest{form: r.Form, caller: caller, w: w}
	s.mu.Lock()
	result, e := handler(s, req)
	s.mu.Unlock()
	if e != nil {
		WriteError(w, e.code, e.msg)
		return
	}
	var b strings.Builder
	b.WriteString(`<` + action + `Response xmlns="` + iamNamespace + `">`)
	if result != nil {
		b.WriteString(`<` + action + `Result>` + *result + `</` + action + `Result>`)
	}
	id := iamRequestID()
	b.WriteString(`<ResponseMetadata><RequestId>` + id + `</RequestId></ResponseMetadata></` + action + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	_, _ = io.WriteString(w, b.String())
}

// authenticate checks the SigV4 Authorization header: a known, Active access key and a
// signature computed with its secret over the canonical request. It returns the user the
// key belongs to, or an error code and message as AWS words them.
func (s *IAM) authenticate(r *http.Request, body []byte) (caller, code, msg string) {
	const invalid = "The security token included in the request is invalid."
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", "MissingAuthenticationToken", "Request is missing Authentication Token"
	}
	const algo = "AWS4-HMAC-SHA256"
	if !strings.HasPrefix(auth, algo+" ") {
		return "", "IncompleteSignature", "Authorization header requires the AWS4-HMAC-SHA256 algorithm"
	}
	parts := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(auth, algo+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = v
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || parts["SignedHeaders"] == "" || parts["Signature"] == "" {
		return "", "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters, Credential as KEY/DATE/REGION/SERVICE/aws4_request"
	}
	s.mu.Lock()
	var secret string
	if k := s.findKey(scope[0]); k != nil && k.Status == "Active" {
		secret, caller = k.Secret, k.user
	}
	s.mu.Unlock()
	if caller == "" {
		return "", "InvalidClientTokenId", invalid
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, scope[1]) {
		return "", "IncompleteSignature", "X-Amz-Date header missing or not on the credential scope's date"
	}
	// AWS refuses signatures more than 15 minutes away from its clock.
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return "", "IncompleteSignature", "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'"
	}
	if now := time.Now().UTC(); signedAt.Before(now.Add(-15*time.Minute)) || signedAt.After(now.Add(15*time.Minute)) {
		return "", "SignatureDoesNotMatch", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-15*time.Minute).Format("20060102T150405Z"), now.Format("20060102T150405Z"))
	}

	// The canonical request, per the SigV4 specification.
	signed := strings.Split(parts["SignedHeaders"], ";")
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(iamCanonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = r.Header.Get("Content-Length")
			if v == "" {
				v = strconv.FormatInt(r.ContentLength, 10)
			}
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		canon.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canon.WriteString("\n" + parts["SignedHeaders"] + "\n")
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	canon.WriteString(payload)
	canonSum := sha256.Sum256([]byte(canon.String()))
	credScope := strings.Join(scope[1:], "/")
	toSign := algo + "\n" + amzDate + "\n" + credScope + "\n" + hex.EncodeToString(canonSum[:])
	key := []byte("AWS4" + secret)
	for _, p := range scope[1:] {
		key = iamHMAC(key, p)
	}
	want := hex.EncodeToString(iamHMAC(key, toSign))
	if !hmac.Equal([]byte(want), []byte(parts["Signature"])) {
		return "", "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	}
	return caller, "", ""
}

func iamHMAC(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func iamCanonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, iamURIEncode(k)+"="+iamURIEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// iamURIEncode percent-encodes everything but RFC 3986 unreserved characters, as AWS does
// both for SigV4 and for policy documents it returns.
func iamURIEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func iamRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// iamUserID makes a stable 21-character unique id for a user, shaped like AWS's AIDA… ids.
func iamUserID(name string) string { return iamPrincipalID("AIDA", name) }

func iamPrincipalID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	id := []byte(prefix)
	for i := 0; len(id) < 21; i++ {
		id = append(id, alphabet[sum[i]%32])
	}
	return string(id)
}

func iamRandom(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func iamElem(b *strings.Builder, name, value string) {
	b.WriteString("<" + name + ">")
	iamXMLEscape(b, value)
	b.WriteString("</" + name + ">")
}

func iamXMLEscape(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}

func iamTime(t time.Time) string { return t.UTC().Format(iamTimeLayout) }

// iamErr is an AWS error code and message.
type iamErr struct{ code, msg string }

func iamNoUser(name string) *iamErr {
	return &iamErr{"NoSuchEntity", fmt.Sprintf("The user with name %s cannot be found.", name)}
}

func iamMissing(param string) *iamErr {
	return &iamErr{"ValidationError", fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", strings.ToLower(param[:1])+param[1:])}
}

var (
	iamNamePattern     = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	iamTagKeyPattern   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	iamTagValuePattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// user resolves the UserName parameter, defaulting to the caller as AWS does.
func (s *IAM) user(req *iamRequest) (*iamUser, *iamErr) {
	name := req.form.Get("UserName")
	if name == "" {
		name = req.caller
	}
	if !iamNamePattern.MatchString(name) {
		return nil, &iamErr{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)}
	}
	u, ok := s.users[name]
	if !ok {
		return nil, iamNoUser(name)
	}
	return u, nil
}

// namedUser resolves the UserName a call must name (not defaulting to the caller).
func (s *IAM) namedUser(req *iamRequest) (*iamUser, *iamErr) {
	if e := s.required(req, "UserName"); e != nil {
		return nil, e
	}
	return s.user(req)
}

// userPolicy resolves UserName and the PolicyName of an inline policy the user has, checked
// in the order AWS checks them.
func (s *IAM) userPolicy(req *iamRequest) (*iamUser, string, *iamErr) {
	if e := s.required(req, "UserName"); e != nil {
		return nil, "", e
	}
	name, e := s.policyName(req)
	if e != nil {
		return nil, "", e
	}
	u, e := s.user(req)
	if e != nil {
		return nil, "", e
	}
	if _, ok := u.policies[name]; !ok {
		return nil, "", &iamErr{"NoSuchEntity", fmt.Sprintf("The user policy with name %s cannot be found.", name)}
	}
	return u, name, nil
}

func (s *IAM) required(req *iamRequest, params ...string) *iamErr {
	for _, p := range params {
		if req.form.Get(p) == "" {
			return iamMissing(p)
		}
	}
	return nil
}

// iamPage applies MaxItems and Marker to a list of n items: it returns the half-open range of
// items to answer and the IsTruncated (and, when truncated, Marker) elements to follow them.
func iamPage(req *iamRequest, n int) (lo, hi int, tail string, e *iamErr) {
	limit := 100
	if v := req.form.Get("MaxItems"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 || m > 1000 {
			return 0, 0, "", &iamErr{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)}
		}
		limit = m
	}
	if v := req.form.Get("Marker"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 0 || m > n {
			return 0, 0, "", &iamErr{"ValidationError", "Invalid Marker."}
		}
		lo = m
	}
	hi = min(lo+limit, n)
	if hi < n {
		return lo, hi, "<IsTruncated>true</IsTruncated><Marker>" + strconv.Itoa(hi) + "</Marker>", nil
	}
	return lo, hi, "<IsTruncated>false</IsTruncated>", nil
}

func iamResult(b *strings.Builder) (*string, *iamErr) {
	s := b.String()
	return &s, nil
}

// iamList answers a List action: the page of items the request asks for (iamPage), each
// written by member inside <wrapper>, then IsTruncated and Marker.
func iamList[T any](req *iamRequest, wrapper string, items []T, member func(b *strings.Builder, x T)) (*string, *iamErr) {
	lo, hi, tail, e := iamPage(req, len(items))
	if e != nil {
		return nil, e
	}
	var b strings.Builder
	b.WriteString("<" + wrapper + ">")
	for _, x := range items[lo:hi] {
		member(&b, x)
	}
	b.WriteString("</" + wrapper + ">" + tail)
	return iamResult(&b)
}

// iamMember writes one <member> of a list with the elements name, value, name, value…
func iamMember(b *strings.Builder, elems ...string) {
	b.WriteString("<member>")
	for i := 0; i+1 < len(elems); i += 2 {
		iamElem(b, elems[i], elems[i+1])
	}
	b.WriteString("</member>")
}

func iamTagMember(b *strings.Builder, t iamTag) { iamMember(b, "Key", t.key, "Value", t.value) }

// iamActions maps each supported Action to its handler, called with s.mu held. A nil result
// means the response has no Result element (as for AWS's mutating calls).
var iamActions = map[string]func(s *IAM, req *iamRequest) (*string, *iamErr){
	"GetUser":                (*IAM).iamGetUser,
	"ListAccessKeys":         (*IAM).iamListAccessKeys,
	"GetAccessKeyLastUsed":   (*IAM).iamGetAccessKeyLastUsed,
	"UpdateAccessKey":        (*IAM).iamUpdateAccessKey,
	"CreateAccessKey":        (*IAM).iamCreateAccessKey,
	"DeleteAccessKey":        (*IAM).iamDeleteAccessKey,
	"GetLoginProfile":        (*IAM).iamGetLoginProfile,
	"DeleteLoginProfile":     (*IAM).iamDeleteLoginProfile,
	"ListMFADevices":         (*IAM).iamListMFADevices,
	"DeactivateMFADevice":    (*IAM).iamDeactivateMFADevice,
	"DeleteVirtualMFADevice": (*IAM).iamDeleteVirtualMFADevice,
	"ListGroupsForUser":      (*IAM).iamListGroupsForUser,
	"RemoveUserFromGroup":    (*IAM).iamRemoveUserFromGroup,
	"PutUserPolicy":          (*IAM).iamPutUserPolicy,
	"GetUserPolicy":          (*IAM).iamGetUserPolicy,
	"ListUserPolicies":       (*IAM).iamListUserPolicies,
	"DeleteUserPolicy":       (*IAM).iamDeleteUserPolicy,
	"TagUser":                (*IAM).iamTagUser,
	"ListUserTags":           (*IAM).iamListUserTags,
}

func (s *IAM) iamGetUser(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	var b strings.Builder
	b.WriteString("<User>")
	iamElem(&b, "Path", "/")
	iamElem(&b, "UserName", u.name)
	iamElem(&b, "UserId", u.id)
	iamElem(&b, "Arn", "arn:aws:iam::"+iamAccount+":user/"+u.name)
	iamElem(&b, "CreateDate", iamTime(u.created))
	if len(u.tags) > 0 {
		b.WriteString("<Tags>")
		for _, t := range u.tags {
			iamTagMember(&b, t)
		}
		b.WriteString("</Tags>")
	}
	b.WriteString("</User>")
	return iamResult(&b)
}

func (s *IAM) iamListAccessKeys(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	return iamList(req, "AccessKeyMetadata", u.keys, func(b *strings.Builder, k *iamKey) {
		iamMember(b, "UserName", u.name, "AccessKeyId", k.ID, "Status", k.Status, "CreateDate", iamTime(k.Created))
	})
}

func (s *IAM) iamGetAccessKeyLastUsed(req *iamRequest) (*string, *iamErr) {
	if e := s.required(req, "AccessKeyId"); e != nil {
		return nil, e
	}
	k := s.findKey(req.form.Get("AccessKeyId"))
	if k == nil {
		return nil, &iamErr{"NoSuchEntity", fmt.Sprintf("The Access Key with id %s cannot be found.", req.form.Get("AccessKeyId"))}
	}
	var b strings.Builder
	iamElem(&b, "UserName", k.user)
	b.WriteString("<AccessKeyLastUsed>")
	if k.LastUsed.IsZero() {
		iamElem(&b, "ServiceName", "N/A")
		iamElem(&b, "Region", "N/A")
	} else {
		iamElem(&b, "LastUsedDate", iamTime(k.LastUsed))
		iamElem(&b, "ServiceName", k.LastService)
		iamElem(&b, "Region", k.LastRegion)
	}
	b.WriteString("</AccessKeyLastUsed>")
	return iamResult(&b)
}

// userKey resolves UserName (defaulting to the caller) and AccessKeyId.
func (s *IAM) userKey(req *iamRequest) (*iamUser, *iamKey, *iamErr) {
	if e := s.required(req, "AccessKeyId"); e != nil {
		return nil, nil, e
	}
	u, e := s.user(req)
	if e != nil {
		return nil, nil, e
	}
	id := req.form.Get("AccessKeyId")
	k := u.key(id)
	if k == nil {
		return nil, nil, &iamErr{"NoSuchEntity", fmt.Sprintf("The Access Key with id %s cannot be found.", id)}
	}
	return u, k, nil
}

func (s *IAM) iamUpdateAccessKey(req *iamRequest) (*string, *iamErr) {
	if e := s.required(req, "AccessKeyId", "Status"); e != nil {
		return nil, e
	}
	status := req.form.Get("Status")
	if status != "Active" && status != "Inactive" {
		return nil, &iamErr{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]", status)}
	}
	_, k, e := s.userKey(req)
	if e != nil {
		return nil, e
	}
	k.Status = status
	return nil, nil
}

func (s *IAM) iamCreateAccessKey(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	if len(u.keys) >= 2 {
		return nil, &iamErr{"LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"}
	}
	k := &iamKey{IAMKey: seed.IAMKey{
		ID:      "AKFB" + iamRandom(16),
		Secret:  fakebase.Canary + "/" + iamRandom(31),
		Status:  "Active",
		Created: time.Now().UTC().Truncate(time.Second),
	}, user: u.name}
	u.keys = append(u.keys, k)
	var b strings.Builder
	b.WriteString("<AccessKey>")
	iamElem(&b, "UserName", u.name)
	iamElem(&b, "AccessKeyId", k.ID)
	iamElem(&b, "Status", k.Status)
	iamElem(&b, "SecretAccessKey", k.Secret)
	iamElem(&b, "CreateDate", iamTime(k.Created))
	b.WriteString("</AccessKey>")
	return iamResult(&b)
}

func (s *IAM) iamDeleteAccessKey(req *iamRequest) (*string, *iamErr) {
	u, k, e := s.userKey(req)
	if e != nil {
		return nil, e
	}
	for i, x := range u.keys {
		if x == k {
			u.keys = append(u.keys[:i], u.keys[i+1:]...)
			break
		}
	}
	return nil, nil
}

func (s *IAM) iamGetLoginProfile(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	if u.login == nil {
		return nil, &iamErr{"NoSuchEntity", fmt.Sprintf("Login Profile for User %s cannot be found.", u.name)}
	}
	var b strings.Builder
	b.WriteString("<LoginProfile>")
	iamElem(&b, "UserName", u.name)
	iamElem(&b, "CreateDate", iamTime(*u.login))
	iamElem(&b, "PasswordResetRequired", "false")
	b.WriteString("</LoginProfile>")
	return iamResult(&b)
}

func (s *IAM) iamDeleteLoginProfile(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	if u.login == nil {
		return nil, &iamErr{"NoSuchEntity", fmt.Sprintf("Login Profile for User %s cannot be found.", u.name)}
	}
	u.login = nil
	return nil, nil
}

func (s *IAM) iamListMFADevices(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	return iamList(req, "MFADevices", u.mfa, func(b *strings.Builder, m iamMFA) {
		iamMember(b, "UserName", u.name, "SerialNumber", m.serial, "EnableDate", iamTime(m.enabled))
	})
}

func (s *IAM) iamDeactivateMFADevice(req *iamRequest) (*string, *iamErr) {
	if e := s.required(req, "SerialNumber"); e != nil {
		return nil, e
	}
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	serial := req.form.Get("SerialNumber")
	for i, m := range u.mfa {
		if m.serial == serial {
			u.mfa = append(u.mfa[:i], u.mfa[i+1:]...)
			s.mfa[serial] = ""
			return nil, nil
		}
	}
	return nil, &iamErr{"NoSuchEntity", fmt.Sprintf("MFA Device with serial number %s does not exist.", serial)}
}

func (s *IAM) iamDeleteVirtualMFADevice(req *iamRequest) (*string, *iamErr) {
	if e := s.required(req, "SerialNumber"); e != nil {
		return nil, e
	}
	serial := req.form.Get("SerialNumber")
	owner, ok := s.mfa[serial]
	if !ok {
		return nil, &iamErr{"NoSuchEntity", fmt.Sprintf("VirtualMFADevice with serial number %s doesn't exist.", serial)}
	}
	if owner != "" {
		return nil, &iamErr{"DeleteConflict", "MFA Device is still in use."}
	}
	delete(s.mfa, serial)
	return nil, nil
}

func (s *IAM) iamListGroupsForUser(req *iamRequest) (*string, *iamErr) {
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	return iamList(req, "Groups", u.groups, func(b *strings.Builder, name string) {
		g := s.groups[name]
		iamMember(b, "Path", "/", "GroupName", g.name, "GroupId", g.id, "Arn", "arn:aws:iam::"+iamAccount+":group/"+g.name, "CreateDate", iamTime(g.created))
	})
}

func (s *IAM) iamRemoveUserFromGroup(req *iamRequest) (*string, *iamErr) {
	if e := s.required(req, "GroupName", "UserName"); e != nil {
		return nil, e
	}
	group := req.form.Get("GroupName")
	if _, ok := s.groups[group]; !ok {
		return nil, &iamErr{"NoSuchEntity", fmt.Sprintf("The group with name %s cannot be found.", group)}
	}
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	for i, g := range u.groups {
		if g == group {
			u.groups = append(u.groups[:i], u.groups[i+1:]...)
			break
		}
	}
	return nil, nil
}

func (s *IAM) policyName(req *iamRequest) (string, *iamErr) {
	if e := s.required(req, "PolicyName"); e != nil {
		return "", e
	}
	name := req.form.Get("PolicyName")
	if !iamNamePattern.MatchString(name) {
		return "", &iamErr{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)}
	}
	return name, nil
}

func (s *IAM) iamPutUserPolicy(req *iamRequest) (*string, *iamErr) {
	if e := s.required(req, "UserName", "PolicyName", "PolicyDocument"); e != nil {
		return nil, e
	}
	name, e := s.policyName(req)
	if e != nil {
		return nil, e
	}
	u, e := s.user(req)
	if e != nil {
		return nil, e
	}
	doc := req.form.Get("PolicyDocument")
	var parsed struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil || len(parsed.Statement) == 0 {
		return nil, &iamErr{"MalformedPolicyDocument", "Syntax errors in policy."}
	}
	total := len(doc)
	for n, d := range u.policies {
		if n != name {
			total += len(d)
		}
	}
	if total > 2048 {
		return nil, &iamErr{"LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user " + u.name}
	}
	u.policies[name] = doc
	return nil, nil
}

func (s *IAM) iamGetUserPolicy(req *iamRequest) (*string, *iamErr) {
	u, name, e := s.userPolicy(req)
	if e != nil {
		return nil, e
	}
	doc := u.policies[name]
	var b strings.Builder
	iamElem(&b, "UserName", u.name)
	iamElem(&b, "PolicyName", name)
	iamElem(&b, "PolicyDocument", iamURIEncode(doc))
	return iamResult(&b)
}

func (s *IAM) iamListUserPolicies(req *iamRequest) (*string, *iamErr) {
	u, e := s.namedUser(req)
	if e != nil {
		return nil, e
	}
	names := make([]string, 0, len(u.policies))
	for n := range u.policies {
		names = append(names, n)
	}
	sort.Strings(names)
	return iamList(req, "PolicyNames", names, func(b *strings.Builder, n string) { iamElem(b, "member", n) })
}

func (s *IAM) iamDeleteUserPolicy(req *iamRequest) (*string, *iamErr) {
	u, name, e := s.userPolicy(req)
	if e != nil {
		return nil, e
	}
	delete(u.policies, name)
	return nil, nil
}

func (s *IAM) iamTagUser(req *iamRequest) (*string, *iamErr) {
	u, e := s.namedUser(req)
	if e != nil {
		return nil, e
	}
	var tags []iamTag
	for i := 1; ; i++ {
		p := "Tags.member." + strconv.Itoa(i) + "."
		k, ok := req.form[p+"Key"]
		if !ok {
			break
		}
		tags = append(tags, iamTag{key: k[0], value: req.form.Get(p + "Value")})
	}
	if len(tags) == 0 {
		return nil, iamMissing("Tags")
	}
	merged := append([]iamTag(nil), u.tags...)
	for _, t := range tags {
		if !iamTagKeyPattern.MatchString(t.key) || len(t.key) > 128 || len(t.value) > 256 || !iamTagValuePattern.MatchString(t.value) {
			return nil, &iamErr{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'tags' failed to satisfy constraint: keys must be 1 to 128 characters and values at most 256, matching [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]", t.key)}
		}
		if strings.HasPrefix(strings.ToLower(t.key), "aws:") {
			return nil, &iamErr{"InvalidInput", "Tag keys starting with 'aws:' are reserved for AWS use."}
		}
		// IAM user tag keys are case-insensitive but case-preserving: Department then
		// department replaces the first tag (IAM User Guide, "Rules for tagging").
		replaced := false
		for i := range merged {
			if strings.EqualFold(merged[i].key, t.key) {
				merged[i] = t
				replaced = true
			}
		}
		if !replaced {
			merged = append(merged, t)
		}
	}
	if len(merged) > 50 {
		return nil, &iamErr{"LimitExceeded", "The number of tags has reached the maximum limit."}
	}
	u.tags = merged
	return nil, nil
}

func (s *IAM) iamListUserTags(req *iamRequest) (*string, *iamErr) {
	u, e := s.namedUser(req)
	if e != nil {
		return nil, e
	}
	return iamList(req, "Tags", u.tags, iamTagMember)
}
