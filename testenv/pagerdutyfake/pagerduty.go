package pagerdutyfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// The PagerDuty sandbox's seeded escalation policy and schedule: developers in the IAM group
// "security" are on call on both.
const (
	EscalationPolicyID = "PEPSEC1"
	ScheduleID         = "PSCHSEC1"
	// ManagersPolicyID is a second escalation policy (two levels, like the first) that
	// incidents can be re-assigned to.
	ManagersPolicyID = "PEPMGR1"
)

// pdPolicies are the sandbox's escalation policies by id; each has pdPolicyLevels levels.
var pdPolicies = map[string]string{EscalationPolicyID: "Security On-Call", ManagersPolicyID: "Security Managers"}

const pdPolicyLevels = 2

// The PagerDuty sandbox's service user that firebreak acts as (the From header of its writes),
// beside the org's developers.
const (
	BotEmail  = "firebreak@example.test"
	BotUserID = "PFBBOT1"
)

// pdBot is the sandbox's service user as a Developer, so it is found like the others.
var pdBot = seed.Developer{Name: "firebreak", Email: BotEmail, PagerDutyID: BotUserID}

// Note is one incident note as the PagerDuty sandbox stores it.
type Note struct {
	ID        string
	UserID    string // the PagerDuty user ID of the author, from the From header
	Content   string
	CreatedAt time.Time
}

// PagerDuty is a loopback server speaking the subset of the PagerDuty REST API v2 that
// firebreak uses, as github.com/PagerDuty/go-pagerduty sends it. Point a client at it with
// pagerduty.NewClient(p.Token(), pagerduty.WithAPIEndpoint(p.URL())).
type PagerDuty struct {
	*fakebase.Server
	org   *seed.Org
	token string

	mu        sync.Mutex
	incidents map[string]*pdIncident
	notes     map[string][]Note // incident ID → notes, oldest first
	noteSeq   int
	down      bool
}

type pdIncident struct {
	seed.Incident
	Number  int
	Created time.Time
	Changed time.Time
	AckBy   string // user ID that acknowledged
	AckAt   time.Time
	// PolicyID and Level are the escalation policy and level ("" and 0: the seeded policy, level 1).
	PolicyID string
	Level    int
	Key      string // incident_key ("": derived from the id)
}

// New starts a PagerDuty sandbox with org's incidents, services and developers,
// recording calls in rec.
func New(org *seed.Org, rec *fakebase.Recorder) *PagerDuty {
	p := &PagerDuty{
		org:       org,
		token:     "u+" + fakebase.Canary + "-PdSbxT0ken9",
		incidents: map[string]*pdIncident{},
		notes:     map[string][]Note{},
	}
	for i, inc := range org.Incidents {
		created := seed.Epoch.Add(-time.Duration(len(org.Incidents)-i) * time.Hour)
		p.incidents[inc.ID] = &pdIncident{Incident: inc, Number: i + 1, Created: created, Changed: created}
	}
	p.Server = fakebase.Start(rec, "pagerduty", pdOp, http.HandlerFunc(p.serve))
	return p
}

// Token is the REST API token the server accepts. It contains Canary.
func (p *PagerDuty) Token() string { return p.token }

// SetDown makes the whole API answer 503 Service Unavailable while down is true.
func (p *PagerDuty) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// Notes returns the notes on incident id, oldest first.
func (p *PagerDuty) Notes(incidentID string) []Note {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Note(nil), p.notes[incidentID]...)
}

// Incident returns incident id in its current state, or false.
func (p *PagerDuty) Incident(id string) (seed.Incident, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc, ok := p.incidents[id]
	if !ok {
		return seed.Incident{}, false
	}
	return inc.Incident, true
}

// IncidentEscalation returns incident id's escalation policy id and level, or false.
func (p *PagerDuty) IncidentEscalation(id string) (policyID string, level int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc, ok := p.incidents[id]
	if !ok {
		return "", 0, false
	}
	return inc.policy(), inc.level(), true
}

// IncidentsByKey returns the ids of the incidents whose incident_key is key.
func (p *PagerDuty) IncidentsByKey(key string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id, inc := range p.incidents {
		if inc.key() == key {
			out = append(out, id)
		}
	}
	return out
}

