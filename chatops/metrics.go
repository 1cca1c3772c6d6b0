package chatops

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// metrics counts requests by endpoint and outcome, and runs by how they were started.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // endpoint, outcome
	starts   map[[2]string]uint64 // source, outcome (started, joined, failed)
}

func (m *metrics) request(endpoint, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == nil {
		m.requests = map[[2]string]uint64{}
	}
	m.requests[[2]string{endpoint, outcome}]++
}

func (m *metrics) start(source, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.starts == nil {
		m.starts = map[[2]string]uint64{}
	}
	m.starts[[2]string{source, outcome}]++
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	s.metrics.mu.Lock()
	var b strings.Builder
	writeCounter(&b, "firebreak_http_requests_total", "Requests to firebreak's endpoints by endpoint and outcome.", "endpoint", "outcome", s.metrics.requests)
	writeCounter(&b, "firebreak_run_starts_total", "Run starts requested by source and outcome (started, joined, failed).", "source", "outcome", s.metrics.starts)
	s.metrics.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func writeCounter(b *strings.Builder, name, help, l1, l2 string, m map[[2]string]uint64) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(b, "%s{%s=%q,%s=%q} %d\n", name, l1, k[0], l2, k[1], m[k])
	}
}
