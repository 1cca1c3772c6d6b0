package secretscan_test

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/secretscan"
)

// Credentials the old hand-made list of five patterns missed, and the ones it had. The values
// are made up but have the shape of real ones (no EXAMPLE markers, which gitleaks allows).
var credentials = []struct{ name, text string }{
	{"aws access key id", "AKIAZ7VRSQ3XMPLQ4JTN"},
	{"aws session key id", "ASIAZ7VRSQ3XMPLQ4JTN"},
	{"aws secret access key", "aws_secret_access_key: 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"},
	{"stripe live key", "sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF"},
	{"github fine-grained token", "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"},
	{"github classic token", "ghp_R7tU4cE6dFqLzKJb8sW2xYvQ9mN3pAb1Cd2E"},
	{"slack bot token", "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
	{"vault token", "hvs.CAESIJxq7Hs9kPz2Lw4Vb8Nc1Rt6Ym3Xd5Fg0Jh2KaQeWzZ9GiEKHGh2cy5LbTRQcTZOc2VQd0xRdzV6dkFiTlNUcWQ"},
	{"private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQABAoIBAQCgQ9fBGA\n-----END RSA PRIVATE KEY-----"},
}

func TestFindCredentials(t *testing.T) {
	for _, c := range credentials {
		t.Run(c.name, func(t *testing.T) {
			fs := secretscan.Find("value: " + c.text)
			if len(fs) == 0 {
				t.Fatalf("expected a finding in %q, found none", c.text)
			}
		})
	}
}

func TestNoFindingInOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"Revoke every Vault token of ${{ inputs.subject }} and deactivate their AWS access keys.",
		"step revoke-tokens: revoked 4 tokens (accessors kept as evidence)",
		"deactivated key AKFB0000000000000001 of alice",
		"secret/data/shared/payments rotated to version 3",
		"token_ttl: 15m",
	} {
		if fs := secretscan.Find(s); len(fs) != 0 {
			t.Errorf("expected no finding in %q, found %s", s, fs[0].RuleID)
		}
	}
}

func TestRedact(t *testing.T) {
	in := "new key for bob: sk_live_51HqLzKJb8sW2xYvQ9mN3pR7tU4cE6dF (rotate it)"
	got := secretscan.Redact(in)
	if strings.Contains(got, "sk_live_51Hq") || !strings.Contains(got, "[redacted ") || !strings.HasSuffix(got, "(rotate it)") {
		t.Fatalf("expected the key replaced and the rest kept, got %q", got)
	}
	if plain := "nothing secret here"; secretscan.Redact(plain) != plain {
		t.Fatalf("expected plain text unchanged")
	}
}

func TestRuleCount(t *testing.T) {
	if n := secretscan.RuleCount(); n < 150 {
		t.Fatalf("expected gitleaks' default rule set (over 150 content rules), found %d", n)
	}
}

func TestRedactKeepsAccessKeyIDs(t *testing.T) {
	in := "deactivated AKIAZ7VRSQ3XMPLQ4JTN of bob"
	if got := secretscan.Redact(in); got != in {
		t.Fatalf("expected the access key ID kept (it names the key a responder must check), got %q", got)
	}
}

func TestRedactJSON(t *testing.T) {
	in := []byte(`[{"type":"section","text":{"type":"mrkdwn","text":"token ghp_R7tU4cE6dFqLzKJb8sW2xYvQ9mN3pAb1Cd2E found"}}]`)
	got := string(secretscan.RedactJSON(in))
	if strings.Contains(got, "ghp_R7tU") || !strings.Contains(got, `"type":"section"`) || !strings.Contains(got, "[redacted github-pat]") {
		t.Fatalf("expected the token redacted inside the blocks, got %s", got)
	}
	plain := []byte(`{"a": 1.50}`)
	if string(secretscan.RedactJSON(plain)) != string(plain) {
		t.Fatal("expected a document without secrets returned byte for byte")
	}
}
