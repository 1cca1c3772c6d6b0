package vault_test

import (
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

var (
	benchTokens  = flag.Int("inventory.tokens", 100_000, "BenchmarkInventoryAmongTokens: bystander tokens in the sandbox Vault")
	benchLatency = flag.Duration("inventory.latency", 0, "BenchmarkInventoryAmongTokens: latency added to every sandbox Vault call")
)

// BenchmarkInventoryAmongTokens inventories one person (alice, two tokens) in a sandbox Vault
// that also holds -inventory.tokens bystander tokens: sequential is one lookup at a time (the
// scan before lookups ran in parallel), parallel is DefaultLookupConcurrency at a time.
//
//	go test ./activities/vault -run '^$' -bench InventoryAmongTokens -benchtime 3x
func BenchmarkInventoryAmongTokens(b *testing.B) {
	for _, bc := range []struct {
		name        string
		concurrency int
	}{{"sequential", 1}, {"parallel", vault.DefaultLookupConcurrency}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(&testing.T{})
			defer h.v.Close()
			h.v.SeedBystanders(*benchTokens)
			h.rec.SetLatency(*benchLatency)
			// A client whose connection pool holds as many connections as lookups in flight, as
			// the worker's does (the SDK's default keeps GOMAXPROCS+1).
			cfg := api.DefaultConfig()
			cfg.Address = h.v.URL()
			cfg.HttpClient.Transport.(*http.Transport).MaxIdleConnsPerHost = bc.concurrency
			c, err := api.NewClient(cfg)
			if err != nil {
				b.Fatal(err)
			}
			c.SetToken(h.v.RootToken())
			acts := &vault.Activities{Client: c.Logical(), LookupConcurrency: bc.concurrency}
			b.ResetTimer()
			var total time.Duration
			for range b.N {
				h.rec.Reset()
				start := time.Now()
				var res vault.InventoryResult
				if err := h.run(acts, "Inventory", vault.InventoryInput{Subject: "alice"}, &res); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				if len(res.Accessors) != 2 {
					b.Fatalf("found %v, want alice's two tokens", res.Accessors)
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/inventory")
		})
	}
}
