package testenv

import "github.com/firebreak-dev/firebreak/chatops"

// ChatopsDirectory makes org cfg's chatops directory, for `firebreak dev` and its decisions:
// its developers, all of them responders, and carol the security on-call, who may approve.
func ChatopsDirectory(cfg *chatops.Config, org *Org) {
	var responders []string
	for _, d := range org.Developers {
		cfg.Directory = append(cfg.Directory, chatops.Person{Subject: d.Name, Email: d.Email, SlackID: d.SlackID, PagerDutyID: d.PagerDutyID})
		responders = append(responders, d.SlackID)
	}
	cfg.Roles = map[string]chatops.RoleMembers{chatops.DefaultStartRole: {Users: responders}, "security-oncall": {Users: []string{"U0CAROL"}}}
}
