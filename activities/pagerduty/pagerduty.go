// Package pagerduty holds firebreak's PagerDuty activities: notes on the incident a run
// answers (exactly once per idempotency key), acknowledging and resolving it, and finding
// who is on call.
package pagerduty

import (
	"context"
	"sort"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/firebreak-dev/firebreak/secretscan"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// API is the part of the PagerDuty client the activities use; *pd.Client satisfies it.
type API interface {
	GetIncidentWithContext(ctx context.Context, id string) (*pd.Incident, error)
	ListIncidentNotesWithContext(ctx context.Context, id string) ([]pd.IncidentNote, error)
	CreateIncidentNoteWithContext(ctx context.Context, id string, note pd.IncidentNote) (*pd.IncidentNote, error)
	ManageIncidentsWithContext(ctx context.Context, from string, incidents []pd.ManageIncidentsOptions) (*pd.ListIncidentsResponse, error)
	ListOnCallsWithContext(ctx context.Context, o pd.ListOnCallOptions) (*pd.ListOnCallsResponse, error)
	ListIncidentsWithContext(ctx context.Context, o pd.ListIncidentsOptions) (*pd.ListIncidentsResponse, error)
	CreateIncidentWithContext(ctx context.Context, from string, o *pd.CreateIncidentOptions) (*pd.Incident, error)
}

var _ API = (*pd.Client)(nil)

// Activities are the PagerDuty activities.
type Activities struct {
	Client API
	// From is the email address of the PagerDuty user that notes and status changes are
	// made as; PagerDuty requires it on every write.
	From string
}

// Register registers the PagerDuty activities on r.
func Register(r worker.Registry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}

// markerPrefix starts the line that ends every note firebreak writes: "[firebreak:<key>]".
const markerPrefix = "[firebreak:"

// Marker is the line AddNote appends to a note's content to make it findable by key.
func Marker(key string) string { return markerPrefix + key + "]" }

// AddNoteInput is the input of AddNote.
type AddNoteInput struct {
	IncidentID string `json:"incident_id"`
	Content    string `json:"content"`
	// IdempotencyKey names this note: AddNote never adds two notes with one key to an
	// incident. When empty, a key is derived from the workflow and activity IDs, which are
	// stable across retries of this activity.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// AddNoteResult is the result of AddNote.
type AddNoteResult struct {
	NoteID string `json:"note_id"`
	// Duplicate is true when a note with the same key was already there and was returned.
	Duplicate bool `json:"duplicate"`
}

// AddNote adds a note to an incident at most once per IdempotencyKey: the note ends with the
// line Marker(key), and before creating, AddNote lists the incident's notes and returns the
// one that already carries the marker.
func (a *Activities) AddNote(ctx context.Context, in AddNoteInput) (AddNoteResult, error) {
	if in.IncidentID == "" {
		return AddNoteResult{}, invalidInput("pagerduty note needs an incident ID, got none")
	}
	if strings.TrimSpace(in.Content) == "" {
		return AddNoteResult{}, invalidInput("pagerduty note needs content, got none")
	}
	if err := a.needFrom(); err != nil {
		return AddNoteResult{}, err
	}
	key := in.IdempotencyKey
	if key == "" {
		info := activity.GetInfo(ctx)
		key = info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	}
	marker := Marker(key)
	notes, err := a.Client.ListIncidentNotesWithContext(ctx, in.IncidentID)
	if err != nil {
		return AddNoteResult{}, classify("list the notes of incident "+in.IncidentID, err)
	}
	for _, n := range notes {
		if hasMarker(n.Content, marker) {
			return AddNoteResult{NoteID: n.ID, Duplicate: true}, nil
		}
	}
	note := pd.IncidentNote{
		Content: strings.TrimRight(secretscan.Redact(in.Content), "\n") + "\n" + marker,
		// go-pagerduty sends User.Summary as the From header.
		User: pd.APIObject{Summary: a.From},
	}
	created, err := a.Client.CreateIncidentNoteWithContext(ctx, in.IncidentID, note)
	if err != nil {
		return AddNoteResult{}, classify("add a note to incident "+in.IncidentID, err)
	}
	return AddNoteResult{NoteID: created.ID}, nil
}

// hasMarker reports whether content's last non-empty line is marker.
func hasMarker(content, marker string) bool {
	lines := strings.Split(strings.TrimRight(content, "\n "), "\n")
	return strings.TrimSpace(lines[len(lines)-1]) == marker
}

// IncidentInput names an incident.
type IncidentInput struct {
	IncidentID string `json:"incident_id"`
}

// IncidentResult is an incident's status after a change.
type IncidentResult struct {
	IncidentID string `json:"incident_id"`
	Status     string `json:"status"` // triggered | acknowledged | resolved
}

// Acknowledge acknowledges an incident. An incident already acknowledged or resolved is left
// as it is and reported with its status.
func (a *Activities) Acknowledge(ctx context.Context, in IncidentInput) (IncidentResult, error) {
	return a.setStatus(ctx, in, "acknowledged")
}

// Resolve resolves an incident. An incident already resolved is reported as such.
func (a *Activities) Resolve(ctx context.Context, in IncidentInput) (IncidentResult, error) {
	return a.setStatus(ctx, in, "resolved")
}

func (a *Activities) setStatus(ctx context.Context, in IncidentInput, status string) (IncidentResult, error) {
	if in.IncidentID == "" {
		return IncidentResult{}, invalidInput("pagerduty " + status + " needs an incident ID, got none")
	}
	if err := a.needFrom(); err != nil {
		return IncidentResult{}, err
	}
	inc, err := a.Client.GetIncidentWithContext(ctx, in.IncidentID)
	if err != nil {
		return IncidentResult{}, classify("read incident "+in.IncidentID, err)
	}
	if inc.Status == status || inc.Status == "resolved" {
		return IncidentResult{IncidentID: in.IncidentID, Status: inc.Status}, nil
	}
	resp, err := a.Client.ManageIncidentsWithContext(ctx, a.From, []pd.ManageIncidentsOptions{{ID: in.IncidentID, Status: status}})
	if err != nil {
		if alreadyResolved(err) { // resolved between our read and our write
			return IncidentResult{IncidentID: in.IncidentID, Status: "resolved"}, nil
		}
		return IncidentResult{}, classify("mark incident "+in.IncidentID+" "+status, err)
	}
	for _, i := range resp.Incidents {
		if i.ID == in.IncidentID {
			return IncidentResult{IncidentID: i.ID, Status: i.Status}, nil
		}
	}
	return IncidentResult{IncidentID: in.IncidentID, Status: status}, nil
}

// OnCallInput selects whose on-call shifts to list; empty fields do not filter.
type OnCallInput struct {
	EscalationPolicyID string `json:"escalation_policy_id,omitempty"`
	ScheduleID         string `json:"schedule_id,omitempty"`
}

// OnCallUser is a user on call now.
type OnCallUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// OnCallResult is the result of OnCall.
type OnCallResult struct {
	Users []OnCallUser `json:"users"`
}

// OnCall lists the users on call now for an escalation policy and/or schedule, each once,
// lowest escalation level first.
func (a *Activities) OnCall(ctx context.Context, in OnCallInput) (OnCallResult, error) {
	opts := pd.ListOnCallOptions{Includes: []string{"users"}, Limit: 100}
	if in.EscalationPolicyID != "" {
		opts.EscalationPolicyIDs = []string{in.EscalationPolicyID}
	}
	if in.ScheduleID != "" {
		opts.ScheduleIDs = []string{in.ScheduleID}
	}
	var calls []pd.OnCall
	for {
		resp, err := a.Client.ListOnCallsWithContext(ctx, opts)
		if err != nil {
			return OnCallResult{}, classify("list who is on call", err)
		}
		calls = append(calls, resp.OnCalls...)
		if !resp.More || len(resp.OnCalls) == 0 {
			break
		}
		opts.Offset += uint(len(resp.OnCalls))
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].EscalationLevel < calls[j].EscalationLevel })
	out := OnCallResult{Users: []OnCallUser{}}
	seen := map[string]bool{}
	for _, c := range calls {
		if seen[c.User.ID] {
			continue
		}
		seen[c.User.ID] = true
		out.Users = append(out.Users, OnCallUser{ID: c.User.ID, Name: c.User.Name, Email: c.User.Email})
	}
	return out, nil
}

func (a *Activities) needFrom() error {
	if a.From == "" {
		return invalidInput("pagerduty writes need the email of a PagerDuty user to act as (Activities.From), got none")
	}
	return nil
}
