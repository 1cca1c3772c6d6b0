package slackfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// Slack identities the sandbox answers auth.test with.
const (
	TeamID    = "T0EXAMPLE"
	BotUserID = "U0FIREBREAK"
	BotID     = "B0FIREBREAK"
)

// slackTSBase is the seconds part of the first message timestamp the sandbox hands out.
const slackTSBase = 1732370000

// Message is one message as the Slack sandbox stores it, for tests to inspect.
type Message struct {
	Channel  string          // channel ID
	TS       string          // the message timestamp, its ID within the channel
	ThreadTS string          // the parent's ts for a thread reply; empty for a top-level message
	User     string          // the posting user (the bot)
	Text     string          // current text
	Blocks   json.RawMessage // current Block Kit blocks, nil when none were sent
	Edits    int             // how many times chat.update changed it
	Metadata *Metadata       // message metadata, nil when none was sent
	Posted   time.Time       // when the sandbox received it (TS is synthetic, not a clock)
}

// Metadata is Slack message metadata: an event type and a JSON payload.
type Metadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// Slack is a loopback server speaking the subset of the Slack Web API that firebreak uses,
// as github.com/slack-go/slack sends it. Point a client at it with
// slack.New(s.BotToken(), slack.OptionAPIURL(s.URL()+"/api/")).
type Slack struct {
	*fakebase.Server
	org      *seed.Org
	token    string
	rateLeft fakebase.Countdown // calls still to answer 429

	mu         sync.Mutex
	seq        int64                 // last timestamp sequence handed out
	messages   map[string][]*Message // channel ID → messages in ts order
	retryAfter time.Duration
	errs       map[string]string // method → Slack error code to answer with
}

// New starts a Slack sandbox for org's channels and developers, recording calls in rec.
func New(org *seed.Org, rec *fakebase.Recorder) *Slack {
	s := &Slack{
		org:      org,
		token:    "xoxb-fbsandbox-" + fakebase.Canary + "-7c1e5a9d",
		messages: map[string][]*Message{},
		errs:     map[string]string{},
	}
	s.Server = fakebase.Start(rec, "slack", slackOp, http.HandlerFunc(s.serve))
	return s
}

// BotToken is the bot token the server accepts. It contains Canary.
func (s *Slack) BotToken() string { return s.token }

// FailMethod makes every call to the Web API method (for example "chat.postMessage", or ""
// for every method) answer with the HTTP status code until cleared with status 0.
func (s *Slack) FailMethod(method string, status int) { s.FailOp(method, status) }

// SetError makes every call to method answer HTTP 200 with {"ok":false,"error":code}, as
// Slack does for errors such as "not_in_channel", until cleared with an empty code.
func (s *Slack) SetError(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.errs, method)
		return
	}
	s.errs[method] = code
}

// RateLimit makes the next n calls answer HTTP 429 with a Retry-After header of retryAfter
// (whole seconds, at least one) and {"ok":false,"error":"ratelimited"}.
func (s *Slack) RateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLeft.Set(n)
	s.retryAfter = retryAfter
}

// Messages returns copies of the messages in channel (an ID or a name), top-level messages
// and thread replies alike, in timestamp order.
func (s *Slack) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.channelID(channel, true)
	if !ok {
		return nil
	}
	out := make([]Message, 0, len(s.messages[id]))
	for _, m := range s.messages[id] {
		out = append(out, slackCopyMessage(m))
	}
	return out
}

func slackCopyMessage(m *Message) Message {
	c := *m
	c.Blocks = append(json.RawMessage(nil), m.Blocks...)
	if m.Metadata != nil {
		md := *m.Metadata
		c.Metadata = &md
	}
	return c
}

// slackOp names a request by its Web API method, e.g. "chat.postMessage".
func slackOp(req *http.Request, _ []byte) string {
	return strings.TrimPrefix(req.URL.Path, "/api/")
}