func (inc *pdIncident) policy() string {
	if inc.PolicyID == "" {
		return EscalationPolicyID
	}
	return inc.PolicyID
}

func (inc *pdIncident) level() int {
	if inc.Level == 0 {
		return 1
	}
	return inc.Level
}

func (inc *pdIncident) key() string {
	if inc.Key == "" {
		return strings.ToLower(inc.ID)
	}
	return inc.Key
}

// pdOp names a request by method and path template, e.g. "POST /incidents/{id}/notes".
func pdOp(req *http.Request, _ []byte) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "incidents" {
		parts[1] = "{id}"
	}
	return req.Method + " /" + strings.Join(parts, "/")
}

// pdError writes PagerDuty's error document.
func pdError(w http.ResponseWriter, status, code int, message string, errs ...string) {
	body := map[string]any{"message": message, "code": code}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	fakebase.WriteJSON(w, status, map[string]any{"error": body})
}

func (p *PagerDuty) serve(w http.ResponseWriter, req *http.Request) {
	op := pdOp(req, nil)
	if p.Fault(w, req) {
		return
	}

	// FailOp's op is as recorded, e.g. "POST /incidents/{id}/notes"; the answer is
	// PagerDuty's error document.
	status, faulty := p.Failing(op)
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	switch {
	case down:
		pdError(w, http.StatusServiceUnavailable, 0, "Service Unavailable")
		return
	case faulty:
		pdError(w, status, 0, http.StatusText(status))
		return
	}

	auth := req.Header.Get("Authorization")
	if auth != "Token token="+p.token && auth != "Bearer "+p.token {
		pdError(w, http.StatusUnauthorized, 2006, "Authentication failed")
		return
	}
	if a := req.Header.Get("Accept"); a != "" && strings.Contains(a, "vnd.pagerduty+json") && !strings.Contains(a, "version=2") {
		pdError(w, http.StatusNotAcceptable, 2001, "Invalid Input Provided", "Only version=2 of the API is served here.")
		return
	}

	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case req.Method == http.MethodGet && len(parts) == 2 && parts[0] == "incidents":
		p.getIncident(w, parts[1])
	case req.Method == http.MethodGet && len(parts) == 3 && parts[0] == "incidents" && parts[2] == "notes":
		p.listNotes(w, parts[1])
	case req.Method == http.MethodPost && len(parts) == 3 && parts[0] == "incidents" && parts[2] == "notes":
		p.createNote(w, req, parts[1])
	case req.Method == http.MethodPut && len(parts) == 1 && parts[0] == "incidents":
		p.manage(w, req)
	case req.Method == http.MethodGet && len(parts) == 1 && parts[0] == "incidents":
		p.listIncidents(w, req.URL.Query())
	case req.Method == http.MethodPost && len(parts) == 1 && parts[0] == "incidents":
		p.createIncident(w, req)
	case req.Method == http.MethodGet && len(parts) == 1 && parts[0] == "oncalls":
		p.onCalls(w, req.URL.Query())
	case req.Method == http.MethodGet && len(parts) == 1 && parts[0] == "users":
		p.users(w, req.URL.Query())
	default:
		pdError(w, http.StatusNotFound, 2100, "Not Found")
	}
}

func pdRef(typ, id, summary, self string) map[string]any {
	return map[string]any{"id": id, "type": typ, "summary": summary, "self": self,
		"html_url": "https://example-co.pagerduty.test/" + strings.TrimSuffix(typ, "_reference") + "s/" + id}
}

func pdTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func pdDisplayName(d seed.Developer) string { return strings.ToUpper(d.Name[:1]) + d.Name[1:] }

// pdUsers is every PagerDuty user: the org's developers that have an ID, then the bot.
func (p *PagerDuty) pdUsers() []seed.Developer {
	var out []seed.Developer
	for _, d := range p.org.Developers {
		if d.PagerDutyID != "" {
			out = append(out, d)
		}
	}
	return append(out, pdBot)
}

// userByEmail returns the user whose email is email, for the From header.
func (p *PagerDuty) userByEmail(email string) (seed.Developer, bool) {
	for _, d := range p.pdUsers() {
		if d.PagerDutyID != "" && strings.EqualFold(d.Email, email) {
			return d, true
		}
	}
	return seed.Developer{}, false
}

