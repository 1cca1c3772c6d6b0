package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/firebreak-dev/firebreak/chatops"
)

// File is the path the configuration was read from ("" when it was not read from a file).
func (c *Config) File() string { return c.file }

// Effective returns a copy of c with every key whose environment variable is set (non-empty,
// as lookup reports it) replaced by the variable's value: the environment overrides the file.
// FIREBREAK_HTTP_SERVICES replaces http_services (its headers are then all treated as secret).
func (c *Config) Effective(lookup func(string) (string, bool)) (*Config, error) {
	e := *c
	e.fromEnv = map[string]string{}
	e.pos = c.pos
	v := reflect.ValueOf(&e).Elem()
	var problems []Problem
	for _, k := range Keys() {
		if k.Env == "" || k.index == nil {
			continue
		}
		raw, ok := lookup(k.Env)
		if !ok || raw == "" {
			continue
		}
		f := v.FieldByIndex(k.index)
		switch k.Type {
		case "string", "secret":
			f.SetString(raw)
		case "boolean":
			b, err := strconv.ParseBool(raw)
			if err != nil {
				problems = append(problems, Problem{Path: k.Path, Env: k.Env, Msg: fmt.Sprintf("expected true or false, found %q", raw)})
				continue
			}
			f.SetBool(b)
		case "list": // http_services
			var services []struct {
				Name    string            `json:"name"`
				BaseURL string            `json:"base_url"`
				Headers map[string]string `json:"headers"`
			}
			if err := json.Unmarshal([]byte(raw), &services); err != nil {
				problems = append(problems, Problem{Path: k.Path, Env: k.Env, Msg: fmt.Sprintf(`expected a JSON list like [{"name":"edge","base_url":"https://waf.internal","headers":{…}}]: %v`, err)})
				continue
			}
			out := make([]HTTPService, len(services))
			for i, s := range services {
				out[i] = HTTPService{Name: s.Name, BaseURL: s.BaseURL}
				if len(s.Headers) > 0 {
					out[i].SecretHeaders = map[string]Secret{}
					for h, val := range s.Headers {
						out[i].SecretHeaders[h] = Secret(val)
					}
				}
			}
			f.Set(reflect.ValueOf(out))
		}
		e.fromEnv[k.Path] = k.Env
	}
	if len(problems) > 0 {
		return nil, &Error{problems}
	}
	return &e, nil
}

// FromEnv reports which environment variable set the key at path in an Effective config.
func (c *Config) FromEnv(path string) (string, bool) {
	env, ok := c.fromEnv[path]
	return env, ok
}

// Values are the settings of a configuration with its secrets resolved, by environment
// variable name. They hold plaintext secrets: String never shows them.
type Values struct {
	m map[string]string
}

// Get returns the value of the setting the environment variable name overrides ("" when
// the file leaves it unset).
func (v *Values) Get(name string) string {
	if v == nil {
		return ""
	}
	return v.m[name]
}

// Len is how many settings have a value.
func (v *Values) Len() int {
	if v == nil {
		return 0
	}
	return len(v.m)
}

// String names the settings that have a value, never the values.
func (v *Values) String() string {
	return fmt.Sprintf("config.Values(%v)", slices.Sorted(maps.Keys(v.m)))
}

// GoString is String.
func (v *Values) GoString() string { return v.String() }

// Resolve turns the file's settings into Values: every key that has an environment variable
// and a value in c, with secret references read (env: from o.Lookup, vault: through o.Vault).
// Keys whose environment variable is set are skipped — the environment overrides them, and
// their references are not read. http_services becomes the JSON of FIREBREAK_HTTP_SERVICES.
// Errors name the key and the reference, never a secret.
func Resolve(ctx context.Context, c *Config, o ResolveOptions) (*Values, error) {
	vals := &Values{m: map[string]string{}}
	cache := map[string]map[string]any{}
	v := reflect.ValueOf(c).Elem()
	var errs []error
	for _, k := range Keys() {
		if k.Env == "" || k.index == nil {
			continue
		}
		if _, set := lookup(o.Lookup, k.Env); set {
			continue
		}
		f := v.FieldByIndex(k.index)
		switch k.Type {
		case "string":
			if s := f.String(); s != "" {
				vals.m[k.Env] = s
			}
		case "boolean":
			if f.Bool() {
				vals.m[k.Env] = "true"
			}
		case "secret":
			s, ok, err := resolveRef(ctx, k.Path, Secret(f.String()), o, cache)
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				vals.m[k.Env] = s
			}
		case "list": // http_services
			if len(c.HTTPServices) == 0 {
				continue
			}
			type service struct {
				Name    string            `json:"name"`
				BaseURL string            `json:"base_url"`
				Headers map[string]string `json:"headers,omitempty"`
			}
			out := make([]service, len(c.HTTPServices))
			for i, s := range c.HTTPServices {
				out[i] = service{Name: s.Name, BaseURL: s.BaseURL, Headers: maps.Clone(s.Headers)}
				for _, h := range slices.Sorted(maps.Keys(s.SecretHeaders)) {
					val, ok, err := resolveRef(ctx, fmt.Sprintf("http_services[%d].secret_headers.%s", i, h), s.SecretHeaders[h], o, cache)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					if ok {
						if out[i].Headers == nil {
							out[i].Headers = map[string]string{}
						}
						out[i].Headers[h] = val
					}
				}
			}
			b, err := json.Marshal(out)
			if err != nil {
				return nil, err
			}
			vals.m[k.Env] = string(b)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return vals, nil
}

// VaultReferences counts the vault: references Resolve would read from c (those whose key the
// environment does not override).
func VaultReferences(c *Config, lookupEnv func(string) (string, bool)) int {
	n := 0
	v := reflect.ValueOf(c).Elem()
	for _, k := range Keys() {
		if k.Type != "secret" || k.index == nil {
			continue
		}
		if _, set := lookup(lookupEnv, k.Env); set {
			continue
		}
		if Secret(v.FieldByIndex(k.index).String()).Kind() == SecretVault {
			n++
		}
	}
	if _, set := lookup(lookupEnv, "FIREBREAK_HTTP_SERVICES"); !set {
		for _, s := range c.HTTPServices {
			for _, h := range s.SecretHeaders {
				if h.Kind() == SecretVault {
					n++
				}
			}
		}
	}
	return n
}

// Chatops is the chatops part of the configuration, without its secrets: directory, roles,
// default start roles, PagerDuty rules and the Temporal UI link. The caller sets the Slack and
// PagerDuty secrets from resolved Values (or the environment).
func (c *Config) Chatops() chatops.Config {
	return chatops.Config{
		PagerDuty:         chatops.PagerDutyConfig{Rules: c.PagerDuty.Rules, ConfirmChannel: c.PagerDuty.ConfirmChannel},
		Directory:         c.Directory,
		Roles:             c.Roles,
		DefaultStartRoles: c.DefaultStartRoles,
		TemporalUIURL:     c.TemporalUIURL,
	}
}