// slackParams reads a request's parameters from its query and its form-encoded or JSON body.
// JSON values that are not strings are kept as their JSON text.
func slackParams(req *http.Request) (url.Values, error) {
	params := req.URL.Query()
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var body map[string]json.RawMessage
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			return nil, err
		}
		for k, raw := range body {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				params.Set(k, s)
			} else {
				params.Set(k, string(raw))
			}
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := req.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range req.PostForm {
			params[k] = v
		}
	}
	return params, nil
}

func slackFail(w http.ResponseWriter, code string) {
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
}

func slackOK(w http.ResponseWriter, body map[string]any) {
	body["ok"] = true
	fakebase.WriteJSON(w, http.StatusOK, body)
}

func (s *Slack) serve(w http.ResponseWriter, req *http.Request) {
	if !strings.HasPrefix(req.URL.Path, "/api/") {
		http.NotFound(w, req)
		return
	}
	method := strings.TrimPrefix(req.URL.Path, "/api/")

	if s.Fault(w, req) {
		return
	}
	req.Form, req.PostForm = nil, nil // parsed afresh, from the whole body

	status, faulty := s.Failing(method)
	limited := !faulty && s.rateLeft.Take()
	s.mu.Lock()
	retryAfter := s.retryAfter
	code := s.errs[method]
	s.mu.Unlock()

	switch {
	case faulty:
		fakebase.WriteJSON(w, status, map[string]any{"ok": false, "error": "fatal_error"})
		return
	case limited:
		secs := int((retryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		fakebase.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}

	params, err := slackParams(req)
	if err != nil {
		slackFail(w, "invalid_form_data")
		return
	}
	// slack-go sends the token as a form field for form posts and as a bearer header for
	// JSON and GET requests; Slack accepts either.
	token := params.Get("token")
	if h := req.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	if token == "" {
		slackFail(w, "not_authed")
		return
	}
	if token != s.token {
		slackFail(w, "invalid_auth")
		return
	}
	if code != "" {
		slackFail(w, code)
		return
	}

	switch method {
	case "auth.test":
		slackOK(w, map[string]any{
			"url": "https://example-co.slack.test/", "team": "Example Co", "user": "firebreak",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID,
		})
	case "chat.postMessage":
		s.postMessage(w, params)
	case "chat.update":
		s.update(w, params)
	case "conversations.history":
		s.history(w, params)
	case "conversations.replies":
		s.replies(w, params)
	case "conversations.list":
		s.list(w, params)
	case "users.lookupByEmail":
		s.lookupByEmail(w, params)
	case "users.info":
		s.userInfo(w, params)
	default:
		slackFail(w, "unknown_method")
	}
}

// channelID resolves a channel ID, or a name when byName is set, to the channel's ID.
// The caller holds s.mu.
func (s *Slack) channelID(ref string, byName bool) (string, bool) {
	name := strings.TrimPrefix(ref, "#")
	for _, c := range s.org.Channels {
		if c.ID == ref || (byName && c.Name == name) {
			return c.ID, true
		}
	}
	return "", false
}

// nextTS hands out strictly increasing timestamps like "1732370000.000100". The caller holds s.mu.
func (s *Slack) nextTS() string {
	s.seq += 100
	return fmt.Sprintf("%d.%06d", slackTSBase+s.seq/1_000_000, s.seq%1_000_000)
}

// find returns the message with ts in channel, or nil. The caller holds s.mu.
func (s *Slack) find(channel, ts string) *Message {
	for _, m := range s.messages[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

func slackBlocks(raw string) (json.RawMessage, bool) {
	if raw == "" {
		return nil, true
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, false
	}
	for _, b := range blocks {
		if t, _ := b["type"].(string); t == "" {
			return nil, false
		}
	}
	return json.RawMessage(raw), true
}

func slackParseMetadata(raw string) (*Metadata, bool) {
	if raw == "" {
		return nil, true
	}
	var md Metadata
	if err := json.Unmarshal([]byte(raw), &md); err != nil || md.EventType == "" {
		return nil, false
	}
	return &md, true
}

// slackMessageJSON renders m as a Slack message object. The caller holds s.mu.
func (s *Slack) slackMessageJSON(m *Message, withMetadata bool) map[string]any {
	out := map[string]any{
		"type": "message", "user": m.User, "bot_id": BotID, "app_id": "A0FIREBREAK",
		"text": m.Text, "ts": m.TS, "team": TeamID,
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
		out["parent_user_id"] = m.User
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if m.Edits > 0 {
		out["edited"] = map[string]any{"user": m.User, "ts": m.TS}
	}
	if withMetadata && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	if m.ThreadTS == "" {
		var replies []string
		latest := ""
		for _, r := range s.messages[m.Channel] {
			if r.ThreadTS == m.TS {
				replies = append(replies, r.TS)
				latest = r.TS
			}
		}
		if len(replies) > 0 {
			out["thread_ts"] = m.TS
			out["reply_count"] = len(replies)
			out["reply_users"] = []string{m.User}
			out["reply_users_count"] = 1
			out["latest_reply"] = latest
		}
	}
	return out
}

func (s *Slack) postMessage(w http.ResponseWriter, p url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelID(p.Get("channel"), true)
	if !ok {
		slackFail(w, "channel_not_found")
		return
	}
	blocks, ok := slackBlocks(p.Get("blocks"))
	if !ok {
		slackFail(w, "invalid_blocks")
		return
	}
	if p.Get("text") == "" && len(blocks) == 0 {
		slackFail(w, "no_text")
		return
	}
	md, ok := slackParseMetadata(p.Get("metadata"))
	if !ok {
		slackFail(w, "invalid_metadata_format")
		return
	}
	threadTS := p.Get("thread_ts")
	if threadTS != "" {
		parent := s.find(ch, threadTS)
		if parent == nil {
			slackFail(w, "thread_not_found")
			return
		}
		if parent.ThreadTS != "" { // a reply to a reply lands in the same thread
			threadTS = parent.ThreadTS
		}
	}
	m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: threadTS, User: BotUserID,
		Text: p.Get("text"), Blocks: blocks, Metadata: md, Posted: time.Now()}
	s.messages[ch] = append(s.messages[ch], m)
	slackOK(w, map[string]any{"channel": ch, "ts": m.TS, "message": s.slackMessageJSON(m, true)})
}

func (s *Slack) update(w http.ResponseWriter, p url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelID(p.Get("channel"), false)
	if !ok {
		slackFail(w, "channel_not_found")
		return
	}
	m := s.find(ch, p.Get("ts"))
	if m == nil {
		slackFail(w, "message_not_found")
		return
	}
	blocks, ok := slackBlocks(p.Get("blocks"))
	if !ok {
		slackFail(w, "invalid_blocks")
		return
	}
	md, ok := slackParseMetadata(p.Get("metadata"))
	if !ok {
		slackFail(w, "invalid_metadata_format")
		return
	}
	if p.Get("text") == "" && len(blocks) == 0 {
		slackFail(w, "no_text")
		return
	}
	m.Text = p.Get("text")
	if p.Has("blocks") {
		m.Blocks = blocks
	}
	if md != nil {
		m.Metadata = md
	}
	m.Edits++
	slackOK(w, map[string]any{"channel": ch, "ts": m.TS, "text": m.Text, "message": s.slackMessageJSON(m, true)})
}

// slackPage cuts items to one page by the limit and cursor params, returning the page and
// the cursor of the next one ("" when it is the last).
func slackPage[T any](items []T, p url.Values, def int) ([]T, string) {
	limit, err := strconv.Atoi(p.Get("limit"))
	if err != nil || limit <= 0 {
		limit = def
	}
	limit = min(limit, 1000)
	off := 0
	if c := p.Get("cursor"); c != "" {
		if b, err := base64.StdEncoding.DecodeString(c); err == nil {
			off, _ = strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		}
	}
	off = max(0, min(off, len(items)))
	end := min(off+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return items[off:end], next
}

func slackTrue(v string) bool { return v == "1" || v == "true" }

// slackInRange applies conversations.history's oldest/latest/inclusive bounds to ts.
func slackInRange(ts string, p url.Values) bool {
	incl := slackTrue(p.Get("inclusive"))
	f, _ := strconv.ParseFloat(ts, 64)
	if o := p.Get("oldest"); o != "" {
		of, _ := strconv.ParseFloat(o, 64)
		if f < of || (f == of && !incl) {
			return false
		}
	}
	if l := p.Get("latest"); l != "" {
		lf, _ := strconv.ParseFloat(l, 64)
		if f > lf || (f == lf && !incl) {
			return false
		}
	}
	return true
}

func (s *Slack) history(w http.ResponseWriter, p url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelID(p.Get("channel"), false)
	if !ok {
		slackFail(w, "channel_not_found")
		return
	}
	withMD := slackTrue(p.Get("include_all_metadata"))
	var top []map[string]any
	msgs := s.messages[ch]
	for i := len(msgs) - 1; i >= 0; i-- { // newest first, as Slack returns them
		m := msgs[i]
		if m.ThreadTS == "" && slackInRange(m.TS, p) {
			top = append(top, s.slackMessageJSON(m, withMD))
		}
	}
	page, next := slackPage(top, p, 100)
	if page == nil {
		page = []map[string]any{}
	}
	slackOK(w, map[string]any{"messages": page, "has_more": next != "", "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next}})
}

func (s *Slack) replies(w http.ResponseWriter, p url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channelID(p.Get("channel"), false)
	if !ok {
		slackFail(w, "channel_not_found")
		return
	}
	parent := s.find(ch, p.Get("ts"))
	if parent == nil {
		slackFail(w, "thread_not_found")
		return
	}
	root := parent.TS
	if parent.ThreadTS != "" {
		root = parent.ThreadTS
	}
	withMD := slackTrue(p.Get("include_all_metadata"))
	var thread []map[string]any
	for _, m := range s.messages[ch] { // oldest first, parent first
		if (m.TS == root || m.ThreadTS == root) && slackInRange(m.TS, p) {
			thread = append(thread, s.slackMessageJSON(m, withMD))
		}
	}
	page, next := slackPage(thread, p, 1000)
	if page == nil {
		page = []map[string]any{}
	}
	slackOK(w, map[string]any{"messages": page, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}})
}

func (s *Slack) list(w http.ResponseWriter, p url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var chans []map[string]any
	for _, c := range s.org.Channels {
		chans = append(chans, map[string]any{"id": c.ID, "name": c.Name, "is_channel": true,
			"is_member": true, "is_archived": false, "context_team_id": TeamID})
	}
	sort.Slice(chans, func(i, j int) bool { return chans[i]["id"].(string) < chans[j]["id"].(string) })
	page, next := slackPage(chans, p, 100)
	if page == nil {
		page = []map[string]any{}
	}
	slackOK(w, map[string]any{"channels": page, "response_metadata": map[string]any{"next_cursor": next}})
}

func slackUserJSON(d seed.Developer) map[string]any {
	realName := strings.ToUpper(d.Name[:1]) + d.Name[1:]
	return map[string]any{
		"id": d.SlackID, "team_id": TeamID, "name": d.Name, "real_name": realName,
		"deleted": false, "is_bot": false, "tz": "Europe/London",
		"profile": map[string]any{"email": d.Email, "real_name": realName, "display_name": d.Name, "team": TeamID},
	}
}

func (s *Slack) lookupByEmail(w http.ResponseWriter, p url.Values) {
	email := strings.ToLower(p.Get("email"))
	for _, d := range s.org.Developers {
		if strings.ToLower(d.Email) == email && d.SlackID != "" {
			slackOK(w, map[string]any{"user": slackUserJSON(d)})
			return
		}
	}
	slackFail(w, "users_not_found")
}

func (s *Slack) userInfo(w http.ResponseWriter, p url.Values) {
	for _, d := range s.org.Developers {
		if d.SlackID != "" && d.SlackID == p.Get("user") {
			slackOK(w, map[string]any{"user": slackUserJSON(d)})
			return
		}
	}
	slackFail(w, "user_not_found")
}
