package config

import (
	"reflect"
	"strings"

	"github.com/firebreak-dev/firebreak/chatops"
)

// Key describes one key of firebreak.yaml, as derived from the Config type's tags.
type Key struct {
	// Path is the key's place in the file: temporal.tls.cert; [] stands for any list element
	// and NAME for any map key (http_services[].secret_headers.NAME).
	Path string
	// Env is the environment variable that overrides it; "" for keys only the file sets.
	Env string
	// Doc describes the key.
	Doc string
	// Default is what applies when neither the file nor the environment sets it.
	Default string
	// Type is string, boolean, secret, list or map.
	Type string
	// Enum lists the values it accepts; Format is url, duration, hostport, s3url or path.
	Enum   []string
	Format string
	// Required keys must be set in each element of their list.
	Required bool

	index []int // from Config, for keys outside lists and maps
}

var (
	secretType = reflect.TypeOf(Secret(""))
	// personAWSType is a directory entry's aws: the scalar none, or a mapping.
	personAWSType = reflect.TypeOf(&chatops.PersonAWS{})
	configType    = reflect.TypeOf(Config{})
)

// Keys lists every key of firebreak.yaml in file order, leaves only (a list of structures
// is listed itself and then its elements' keys).
func Keys() []Key {
	var out []Key
	walkType(configType, "", []int{}, &out)
	return out
}

// EnvKeys maps each overriding environment variable to its key.
func EnvKeys() map[string]Key {
	m := map[string]Key{}
	for _, k := range Keys() {
		if k.Env != "" {
			m[k.Env] = k
		}
	}
	return m
}

func walkType(t reflect.Type, prefix string, index []int, out *[]Key) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		var idx []int
		if index != nil {
			idx = append(append([]int{}, index...), i)
		}
		k := Key{Path: path, Env: f.Tag.Get("env"), Doc: fieldDoc(t, f), Default: f.Tag.Get("default"),
			Format: f.Tag.Get("format"), Required: f.Tag.Get("required") == "true", index: idx}
		if e := f.Tag.Get("enum"); e != "" {
			k.Enum = strings.Split(e, "|")
		}
		ft := f.Type
		switch {
		case ft == secretType:
			k.Type = "secret"
			*out = append(*out, k)
		case ft == personAWSType:
			k.Type = "none | mapping"
			*out = append(*out, k)
			walkType(ft.Elem(), path, nil, out)
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			k.Type = "mapping"
			*out = append(*out, k)
			walkType(ft.Elem(), path, nil, out)
		case ft.Kind() == reflect.Struct:
			walkType(ft, path, idx, out)
		case ft.Kind() == reflect.Slice:
			k.Type = "list"
			*out = append(*out, k)
			if ft.Elem().Kind() == reflect.Struct {
				walkType(ft.Elem(), path+"[]", nil, out)
			}
		case ft.Kind() == reflect.Map:
			k.Type = "map"
			*out = append(*out, k)
			switch el := ft.Elem(); {
			case el.Kind() == reflect.Struct:
				walkType(el, path+".NAME", nil, out)
			}
		case ft.Kind() == reflect.Bool:
			k.Type = "boolean"
			*out = append(*out, k)
		default:
			k.Type = "string"
			*out = append(*out, k)
		}
	}
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// fieldDoc is the doc tag, or for chatops's types (which carry no doc tags) the entry of
// chatopsDocs.
func fieldDoc(t reflect.Type, f reflect.StructField) string {
	if d := f.Tag.Get("doc"); d != "" {
		return d
	}
	return chatopsDocs[t.Name()+"."+yamlName(f)]
}

// chatopsDocs describes the keys of the chatops types folded into firebreak.yaml. A test
// checks that every key of those types has an entry.
var chatopsDocs = map[string]string{
	"Person.subject":            "The person as playbooks and slash commands name them (the subject input). Without vault and aws below, also their Vault entity name and IAM user name.",
	"Person.vault":              "How their Vault identity entity is found: exactly one of alias, entity or entity_id. Unset: the subject is the entity's name.",
	"Person.aws":                "Their IAM user ({iam_user: NAME}), or none (no IAM user, e.g. IAM Identity Center). Unset: the subject is the IAM user name.",
	"PersonVault.alias":         "Their login on an auth method, resolved with identity/lookup/entity: Vault names entities itself (entity_1a2b…) at first login, so this is how most real setups find a person.",
	"PersonVault.entity":        "The identity entity's name.",
	"PersonVault.entity_id":     "The identity entity's id.",
	"PersonAlias.mount":         "Path of the auth method, e.g. oidc, userpass, ldap (must be mounted in Vault).",
	"PersonAlias.name":          "Their login name there (the alias name), e.g. alice@example.com.",
	"PersonAWS.iam_user":        "Their IAM user name.",
	"Person.email":              "Their email: links them to Slack (users.lookupByEmail) when slack_id is unset.",
	"Person.slack_id":           "Their Slack user id (U…); no Slack lookup is needed when set.",
	"Person.pagerduty_id":       "Their PagerDuty user id, so a run started by an incident they raised is known to be theirs.",
	"RoleMembers.users":         "Slack user ids (U…) that hold the role.",
	"RoleMembers.groups":        "Slack user-group ids (S…) whose members hold the role.",
	"TriggerRule.service":       "PagerDuty service id the incident must be on (empty: any).",
	"TriggerRule.urgency":       "high or low (empty: any).",
	"TriggerRule.priority":      "Priority summary such as P1 (empty: any).",
	"TriggerRule.title_pattern": "Regular expression the incident title must match (empty: any).",
	"TriggerRule.playbook":      "The playbook to start.",
	"TriggerRule.inputs":        "Playbook input name → where its value comes from.",
	"InputSource.value":         "A literal value.",
	"InputSource.from":          "An incident field: id, service, urgency or priority (set by PagerDuty); title or description (free text whoever opens the incident types); or details.KEY (an Events API v2 custom detail, written by whoever holds the routing key). A run with an input (other than reason) from free text or an untrusted detail waits for a responder's confirmation in confirm_channel.",
	"InputSource.pattern":       "Regular expression applied to the field; its first capture group (or whole match) is the value.",
	"InputSource.trusted":       "details.KEY only: the operator vouches for this detail (the routing key is held only by an integration they control), so the run starts without a responder's confirmation.",
}

// chatopsType reports whether t is one of chatops's configuration types.
func chatopsType(t reflect.Type) bool {
	return t.PkgPath() == reflect.TypeOf(chatops.Config{}).PkgPath()
}
