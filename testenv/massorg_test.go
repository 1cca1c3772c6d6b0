package testenv_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/testenv"
)

func TestMassOrg(t *testing.T) {
	const n = 45
	org := testenv.MassOrg(n)
	if len(org.Developers) != n {
		t.Fatalf("MassOrg(%d) has %d developers", n, len(org.Developers))
	}
	sb := testenv.NewSandbox(org)
	defer sb.Close()
	tokens, keys := 0, 0
	for i, d := range org.Developers {
		if d.Name != testenv.MassDeveloperName(i) {
			t.Errorf("developer %d is %q, want %q", i, d.Name, testenv.MassDeveloperName(i))
		}
		if sb.Vault.EntityID(d.Name) == "" {
			t.Errorf("%s has no Vault entity", d.Name)
		}
		for _, tok := range d.VaultTokens {
			tokens++
			if !testenv.ContainsCanary(tok.ID) || !sb.Vault.TokenValid(tok.Accessor) {
				t.Errorf("%s token %s: canary %v, valid %v; want both", d.Name, tok.Accessor, testenv.ContainsCanary(tok.ID), sb.Vault.TokenValid(tok.Accessor))
			}
		}
		for _, k := range d.IAMKeys {
			keys++
			if len(k.ID) != 20 || !testenv.ContainsCanary(k.Secret) {
				t.Errorf("%s key %s: want a 20-character id and a secret with the canary", d.Name, k.ID)
			}
			if st, ok := sb.IAM.KeyStatus(d.Name, k.ID); !ok || st != k.Status {
				t.Errorf("%s key %s in IAM: %q %v, want %q", d.Name, k.ID, st, ok, k.Status)
			}
		}
	}
	// 45 developers: 45 laptop tokens + 15 CI tokens; 45 active keys + 22 inactive ones.
	if tokens != 60 || keys != 67 {
		t.Errorf("seeded %d tokens and %d keys, want 60 and 67", tokens, keys)
	}
	if want := 2 * 3; len(org.Secrets) != want { // three teams of up to 20
		t.Errorf("%d shared secrets, want %d", len(org.Secrets), want)
	}
	for _, s := range org.Secrets {
		for _, v := range s.Data {
			if !testenv.ContainsCanary(v) {
				t.Errorf("secret %s holds a value without the canary", s.Path)
			}
		}
	}
	if got := testenv.MassDeveloperNames(3); strings.Join(got, ",") != "dev0000,dev0001,dev0002" {
		t.Errorf("MassDeveloperNames(3) = %v", got)
	}
}

func TestLimitRates(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	// A rate so low that no token comes back during the test: exactly Burst requests pass.
	rl := sb.LimitRates(testenv.RateLimits{IAM: testenv.Rate{PerSecond: 0.001, Burst: 2}, Vault: testenv.Rate{PerSecond: 0.001, Burst: 3}})
	iamCall := func() (int, string) {
		resp, err := http.PostForm(sb.IAM.URL(), url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := range 2 {
		if status, body := iamCall(); strings.Contains(body, "Throttling") {
			t.Fatalf("IAM request %d within the burst was throttled: %d %s", i+1, status, body)
		}
	}
	if status, body := iamCall(); status != http.StatusBadRequest || !strings.Contains(body, "<Code>Throttling</Code>") || !strings.Contains(body, "Rate exceeded") {
		t.Errorf("IAM request beyond the burst: %d %s; want 400 Throttling: Rate exceeded", status, body)
	}
	vaultCall := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, sb.Vault.URL()+"/v1/auth/token/lookup-self", nil)
		req.Header.Set("X-Vault-Token", sb.Vault.RootToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		if resp := vaultCall(); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("Vault request %d within the burst answered 429", i+1)
		}
	}
	resp := vaultCall()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("Vault request beyond the burst: %d Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if a, th := rl.Counts("iam"); a != 2 || th != 1 {
		t.Errorf("IAM counts: %d allowed, %d throttled; want 2 and 1", a, th)
	}
	if a, th := rl.Counts("vault"); a != 3 || th != 1 {
		t.Errorf("Vault counts: %d allowed, %d throttled; want 3 and 1", a, th)
	}
	if got := rl.Bound(map[string]int{"iam": 2, "vault": 3}); got != 0 {
		t.Errorf("Bound of calls within the bursts = %v, want 0", got)
	}
	rl2 := testenv.RateLimiter{Limits: testenv.RateLimits{IAM: testenv.Rate{PerSecond: 20, Burst: 20}, Vault: testenv.Rate{PerSecond: 100, Burst: 100}}}
	if got := rl2.Bound(map[string]int{"iam": 220, "vault": 600}); got != 10*time.Second {
		t.Errorf("Bound(220 IAM at 20/s, 600 Vault at 100/s) = %v, want 10s (IAM's (220-20)/20)", got)
	}
	rl.Clear()
	if resp := vaultCall(); resp.StatusCode == http.StatusTooManyRequests {
		t.Errorf("Vault still answers 429 after Clear")
	}
	if _, body := iamCall(); strings.Contains(body, "Throttling") {
		t.Errorf("IAM still throttles after Clear: %s", body)
	}
}
