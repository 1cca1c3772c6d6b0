package chatops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Identity is a person as firebreak acts on them: their Slack user, email, and subject name
// (Vault entity name and IAM user name), with the roles they hold.
type Identity struct {
	SlackID string
	Email   string
	Subject string
	Roles   []string
}

// ErrUnknownUser is wrapped when a Slack user or a named person is not in the directory.
var ErrUnknownUser = errors.New("not in firebreak's directory")

// groupTTL is how long user-group memberships are cached.
const groupTTL = 5 * time.Minute

type groupCache struct {
	mu      sync.Mutex
	members map[string]groupEntry
}

type groupEntry struct {
	ids map[string]bool
	at  time.Time
}

// requester resolves the Slack user who sent a request, with their roles.
func (s *Server) requester(ctx context.Context, slackID string) (Identity, error) {
	id, err := s.person(ctx, slackID)
	if err != nil {
		return Identity{}, err
	}
	id.Roles = s.rolesOf(ctx, slackID)
	return id, nil
}

// person resolves a Slack user id: the directory by slack_id, else users.info → email →
// the directory by email.
func (s *Server) person(ctx context.Context, slackID string) (Identity, error) {
	for _, p := range s.o.Config.Directory {
		if p.SlackID != "" && p.SlackID == slackID {
			return Identity{SlackID: slackID, Email: p.Email, Subject: p.Subject}, nil
		}
	}
	if s.o.Slack == nil {
		return Identity{}, fmt.Errorf("Slack user %s is %w (no directory entry has that slack_id, and no Slack token is configured to look up their email)", slackID, ErrUnknownUser)
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.LookupTimeout)
	defer cancel()
	u, err := s.o.Slack.GetUserInfoContext(ctx, slackID)
	if err != nil {
		return Identity{}, fmt.Errorf("looking up Slack user %s with users.info: %w", slackID, err)
	}
	if u.IsStranger {
		return Identity{}, fmt.Errorf("Slack user %s is %w: they are from another workspace (Slack Connect), and only the directory's own people act here", slackID, ErrUnknownUser)
	}
	email := u.Profile.Email
	if email == "" {
		return Identity{}, fmt.Errorf("Slack user %s is %w: Slack shows no email for them (the app needs users:read.email)", slackID, ErrUnknownUser)
	}
	for _, p := range s.o.Config.Directory {
		// An entry pinned to a Slack id belongs to that Slack user only: someone else showing
		// the same email is not them.
		if p.SlackID == "" && strings.EqualFold(p.Email, email) {
			return Identity{SlackID: slackID, Email: p.Email, Subject: p.Subject}, nil
		}
	}
	return Identity{}, fmt.Errorf("Slack user %s (%s) is %w; add them under directory: in the config", slackID, email, ErrUnknownUser)
}

var mentionRE = regexp.MustCompile(`^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$`)

// target resolves the person a command names: a Slack mention <@U…>, an email, or a subject
// name (with or without a leading @).
func (s *Server) target(ctx context.Context, ref string) (Identity, error) {
	if m := mentionRE.FindStringSubmatch(ref); m != nil {
		return s.person(ctx, m[1])
	}
	name := strings.TrimPrefix(ref, "@")
	for _, p := range s.o.Config.Directory {
		if p.Subject == name || (p.Email != "" && strings.EqualFold(p.Email, name)) {
			id := Identity{SlackID: p.SlackID, Email: p.Email, Subject: p.Subject}
			if id.SlackID == "" && id.Email != "" && s.o.Slack != nil {
				// Best effort, only to mention them: the subject is what the playbook needs.
				lctx, cancel := context.WithTimeout(ctx, s.o.LookupTimeout)
				if u, err := s.o.Slack.GetUserByEmailContext(lctx, id.Email); err == nil {
					id.SlackID = u.ID
				}
				cancel()
			}
			return id, nil
		}
	}
	return Identity{}, fmt.Errorf("%q is %w: expected a Slack mention, an email or a subject name listed under directory:", ref, ErrUnknownUser)
}

// rolesOf lists the roles a Slack user holds directly or through a user group. A group whose
// members cannot be listed grants nothing (fail closed) and is logged.
func (s *Server) rolesOf(ctx context.Context, slackID string) []string {
	var roles []string
	for _, role := range slices.Sorted(maps.Keys(s.o.Config.Roles)) {
		m := s.o.Config.Roles[role]
		if slices.Contains(m.Users, slackID) {
			roles = append(roles, role)
			continue
		}
		for _, g := range m.Groups {
			if s.inGroup(ctx, g, slackID) {
				roles = append(roles, role)
				break
			}
		}
	}
	return roles
}

func (s *Server) inGroup(ctx context.Context, group, slackID string) bool {
	now := s.o.Now()
	s.groups.mu.Lock()
	e, ok := s.groups.members[group]
	s.groups.mu.Unlock()
	if !ok || now.Sub(e.at) > groupTTL {
		if s.o.Slack == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(ctx, s.o.LookupTimeout)
		defer cancel()
		ids, err := s.o.Slack.GetUserGroupMembersContext(ctx, group)
		if err != nil {
			s.log.Warn("chatops: listing user-group members failed; the group grants no role", "group", group, "error", err)
			return false
		}
		e = groupEntry{ids: map[string]bool{}, at: now}
		for _, id := range ids {
			e.ids[id] = true
		}
		s.groups.mu.Lock()
		if s.groups.members == nil {
			s.groups.members = map[string]groupEntry{}
		}
		s.groups.members[group] = e
		s.groups.mu.Unlock()
	}
	return e.ids[slackID]
}

// mayStart reports whether id may start plan, and which roles would have allowed it.
func (s *Server) mayStart(id Identity, playbook string) (bool, []string) {
	allowed := s.startRolesOf(playbook)
	for _, r := range id.Roles {
		if slices.Contains(allowed, r) {
			return true, allowed
		}
	}
	return false, allowed
}

// startRolesOf is the one place that says which roles may start a playbook: the Plan's
// roles.start, or the configured default for a playbook that names none (or is unknown, so the
// refusal does not reveal which playbooks exist).
func (s *Server) startRolesOf(playbook string) []string {
	if s.lib != nil {
		if p, err := s.lib.Get(playbook); err == nil && len(p.Roles.Start) > 0 {
			return p.Roles.Start
		}
	}
	return s.o.Config.startRoles()
}

// Resolve finds the person ref names (a Slack mention, an email or a subject name) in the
// directory, with the roles they hold there: what `firebreak approve` signs for them.
func (s *Server) Resolve(ctx context.Context, ref string) (Identity, error) {
	id, err := s.target(ctx, ref)
	if err != nil {
		return Identity{}, err
	}
	if id.SlackID != "" {
		id.Roles = s.rolesOf(ctx, id.SlackID)
	}
	return id, nil
}
