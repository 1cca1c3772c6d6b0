package observability_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/firebreak-dev/firebreak/observability"
)

// scrape returns m's metrics as exposed, parsed back from the text format, so a test sees
// exactly what Prometheus would.
func scrape(t *testing.T, m *observability.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	if err := m.WriteText(&buf); err != nil {
		t.Fatalf("collecting metrics: %v", err)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, buf.String())
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		if l.GetValue() != "" {
			out[l.GetName()] = l.GetValue()
		}
	}
	return out
}

// find returns the series of family name whose labels include want (and, for "" values, lack
// the label), or nil.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		ok := true
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

func TestTemporalHandlerVaryingTags(t *testing.T) {
	m := observability.New()
	h := m.TemporalHandler()
	// The SDK reports one name with different tag sets, and tags layered with WithTags.
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(2)
	wq := h.WithTags(map[string]string{"namespace": "default", "task_queue": "q1"})
	wq.Counter("temporal_request").Inc(3)
	wq.WithTags(map[string]string{"task_queue": "q2", "operation": "Poll"}).Counter("temporal_request").Inc(1)
	wq.Counter("temporal_request").Inc(4)
	wq.Counter("temporal_request").Inc(-5) // ignored: a counter never goes down
	h.Gauge("temporal_num_pollers").Update(3)
	h.Gauge("temporal_num_pollers").Update(2)
	timer := wq.WithTags(map[string]string{"activity_type": "vault.RevokeTokens"}).Timer("temporal_activity_execution_latency")
	timer.Record(30 * time.Millisecond)
	timer.Record(3 * time.Second)
	// Tags that are not Prometheus names are sanitised, not dropped.
	h.WithTags(map[string]string{"odd-key": "v"}).Counter("temporal.odd-name").Inc(1)

	fams := scrape(t, m)
	reqs := fams["temporal_request_total"]
	if reqs == nil || reqs.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("temporal_request_total: expected a counter family, found %v", reqs)
	}
	if n := len(reqs.GetMetric()); n != 3 {
		t.Fatalf("temporal_request_total: expected 3 series (three tag sets), found %d", n)
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"namespace": "default", "task_queue": "", "operation": ""}, 2},
		{map[string]string{"namespace": "default", "task_queue": "q1", "operation": ""}, 7},
		{map[string]string{"namespace": "default", "task_queue": "q2", "operation": "Poll"}, 1},
	} {
		s := find(fams, "temporal_request_total", c.labels)
		if s == nil || s.GetCounter().GetValue() != c.want {
			t.Errorf("temporal_request_total%v: expected %v, found %v", c.labels, c.want, s)
		}
	}
	if g := find(fams, "temporal_num_pollers", nil); g == nil || g.GetGauge().GetValue() != 2 {
		t.Errorf("temporal_num_pollers: expected the last value 2, found %v", g)
	}
	lat := find(fams, "temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "vault.RevokeTokens", "task_queue": "q1"})
	if lat == nil {
		t.Fatalf("temporal_activity_execution_latency_seconds: no series for vault.RevokeTokens on q1 in %v", fams["temporal_activity_execution_latency_seconds"])
	}
	if h := lat.GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() < 3.03-1e-9 || h.GetSampleSum() > 3.03+1e-9 {
		t.Errorf("activity latency: expected 2 samples summing to 3.03 s, found %d summing to %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if s := find(fams, "temporal_odd_name_total", map[string]string{"odd_key": "v"}); s == nil {
		t.Errorf("temporal.odd-name with tag odd-key: expected temporal_odd_name_total{odd_key=\"v\"}; families: %v", names(fams))
	}
	// Go runtime and process metrics come with every registry.
	if fams["go_goroutines"] == nil {
		t.Errorf("go_goroutines missing; families: %v", names(fams))
	}
}

func names(fams map[string]*dto.MetricFamily) string {
	var out []string
	for n := range fams {
		out = append(out, n)
	}
	return strings.Join(out, " ")
}

func TestHandlerServesExposition(t *testing.T) {
	m := observability.New()
	m.TemporalHandler().Counter("temporal_request").Inc(1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "temporal_request_total 1") {
		t.Fatalf("GET /metrics: expected 200 with temporal_request_total 1, found %d:\n%s", rec.Code, rec.Body.String())
	}
}

// BenchmarkTemporalHandler measures what the SDK pays per metric update: it asks the handler
// for the metric by name on every event, as the SDK does.
func BenchmarkTemporalHandler(b *testing.B) {
	h := observability.New().TemporalHandler().WithTags(map[string]string{"namespace": "default", "task_queue": "firebreak", "activity_type": "vault.RevokeTokens"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Counter("temporal_activity_execution_failed").Inc(1)
			h.Timer("temporal_activity_execution_latency").Record(3 * time.Millisecond)
		}
	})
}