func (p *PagerDuty) userByID(id string) (seed.Developer, bool) {
	for _, d := range p.pdUsers() {
		if d.PagerDutyID == id {
			return d, true
		}
	}
	return seed.Developer{}, false
}

func (p *PagerDuty) userRef(id string) map[string]any {
	summary := id
	if d, ok := p.userByID(id); ok {
		summary = pdDisplayName(d)
	}
	return pdRef("user_reference", id, summary, p.URL()+"/users/"+id)
}

func (p *PagerDuty) userJSON(d seed.Developer) map[string]any {
	u := pdRef("user", d.PagerDutyID, pdDisplayName(d), p.URL()+"/users/"+d.PagerDutyID)
	u["name"] = pdDisplayName(d)
	u["email"] = d.Email
	u["time_zone"] = "Europe/London"
	u["role"] = "user"
	return u
}

// incidentJSON renders inc. The caller holds p.mu.
func (p *PagerDuty) incidentJSON(inc *pdIncident) map[string]any {
	svcName := inc.ServiceID
	for _, s := range p.org.Services {
		if s.ID == inc.ServiceID {
			svcName = s.Name
		}
	}
	out := pdRef("incident", inc.ID, fmt.Sprintf("[#%d] %s", inc.Number, inc.Title), p.URL()+"/incidents/"+inc.ID)
	out["incident_number"] = inc.Number
	out["title"] = inc.Title
	out["status"] = inc.Status
	out["urgency"] = inc.Urgency
	out["created_at"] = pdTime(inc.Created)
	out["updated_at"] = pdTime(inc.Changed)
	out["last_status_change_at"] = pdTime(inc.Changed)
	out["incident_key"] = inc.key()
	out["service"] = pdRef("service_reference", inc.ServiceID, svcName, p.URL()+"/services/"+inc.ServiceID)
	out["escalation_policy"] = pdRef("escalation_policy_reference", inc.policy(), pdPolicies[inc.policy()], p.URL()+"/escalation_policies/"+inc.policy())
	out["assignments"] = []any{}
	out["acknowledgements"] = []any{}
	if inc.AckBy != "" && inc.Status == "acknowledged" {
		out["acknowledgements"] = []any{map[string]any{"at": pdTime(inc.AckAt), "acknowledger": p.userRef(inc.AckBy)}}
	}
	if inc.Status == "resolved" {
		out["resolved_at"] = pdTime(inc.Changed)
	}
	return out
}

func (p *PagerDuty) getIncident(w http.ResponseWriter, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc, ok := p.incidents[id]
	if !ok {
		pdError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"incident": p.incidentJSON(inc)})
}

// noteJSON renders n. The caller holds p.mu.
func (p *PagerDuty) noteJSON(n Note) map[string]any {
	return map[string]any{"id": n.ID, "user": p.userRef(n.UserID), "channel": map[string]any{"summary": "The PagerDuty website or APIs"},
		"content": n.Content, "created_at": pdTime(n.CreatedAt)}
}

func (p *PagerDuty) listNotes(w http.ResponseWriter, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.incidents[id]; !ok {
		pdError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	notes := []any{}
	for _, n := range p.notes[id] {
		notes = append(notes, p.noteJSON(n))
	}
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"notes": notes})
}

// from checks the From header that PagerDuty requires on writes, answering 400 like
// PagerDuty when it does not name a user of the account.
func (p *PagerDuty) from(w http.ResponseWriter, req *http.Request) (seed.Developer, bool) {
	email := req.Header.Get("From")
	if email == "" {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "You must specify a user's email address in the \"From\" header to perform this action")
		return seed.Developer{}, false
	}
	d, ok := p.userByEmail(email)
	if !ok {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "The email address in the \"From\" header does not belong to a user on this account")
		return seed.Developer{}, false
	}
	return d, true
}

