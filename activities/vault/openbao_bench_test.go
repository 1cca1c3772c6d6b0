package vault_test

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

var baoTokens = flag.Int("openbao.tokens", 20_000, "BenchmarkInventoryOpenBao: other live tokens in the OpenBao dev server")

// findBao finds OpenBao's bao: BAO_BIN, else the shared tools directory beside the
// repository (../shared/tools/openbao/bao from its root, or one level further up from a git
// worktree), else bao on PATH.
func findBao() string {
	if b := os.Getenv("BAO_BIN"); b != "" {
		return b
	}
	for _, rel := range []string{"../../../shared/tools/openbao/bao", "../../../../shared/tools/openbao/bao"} {
		if abs, err := filepath.Abs(rel); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs
			}
		}
	}
	b, _ := exec.LookPath("bao")
	return b
}

// BenchmarkInventoryOpenBao inventories one person (one token, bound to their entity through
// a userpass alias) in a real OpenBao dev server that also holds -openbao.tokens other live
// tokens, one lookup at a time (sequential) and DefaultLookupConcurrency at a time
// (parallel). Skipped without bao (BAO_BIN, ../shared/tools/openbao/bao):
//
//	go test ./activities/vault -run '^$' -bench InventoryOpenBao -benchtime 1x -timeout 60m
func BenchmarkInventoryOpenBao(b *testing.B) {
	bin := findBao()
	if bin == "" {
		b.Skip("bao not found: set BAO_BIN or provide ../shared/tools/openbao/bao")
	}
	addr := startBaoDev(b, bin)
	root := "root-" + testenv.Canary
	client := func(conns int) *api.Client {
		cfg := api.DefaultConfig()
		cfg.Address = addr
		cfg.MaxRetries = 0
		cfg.HttpClient.Transport.(*http.Transport).MaxIdleConnsPerHost = conns
		c, err := api.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.SetToken(root)
		return c
	}
	c := client(vault.DefaultLookupConcurrency)
	lg := c.Logical()
	must := func(_ *api.Secret, err error) {
		b.Helper()
		if err != nil {
			b.Fatalf("seeding OpenBao: %v", err)
		}
	}
	// alice: an entity with a userpass alias, logged in once.
	if err := c.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		b.Fatal(err)
	}
	auths, err := c.Sys().ListAuth()
	if err != nil {
		b.Fatal(err)
	}
	e, err := lg.Write("identity/entity", map[string]any{"name": "alice", "policies": []string{"default"}})
	if err != nil {
		b.Fatal(err)
	}
	must(lg.Write("identity/entity-alias", map[string]any{"name": "alice", "canonical_id": e.Data["id"], "mount_accessor": auths["userpass/"].Accessor}))
	pw := "pw-" + testenv.Canary
	must(lg.Write("auth/userpass/users/alice", map[string]any{"password": pw}))
	login, err := lg.Write("auth/userpass/login/alice", map[string]any{"password": pw})
	if err != nil {
		b.Fatal(err)
	}
	seedBaoTokens(b, lg, *baoTokens)
	for _, bc := range []struct {
		name        string
		concurrency int
	}{{"sequential", 1}, {"parallel", vault.DefaultLookupConcurrency}} {
		b.Run(bc.name, func(b *testing.B) {
			h := &harness{t: &testing.T{}, logs: &lockedBuffer{}}
			acts := &vault.Activities{Client: client(bc.concurrency).Logical(), LookupConcurrency: bc.concurrency}
			var total time.Duration
			for range b.N {
				start := time.Now()
				var res vault.InventoryResult
				if err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "alice"}, &res); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				if len(res.Accessors) != 1 || res.Accessors[0] != login.Auth.Accessor {
					b.Fatalf("found %v, want alice's token %s", res.Accessors, login.Auth.Accessor)
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/inventory")
		})
	}
}

// seedBaoTokens creates n other live tokens in the OpenBao dev server, orphan tokens as CI
// jobs hold, 16 at a time, then waits (at most five minutes) until OpenBao answers five reads
// in a row within 50 ms: right after the seeding it stays busy for a while (single reads
// took seconds), and the tokens are meant as a steady state. It logs how long both took.
func seedBaoTokens(b *testing.B, lg *api.Logical, n int) {
	b.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if _, err := lg.Write("auth/token/create-orphan", map[string]any{"ttl": "2h", "policies": []string{"default"}, "display_name": "ci"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	b.Logf("seeded %d tokens in OpenBao in %v", n, time.Since(start).Round(time.Millisecond))
	settle, fast := time.Now(), 0
	for fast < 5 && time.Since(settle) < 5*time.Minute {
		t0 := time.Now()
		if _, err := lg.Read("sys/mounts"); err != nil {
			b.Fatal(err)
		}
		if time.Since(t0) < 50*time.Millisecond {
			fast++
		} else {
			fast = 0
		}
		time.Sleep(200 * time.Millisecond) // spacing probes of a server that is catching up
	}
	b.Logf("OpenBao answered promptly again %v after the seeding", time.Since(settle).Round(time.Millisecond))
}

// startBaoDev starts an OpenBao dev server (root token "root-"+testenv.Canary) on a free
// loopback port for the benchmark and returns its address; it is stopped when b ends.
func startBaoDev(b *testing.B, bin string) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hostport := l.Addr().String()
	_ = l.Close()
	root := "root-" + testenv.Canary
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "-dev", "-dev-root-token-id="+root, "-dev-listen-address="+hostport)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting bao: %v", err)
	}
	b.Cleanup(func() { cancel(); _ = cmd.Wait() })
	addr := "http://" + hostport
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(addr + "/v1/sys/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("bao did not become healthy in 2 minutes: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond) // polling a server's health endpoint against a deadline
	}
	return addr
}
