package chatops

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// BotScopes are the OAuth scopes the Slack app needs: commands, posting progress, resolving
// users by id and email, and listing user-group members for roles.
var BotScopes = []string{"commands", "chat:write", "chat:write.public", "users:read", "users:read.email", "usergroups:read"}

// Manifest returns a Slack app manifest (JSON) for a firebreak whose endpoints are served at
// baseURL (https://firebreak.example.com) and which answers routes (SlashRoutes: every
// playbook's slash command as well as /revoke-dev and /firebreak), so a team installs the app in
// one step.
func Manifest(baseURL string, routes []SlashRoute) ([]byte, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("manifest: expected an http(s) base URL such as https://firebreak.example.com, found %q", baseURL)
	}
	base := strings.TrimRight(baseURL, "/")
	cmd := func(name, desc, hint string) map[string]any {
		return map[string]any{"command": name, "url": base + "/slack/commands", "description": desc, "usage_hint": hint, "should_escape": true}
	}
	commands := make([]any, 0, len(routes))
	for _, r := range routes {
		commands = append(commands, cmd(r.Command, r.Description, r.UsageHint))
	}
	m := map[string]any{
		"_metadata": map[string]any{"major_version": 1, "minor_version": 1},
		"display_information": map[string]any{
			"name":        "firebreak",
			"description": "Contain compromised developer credentials with durable, drilled playbooks",
		},
		"features": map[string]any{
			"bot_user":       map[string]any{"display_name": "firebreak", "always_online": true},
			"slash_commands": commands,
		},
		"oauth_config": map[string]any{"scopes": map[string]any{"bot": BotScopes}},
		"settings": map[string]any{
			"interactivity":          map[string]any{"is_enabled": true, "request_url": base + "/slack/interactions"},
			"org_deploy_enabled":     false,
			"socket_mode_enabled":    false,
			"token_rotation_enabled": false,
		},
	}
	return json.MarshalIndent(m, "", "  ")
}
