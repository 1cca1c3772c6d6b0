package main

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
)

// BenchmarkTimeToContain drills compromised-dev-key against the zero-latency sandbox on the
// embedded server, b.N times on one rig, and reports time to contain (trigger → last
// containment step) as median and p99 in milliseconds. README.md quotes it:
//
//	go test ./cmd/firebreak -run '^$' -bench TimeToContain -benchtime 50x
func BenchmarkTimeToContain(b *testing.B) {
	b.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	rg, err := startRig(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rg.Close()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		b.Fatal(err)
	}
	p, _ := lib.Get("compromised-dev-key")
	inputs, err := p.BindInputs(map[string]string{"subject": "alice"})
	if err != nil {
		b.Fatal(err)
	}
	f := drills.Settings{Timeout: time.Minute}
	var ttc, total []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := rg.Drill(ctx, p, inputs, f)
		if !c.Passed {
			b.Fatalf("drill %d failed: %s %s", i, c.Error, c.FailureCause)
		}
		ttc = append(ttc, float64(c.TimeToContainMS))
		total = append(total, float64(c.EndedAt.Sub(c.Trigger.At).Milliseconds()))
	}
	b.StopTimer()
	b.ReportMetric(percentile(ttc, 50), "ttc-p50-ms")
	b.ReportMetric(percentile(ttc, 99), "ttc-p99-ms")
	b.ReportMetric(percentile(total, 50), "run-p50-ms")
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(float64(len(s)-1)*p/100 + 0.5)
	return s[i]
}
