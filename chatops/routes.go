package chatops

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// ErrSlashConflict is wrapped by the error SlashRoutes returns when two playbooks claim one
// slash command, or a playbook claims one of firebreak's own.
var ErrSlashConflict = errors.New("conflicting slash commands")

// SlashRoute is one slash command firebreak answers. A route with a Playbook starts it: the
// command's words map onto Args (the last takes the rest of the text). /firebreak has no
// playbook: it is the command of subcommands (run, drill, status, approve, deny, help).
type SlashRoute struct {
	Command  string
	Playbook string
	Args     []string
	// Description and UsageHint are what Slack shows in its command picker.
	Description string
	UsageHint   string
}

// revokeDevArgs is how /revoke-dev maps its words when compromised-dev-key declares no slash
// trigger of its own: the person, then the reason.
var revokeDevArgs = []string{"subject", "reason"}

// SlashRoutes lists the slash commands firebreak answers with lib (nil means the bundled
// library): /revoke-dev (compromised-dev-key), /firebreak, and every command a playbook declares
// under triggers.slash, sorted by command. Two playbooks claiming one command, a playbook
// claiming /firebreak, or a playbook other than compromised-dev-key claiming /revoke-dev is an
// error wrapping ErrSlashConflict that names them all, so a server refuses to start with it.
func SlashRoutes(lib *playbooks.Library) ([]SlashRoute, error) {
	if lib == nil {
		var err error
		if lib, err = playbooks.LoadLibrary(""); err != nil {
			return nil, fmt.Errorf("loading the bundled playbooks: %w", err)
		}
	}
	byCmd := map[string]SlashRoute{
		CommandFirebreak: {Command: CommandFirebreak, Description: "Run, drill, approve and follow firebreak playbooks", UsageHint: "run|drill|status|approve|deny|help …"},
	}
	claims := map[string][]string{}
	for _, name := range lib.Names() {
		p, err := lib.Get(name)
		if err != nil || p.Triggers.Slash == nil {
			continue
		}
		t := p.Triggers.Slash
		claims[t.Command] = append(claims[t.Command], name)
		byCmd[t.Command] = playbookRoute(t.Command, p, t.Args)
	}
	if _, declared := claims[CommandRevokeDev]; !declared {
		if p, err := lib.Get(RevokePlaybook); err == nil {
			byCmd[CommandRevokeDev] = playbookRoute(CommandRevokeDev, p, revokeDevArgs)
		}
	}
	var errs []error
	for _, cmd := range slices.Sorted(maps.Keys(claims)) {
		names := claims[cmd]
		switch {
		case len(names) > 1:
			errs = append(errs, fmt.Errorf("%w: %s is claimed by %d playbooks (%s); expected one — change triggers.slash.command in all but one", ErrSlashConflict, cmd, len(names), strings.Join(names, ", ")))
		case cmd == CommandFirebreak:
			errs = append(errs, fmt.Errorf("%w: playbook %s claims %s, which is firebreak's own command; expected another command", ErrSlashConflict, names[0], cmd))
		case cmd == CommandRevokeDev && names[0] != RevokePlaybook:
			errs = append(errs, fmt.Errorf("%w: playbook %s claims %s, which starts %s; expected another command", ErrSlashConflict, names[0], cmd, RevokePlaybook))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make([]SlashRoute, 0, len(byCmd))
	for _, cmd := range slices.Sorted(maps.Keys(byCmd)) {
		out = append(out, byCmd[cmd])
	}
	return out, nil
}

func playbookRoute(cmd string, p *playbooks.Plan, args []string) SlashRoute {
	hint := make([]string, len(args))
	for i, a := range args {
		hint[i] = a
		if in, ok := inputNamed(p, a); ok && (in.Type == "user" || a == "subject") {
			hint[i] = "@" + a
		}
		if i == len(args)-1 {
			hint[i] += "…"
		}
	}
	desc := p.Title
	if destructive(p) {
		desc += " (asks to confirm)"
	}
	usage := strings.Join(hint, " ")
	if cmd == CommandRevokeDev {
		desc = "Cut off every credential of a developer (asks to confirm)"
		usage = "@user reason…"
	}
	return SlashRoute{Command: cmd, Playbook: p.Name, Args: append([]string(nil), args...), Description: truncate(desc, 100), UsageHint: usage}
}

// destructive reports whether a playbook changes a system, so that starting it from Slack asks
// the requester to confirm first.
func destructive(p *playbooks.Plan) bool {
	for _, s := range p.Steps {
		if s.Destructive {
			return true
		}
	}
	return false
}

func inputNamed(p *playbooks.Plan, name string) (playbooks.Input, bool) {
	for _, in := range p.Inputs {
		if in.Name == name {
			return in, true
		}
	}
	return playbooks.Input{}, false
}

// routeFor returns the route of a slash command.
func (s *Server) routeFor(cmd string) (SlashRoute, bool) {
	i := sort.Search(len(s.routes), func(i int) bool { return s.routes[i].Command >= cmd })
	if i < len(s.routes) && s.routes[i].Command == cmd {
		return s.routes[i], true
	}
	return SlashRoute{}, false
}

// commandNames lists the commands firebreak answers, for error messages.
func (s *Server) commandNames() string {
	names := make([]string, len(s.routes))
	for i, r := range s.routes {
		names[i] = r.Command
	}
	return strings.Join(names, ", ")
}
