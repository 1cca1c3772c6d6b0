package testenv_test

import (
	"net/http"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/testenv"
)

func TestSeedBystanders(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	before := len(listAccessors(t, sb))
	start := time.Now()
	total := sb.Vault.SeedBystanders(100_000)
	seeded := time.Since(start)
	if total != before+100_000 {
		t.Fatalf("SeedBystanders(100000) says %d tokens, want %d", total, before+100_000)
	}
	t.Logf("seeded 100,000 bystander tokens in %v", seeded)
	if got := len(listAccessors(t, sb)); got != total {
		t.Fatalf("LIST auth/token/accessors answered %d accessors, want %d", got, total)
	}
	// A second call adds more, never the same accessors again.
	if again := sb.Vault.SeedBystanders(10); again != total+10 {
		t.Errorf("a second SeedBystanders(10) says %d tokens, want %d", again, total+10)
	}
	c := vaultClient(t, sb)
	s, err := c.Logical().Write("auth/token/lookup-accessor", map[string]any{"accessor": testenv.BystanderAccessor(99_999)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Data["path"] != "auth/approle/login" || s.Data["entity_id"] != sb.Vault.EntityID(testenv.BystanderService(99_999%testenv.BystanderServices)) {
		t.Errorf("bystander token: path %v entity %v; want an AppRole login of its CI service's entity", s.Data["path"], s.Data["entity_id"])
	}
	secret, ok := sb.Vault.TokenSecret(testenv.BystanderAccessor(5))
	if !ok || !testenv.ContainsCanary(secret) {
		t.Errorf("bystander token secret %q: want one that contains the canary", secret)
	}
	// Bystanders are live tokens: they answer as themselves.
	c.SetToken(secret)
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Errorf("a bystander token looking itself up: %v", err)
	}
}

func TestSetLatency(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	const d = 30 * time.Millisecond
	sb.SetLatency(d)
	for name, url := range map[string]string{"vault": sb.Vault.URL() + "/v1/sys/health", "iam": sb.IAM.URL(), "slack": sb.Slack.URL() + "/api/auth.test", "pagerduty": sb.PagerDuty.URL() + "/abilities"} {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = resp.Body.Close()
		if took := time.Since(start); took < d {
			t.Errorf("%s answered in %v with %v of latency; want at least the latency", name, took, d)
		}
	}
	if n := len(sb.Recorder.Calls("")); n != 4 {
		t.Errorf("%d calls recorded, want 4", n)
	}
	sb.SetLatency(0)
	if got := sb.Recorder.Latency(); got != 0 {
		t.Errorf("latency after SetLatency(0) is %v", got)
	}
}

func listAccessors(t *testing.T, sb *testenv.Sandbox) []any {
	t.Helper()
	s, err := vaultClient(t, sb).Logical().List("auth/token/accessors")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := s.Data["keys"].([]any)
	return keys
}

func vaultClient(t *testing.T, sb *testenv.Sandbox) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address = sb.Vault.URL()
	cfg.MaxRetries = 0
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(sb.Vault.RootToken())
	return c
}

// The drill faults latency and bystanders install the same through Inject.
func TestLatencyAndBystanderFaults(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	before := sb.Vault.SeedBystanders(0)
	for _, s := range []string{"latency=5ms", "bystanders=50"} {
		f, err := testenv.ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		if f.String() != s {
			t.Errorf("ParseFault(%q).String() = %q", s, f.String())
		}
		if _, err := sb.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	if got := sb.Recorder.Latency(); got != 5*time.Millisecond {
		t.Errorf("latency after inject = %v, want 5ms", got)
	}
	if got := sb.Vault.SeedBystanders(0); got != before+50 {
		t.Errorf("%d tokens after bystanders=50, want %d", got, before+50)
	}
	if f, _ := testenv.ParseFault("latency"); f.Latency != 30*time.Millisecond {
		t.Errorf("latency's default is %v, want 30ms", f.Latency)
	}
	if _, err := testenv.ParseFault("bystanders=x"); err == nil {
		t.Error("bystanders=x parsed; want an error")
	}
}
