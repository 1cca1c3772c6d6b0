package config

import (
	"maps"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Redacted returns c as YAML with every secret replaced: a reference is shown as written (it
// is not a secret), a value from the environment as <redacted: from NAME>, a literal as
// <redacted literal>. It is what `firebreak config show` prints.
func (c *Config) Redacted() ([]byte, error) {
	r := *c
	v := reflect.ValueOf(&r).Elem()
	for _, k := range Keys() {
		if k.Type != "secret" || k.index == nil {
			continue
		}
		f := v.FieldByIndex(k.index)
		f.SetString(string(redact(Secret(f.String()), c.fromEnv[k.Path])))
	}
	r.HTTPServices = make([]HTTPService, len(c.HTTPServices))
	for i, s := range c.HTTPServices {
		s.Headers = maps.Clone(s.Headers)
		s.SecretHeaders = maps.Clone(s.SecretHeaders)
		for h, val := range s.SecretHeaders {
			s.SecretHeaders[h] = redact(val, c.fromEnv["http_services"])
		}
		r.HTTPServices[i] = s
	}
	if len(r.HTTPServices) == 0 {
		r.HTTPServices = nil
	}
	return yaml.Marshal(&r)
}

func redact(s Secret, env string) Secret {
	switch {
	case s == "":
		return ""
	case env != "":
		return Secret("<redacted: from " + env + ">")
	case s.Kind() == SecretLiteral:
		return "<redacted literal>"
	}
	return s
}
