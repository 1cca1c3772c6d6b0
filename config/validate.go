package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Validate checks the values of c (typically an Effective config): URLs, durations,
// addresses, enums, secret references, settings that go together, and the chatops part.
// Problems that make c unusable are returned as an *Error; warnings (a literal secret in the
// file) do not stop firebreak but are never silent: the loader logs them, `config validate`
// and `doctor` print them.
func (c *Config) Validate() (warnings []Problem, err error) {
	var problems []Problem
	at := func(path string) Problem {
		if env, ok := c.fromEnv[path]; ok {
			return Problem{Path: path, Env: env}
		}
		p := Problem{File: c.file, Path: path}
		if q, ok := c.pos[path]; ok {
			p.Line, p.Col = q.line, q.col
		}
		return p
	}
	bad := func(path, format string, args ...any) {
		p := at(path)
		p.Msg = fmt.Sprintf(format, args...)
		problems = append(problems, p)
	}
	secret := func(path string, s Secret) {
		problem, literal := checkSecret(s)
		if problem != "" {
			bad(path, "%s", problem)
		}
		if _, env := c.fromEnv[path]; literal && !env {
			p := at(path)
			p.Msg = "a literal secret in the file: write a reference instead (vault:MOUNT/PATH#FIELD or env:NAME)"
			warnings = append(warnings, p)
		}
	}

	v := reflect.ValueOf(c).Elem()
	for _, k := range Keys() {
		if k.index == nil {
			continue
		}
		f := v.FieldByIndex(k.index)
		switch k.Type {
		case "secret":
			secret(k.Path, Secret(f.String()))
		case "string":
			if s := f.String(); s != "" {
				if msg := checkValue(k, s); msg != "" {
					bad(k.Path, "%s", msg)
				}
			}
		}
	}

	// Settings that go together.
	if (c.Temporal.TLS.Cert == "") != (c.Temporal.TLS.Key == "") {
		bad("temporal.tls", "cert and key go together: set both files of the client certificate, or neither")
	}
	if c.Vault.AppRole.SecretID.Kind() == SecretVault {
		bad("vault.approle.secret_id", "expected env:NAME: the AppRole secret id logs in to Vault, so it cannot be read from Vault")
	}
	if (c.Vault.AppRole.RoleID == "") != (c.Vault.AppRole.SecretID == "") {
		bad("vault.approle", "role_id and secret_id go together: set both, or neither")
	}
	switch c.Vault.Auth {
	case "token":
		if c.Vault.AppRole.RoleID != "" || c.Vault.Kubernetes.Role != "" {
			bad("vault.auth", "token login is chosen, but an AppRole or Kubernetes login is configured too: remove it, or choose that method")
		}
	case "approle":
		if c.Vault.AppRole.RoleID == "" {
			bad("vault.auth", "approle login is chosen: expected vault.approle.role_id and secret_id, found none")
		}
	case "kubernetes":
		if c.Vault.Kubernetes.Role == "" {
			bad("vault.auth", "kubernetes login is chosen: expected vault.kubernetes.role, found none")
		}
		if c.Vault.AppRole.RoleID != "" {
			bad("vault.auth", "kubernetes login is chosen, but an AppRole login is configured too (AppRole would be tried first)")
		}
	}
	if c.OIDC.Issuer != "" && (c.OIDC.ClientID == "" || c.OIDC.ClientSecret == "") {
		bad("oidc", "issuer is set: expected client_id and client_secret too")
	}

	// http_services: the allow-list of http.request.
	names := map[string]bool{}
	for i, s := range c.HTTPServices {
		path := fmt.Sprintf("http_services[%d]", i)
		if s.Name == "" {
			bad(path, "expected a name, found none")
		} else if names[s.Name] {
			bad(path+".name", "%q is listed twice", s.Name)
		}
		names[s.Name] = true
		if msg := checkURL(s.BaseURL); msg != "" {
			bad(path+".base_url", "%s", msg)
		}
		for _, h := range slices.Sorted(maps.Keys(s.Headers)) {
			if isSecretHeader(h) {
				bad(path+".headers."+h, "%s carries a credential: move it to secret_headers as a reference", h)
			}
		}
		if _, env := c.fromEnv["http_services"]; env {
			continue // from FIREBREAK_HTTP_SERVICES: its headers are values, as they always were
		}
		for _, h := range slices.Sorted(maps.Keys(s.SecretHeaders)) {
			secret(path+".secret_headers."+h, s.SecretHeaders[h])
		}
	}

	// The chatops part: rules, patterns, directory entries. Its messages start with the key.
	if err := c.Chatops().Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			path, msg, ok := strings.Cut(line, ": ")
			if !ok {
				path, msg = "", line
			}
			if i := strings.Index(path, " ("); i > 0 {
				path = path[:i]
			}
			bad(path, "%s", msg)
		}
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	if len(problems) > 0 {
		return warnings, &Error{problems}
	}
	return warnings, nil
}

// checkValue checks a string against its key's enum and format; "" when it passes.
func checkValue(k Key, s string) string {
	if len(k.Enum) > 0 && !slices.Contains(k.Enum, s) {
		return fmt.Sprintf("expected one of %s, found %q", strings.Join(k.Enum, ", "), s)
	}
	switch k.Format {
	case "url":
		return checkURL(s)
	case "duration":
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Sprintf("expected a positive duration like 61320h or 90m, found %q", s)
		}
	case "hostport":
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			return fmt.Sprintf("expected host:port (e.g. 127.0.0.1:7233), found %q", s)
		}
	case "s3url":
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "s3" || u.Host == "" {
			return fmt.Sprintf("expected s3://bucket/prefix, found %q", s)
		}
	}
	return ""
}

func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("expected an http(s) URL like https://host[:port][/path], found %q", s)
	}
	return ""
}

var secretHeader = regexp.MustCompile(`(?i)^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$|token|secret|password`)

// isSecretHeader reports whether a header name says it carries a credential.
func isSecretHeader(name string) bool { return secretHeader.MatchString(name) }