func (p *PagerDuty) createNote(w http.ResponseWriter, req *http.Request, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.incidents[id]; !ok {
		pdError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	user, ok := p.from(w, req)
	if !ok {
		return
	}
	var body struct {
		Note struct {
			Content string `json:"content"`
		} `json:"note"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Request body is not valid JSON")
		return
	}
	if strings.TrimSpace(body.Note.Content) == "" {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Content cannot be empty")
		return
	}
	p.noteSeq++
	n := Note{ID: fmt.Sprintf("PNOTE%04d", p.noteSeq), UserID: user.PagerDutyID, Content: body.Note.Content, CreatedAt: time.Now().UTC()}
	p.notes[id] = append(p.notes[id], n)
	fakebase.WriteJSON(w, http.StatusCreated, map[string]any{"note": p.noteJSON(n)})
}

func (p *PagerDuty) manage(w http.ResponseWriter, req *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	user, ok := p.from(w, req)
	if !ok {
		return
	}
	var body struct {
		Incidents []struct {
			ID               string `json:"id"`
			Type             string `json:"type"`
			Status           string `json:"status"`
			EscalationLevel  int    `json:"escalation_level"`
			EscalationPolicy *struct {
				ID string `json:"id"`
			} `json:"escalation_policy"`
		} `json:"incidents"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil || len(body.Incidents) == 0 {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "incidents must be a non-empty list")
		return
	}
	// Validate every change before applying any, as the bulk endpoint does.
	for _, u := range body.Incidents {
		inc, ok := p.incidents[u.ID]
		if !ok {
			pdError(w, http.StatusNotFound, 2100, "Not Found")
			return
		}
		switch u.Status {
		case "", "acknowledged", "resolved":
		default:
			pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Status must be one of triggered, acknowledged, or resolved.")
			return
		}
		escalates := u.EscalationLevel != 0 || u.EscalationPolicy != nil
		if inc.Status == "resolved" && (u.Status != "" || escalates) {
			pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Incident Already Resolved")
			return
		}
		if u.EscalationPolicy != nil {
			if _, ok := pdPolicies[u.EscalationPolicy.ID]; !ok {
				pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Escalation policy not found")
				return
			}
		}
		if u.EscalationLevel < 0 || u.EscalationLevel > pdPolicyLevels {
			pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", fmt.Sprintf("Escalation level must be between 1 and %d", pdPolicyLevels))
			return
		}
	}
	now := time.Now().UTC()
	out := []any{}
	for _, u := range body.Incidents {
		inc := p.incidents[u.ID]
		if u.Status != "" && u.Status != inc.Status {
			inc.Status, inc.Changed = u.Status, now
			if u.Status == "acknowledged" {
				inc.AckBy, inc.AckAt = user.PagerDutyID, now
			}
		}
		// Re-assigning starts the new policy at level 1 unless a level is given; escalating
		// re-triggers an acknowledged incident, as PagerDuty does.
		if u.EscalationPolicy != nil {
			inc.PolicyID, inc.Level, inc.Changed = u.EscalationPolicy.ID, 1, now
		}
		if u.EscalationLevel != 0 {
			inc.Level, inc.Changed = u.EscalationLevel, now
		}
		if (u.EscalationPolicy != nil || u.EscalationLevel != 0) && inc.Status == "acknowledged" {
			inc.Status = "triggered"
		}
		out = append(out, p.incidentJSON(inc))
	}
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"incidents": out, "limit": len(out), "offset": 0, "more": false})
}

// pdListParam reads a PagerDuty array query parameter, sent as name[]=a&name[]=b.
func pdListParam(q url.Values, name string) []string {
	return append(q[name+"[]"], q[name]...)
}

