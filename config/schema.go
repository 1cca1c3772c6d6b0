package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Patterns the JSON Schema uses for formats Validate checks in Go.
const (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	hostportPattern = `^.*:[0-9]{1,5}$`
	s3URLPattern    = `^s3://[^/]+(/.*)?$`
	urlPattern      = `^https?://[^/]+`
)

// JSONSchema returns the JSON Schema (draft-07, as yaml-language-server reads it) of
// firebreak.yaml, generated from the Config type: the same keys, types, enums, formats and
// descriptions the decoder and Validate use. Secret keys accept only references.
func JSONSchema() ([]byte, error) {
	s := typeSchema(configType, "")
	s["$schema"] = "http://json-schema.org/draft-07/schema#"
	s["$id"] = "https://firebreak.dev/schemas/firebreak.yaml.json"
	s["title"] = "firebreak.yaml"
	s["description"] = "firebreak's configuration file. Every key with an environment variable can be overridden by it; see docs/configuration.md."
	return json.MarshalIndent(s, "", "  ")
}

func typeSchema(t reflect.Type, desc string) map[string]any {
	s := map[string]any{}
	if t == personAWSType {
		s["oneOf"] = []any{map[string]any{"const": "none"}, typeSchema(t.Elem(), "")}
		if desc != "" {
			s["description"] = desc
		}
		return s
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == secretType:
		s["type"] = "string"
		s["pattern"] = secretRefPattern
	case t.Kind() == reflect.String:
		s["type"] = "string"
	case t.Kind() == reflect.Bool:
		s["type"] = "boolean"
	case t.Kind() == reflect.Slice:
		s["type"] = "array"
		s["items"] = typeSchema(t.Elem(), "")
	case t.Kind() == reflect.Map:
		s["type"] = "object"
		s["additionalProperties"] = typeSchema(t.Elem(), "")
	case t.Kind() == reflect.Struct:
		s["type"] = "object"
		s["additionalProperties"] = false
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			ps := typeSchema(f.Type, fieldDoc(t, f))
			if e := f.Tag.Get("enum"); e != "" {
				ps["enum"] = strings.Split(e, "|")
			}
			switch f.Tag.Get("format") {
			case "url":
				ps["format"] = "uri"
				ps["pattern"] = urlPattern
			case "duration":
				ps["pattern"] = durationPattern
			case "hostport":
				ps["pattern"] = hostportPattern
			case "s3url":
				ps["pattern"] = s3URLPattern
			}
			var extra []string
			if env := f.Tag.Get("env"); env != "" {
				extra = append(extra, "Environment: "+env+".")
			}
			if d := f.Tag.Get("default"); d != "" {
				extra = append(extra, "Default: "+d+".")
			}
			if len(extra) > 0 {
				ps["description"] = strings.TrimSpace(fmt.Sprint(ps["description"]) + " " + strings.Join(extra, " "))
			}
			props[name] = ps
			if f.Tag.Get("required") == "true" {
				required = append(required, name)
			}
		}
		s["properties"] = props
		if len(required) > 0 {
			s["required"] = required
		}
	}
	if t == secretType {
		desc = strings.TrimSpace(desc + " A secret reference: vault:MOUNT/PATH#FIELD (KV v2) or env:NAME.")
	}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// Markdown returns the key reference of docs/configuration.md: one row per key with its
// environment variable, default and description, generated from the Config type.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| key | environment variable | default | description |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, k := range Keys() {
		env, def := "—", "—"
		if k.Env != "" {
			env = "`" + k.Env + "`"
		}
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		doc := k.Doc
		switch {
		case k.Type == "secret":
			doc += " **Secret**: a reference (`vault:MOUNT/PATH#FIELD` or `env:NAME`)."
		case len(k.Enum) > 0:
			doc += " One of " + strings.Join(quoteAll(k.Enum), ", ") + "."
		case k.Format != "" && k.Format != "path":
			doc += " Format: " + k.Format + "."
		}
		if k.Required {
			doc += " Required."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Path, env, def, strings.ReplaceAll(doc, "|", "\\|"))
	}
	return b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return out
}
