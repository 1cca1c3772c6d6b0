package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
)

var scalePlaybooks = flag.String("scale.playbooks", "", "BenchmarkContainAtScale: a directory of playbooks overriding the bundled ones, e.g. testdata/firstcut")

var scaleScenarios = flag.String("scale.scenarios", "none,bystanders=100000,latency=30ms",
	"BenchmarkContainAtScale: comma-separated sandbox conditions, each none or drill faults joined by +")

// BenchmarkContainAtScale drills compromised-dev-key (subject alice) on one embedded server
// under each of -scale.scenarios: none (the bare sandbox), bystanders=N (N other live tokens
// in the sandbox Vault, seeded before the trigger), latency=D (D added to every vendor call),
// or several joined by +. It reports, per scenario, the median over b.N drills of time to
// first cut (trigger → entity disabled, keys deactivated, older sessions denied), of time to
// contain (trigger → the subject's access cut, tokens revoked included) and of the whole run. Compare scenarios with
// each other, never with a fixed figure:
//
//	go test ./cmd/firebreak -run '^$' -bench ContainAtScale -benchtime 5x -timeout 60m
//	go test ./cmd/firebreak -run '^$' -bench ContainAtScale -benchtime 5x -timeout 60m -scale.playbooks testdata/firstcut
func BenchmarkContainAtScale(b *testing.B) {
	b.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	rg, err := startRig(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rg.Close()
	lib, err := playbooks.LoadLibrary(*scalePlaybooks)
	if err != nil {
		b.Fatal(err)
	}
	p, _ := lib.Get("compromised-dev-key")
	inputs, err := p.BindInputs(map[string]string{"subject": "alice"})
	if err != nil {
		b.Fatal(err)
	}
	for _, sc := range strings.Split(*scaleScenarios, ",") {
		b.Run(sc, func(b *testing.B) {
			f := drills.Settings{Timeout: 30 * time.Minute}
			if sc != "none" {
				f.Inject = strings.Split(sc, "+")
			}
			var first, ttc, total []float64
			for i := 0; i < b.N; i++ {
				c := rg.Drill(ctx, p, inputs, f)
				if !c.Passed {
					b.Fatalf("drill %d under %s failed: %s %s", i, sc, c.Error, c.FailureCause)
				}
				first = append(first, float64(c.TimeToFirstCutMS))
				ttc = append(ttc, float64(c.TimeToContainMS))
				total = append(total, float64(c.EndedAt.Sub(c.Trigger.At).Milliseconds()))
			}
			b.ReportMetric(percentile(first, 50), "first-cut-p50-ms")
			b.ReportMetric(percentile(ttc, 50), "ttc-p50-ms")
			b.ReportMetric(percentile(total, 50), "run-p50-ms")
		})
	}
}
