package devserver

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// The benchmarks run workflows end to end (client → server → SDK worker →
// server → client) on an in-memory server, once with the server's stock
// dynamic configuration and once with the dev-mode settings of dynconfig.go,
// so the effect of the tuning is measured, not assumed:
//
//	go test -run XXX -bench . -benchtime 20x ./testenv/devserver/

func BenchmarkOneActivityWorkflow(b *testing.B) {
	benchmarkWorkflow(b, oneActivityWorkflow)
}

func BenchmarkTenSequentialActivities(b *testing.B) {
	benchmarkWorkflow(b, tenActivitiesWorkflow)
}

func benchmarkWorkflow(b *testing.B, wf any) {
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{name: "stock", opts: Options{stockDynamicConfig: true}},
		{name: "dev", opts: Options{}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s := startServer(b, mode.opts)
			c, _ := dialWorker(b, s)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			// Warm up: task queue partitions load, the worker's pollers connect.
			if _, err := runWorkflow(ctx, c, "warmup", wf, "w"); err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				if _, err := runWorkflow(ctx, c, "bench-"+strconv.Itoa(i), wf, "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