func pdContains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func (p *PagerDuty) onCalls(w http.ResponseWriter, q url.Values) {
	eps, scheds, users := pdListParam(q, "escalation_policy_ids"), pdListParam(q, "schedule_ids"), pdListParam(q, "user_ids")
	full := pdContains(pdListParam(q, "include"), "users")
	start := seed.Epoch.Add(-24 * time.Hour)
	oncalls := []any{}
	if (len(eps) == 0 || pdContains(eps, EscalationPolicyID)) && (len(scheds) == 0 || pdContains(scheds, ScheduleID)) {
		for _, d := range p.org.Developers {
			if d.PagerDutyID == "" || !pdContains(d.Groups, "security") || (len(users) > 0 && !pdContains(users, d.PagerDutyID)) {
				continue
			}
			user := p.userRef(d.PagerDutyID)
			if full {
				user = p.userJSON(d)
			}
			oncalls = append(oncalls, map[string]any{
				"user":              user,
				"schedule":          pdRef("schedule_reference", ScheduleID, "Security Primary", p.URL()+"/schedules/"+ScheduleID),
				"escalation_policy": pdRef("escalation_policy_reference", EscalationPolicyID, "Security On-Call", p.URL()+"/escalation_policies/"+EscalationPolicyID),
				"escalation_level":  1,
				"start":             pdTime(start),
				"end":               pdTime(start.Add(365 * 24 * time.Hour)),
			})
		}
	}
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"oncalls": oncalls, "limit": 25, "offset": 0, "more": false, "total": nil})
}

func (p *PagerDuty) users(w http.ResponseWriter, q url.Values) {
	query := strings.ToLower(q.Get("query"))
	users := []any{}
	for _, d := range p.pdUsers() {
		if query != "" && !strings.Contains(strings.ToLower(d.Email), query) && !strings.Contains(strings.ToLower(d.Name), query) {
			continue
		}
		users = append(users, p.userJSON(d))
	}
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"users": users, "limit": 25, "offset": 0, "more": false, "total": nil})
}

func (p *PagerDuty) listIncidents(w http.ResponseWriter, q url.Values) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key, services, statuses := q.Get("incident_key"), pdListParam(q, "service_ids"), pdListParam(q, "statuses")
	var ids []string
	for id, inc := range p.incidents {
		if (key == "" || inc.key() == key) && (len(services) == 0 || pdContains(services, inc.ServiceID)) && (len(statuses) == 0 || pdContains(statuses, inc.Status)) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := []any{}
	for _, id := range ids {
		out = append(out, p.incidentJSON(p.incidents[id]))
	}
	fakebase.WriteJSON(w, http.StatusOK, map[string]any{"incidents": out, "limit": 25, "offset": 0, "more": false, "total": nil})
}

// createIncident serves POST /incidents. Like PagerDuty, it refuses a second open incident
// with the same incident_key on a service.
func (p *PagerDuty) createIncident(w http.ResponseWriter, req *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.from(w, req); !ok {
		return
	}
	var body struct {
		Incident struct {
			Title   string `json:"title"`
			Urgency string `json:"urgency"`
			Key     string `json:"incident_key"`
			Service *struct {
				ID string `json:"id"`
			} `json:"service"`
			EscalationPolicy *struct {
				ID string `json:"id"`
			} `json:"escalation_policy"`
		} `json:"incident"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Request body is not valid JSON")
		return
	}
	in := body.Incident
	if strings.TrimSpace(in.Title) == "" {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Title cannot be empty")
		return
	}
	known := false
	for _, s := range p.org.Services {
		known = known || (in.Service != nil && s.ID == in.Service.ID)
	}
	if !known {
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Service not found")
		return
	}
	switch in.Urgency {
	case "":
		in.Urgency = "high"
	case "high", "low":
	default:
		pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Urgency must be one of high or low")
		return
	}
	policy := ""
	if in.EscalationPolicy != nil {
		if _, ok := pdPolicies[in.EscalationPolicy.ID]; !ok {
			pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Escalation policy not found")
			return
		}
		policy = in.EscalationPolicy.ID
	}
	if in.Key != "" {
		for _, inc := range p.incidents {
			if inc.key() == in.Key && inc.ServiceID == in.Service.ID && inc.Status != "resolved" {
				pdError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Open incident with matching dedup key already exists on this service")
				return
			}
		}
	}
	n := len(p.incidents) + 1
	now := time.Now().UTC()
	inc := &pdIncident{
		Incident: seed.Incident{ID: fmt.Sprintf("PINCN%04d", n), Title: in.Title, ServiceID: in.Service.ID, Status: "triggered", Urgency: in.Urgency},
		Number:   n, Created: now, Changed: now, PolicyID: policy, Key: in.Key,
	}
	p.incidents[inc.ID] = inc
	fakebase.WriteJSON(w, http.StatusCreated, map[string]any{"incident": p.incidentJSON(inc)})
}
