package observability

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/client"
)

// sdkBuckets are the histogram buckets, in seconds, of the Temporal SDK's timers: from a
// millisecond (a task on the embedded server) to the two-minute ceiling of a long poll.
var sdkBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindTimer
)

// sdkMetrics holds every series the Temporal SDK has reported, and exports them as one
// Prometheus collector. The SDK tags the same metric with different tag sets from call to
// call (temporal_request with or without task_queue, for instance), which a Prometheus *Vec
// cannot hold: a Vec has fixed label names. So each series keeps its own labels, and at
// collection time a family is exported with the union of its series' label names, a missing
// one as "" — which Prometheus treats exactly as an absent label.
type sdkMetrics struct {
	mu       sync.Mutex
	families map[string]*family // by exported name
}

type family struct {
	name   string
	kind   kind
	series map[string]*series // by labelKey
}

type series struct {
	labels map[string]string
	metric prometheus.Metric // a Counter, Gauge or Histogram
}

func newSDKMetrics() *sdkMetrics {
	return &sdkMetrics{families: map[string]*family{}}
}

// exportedName turns an SDK metric name into a Prometheus one: counters end in _total and
// timers, exported as histograms in seconds, in _seconds, as Temporal's Core-based SDKs and
// dashboards name them.
func exportedName(name string, k kind) string {
	n := sanitize(name)
	switch k {
	case kindCounter:
		if !strings.HasSuffix(n, "_total") {
			n += "_total"
		}
	case kindTimer:
		if !strings.HasSuffix(n, "_seconds") {
			n += "_seconds"
		}
	}
	return n
}

// sanitize maps a name onto Prometheus's [a-zA-Z_][a-zA-Z0-9_]*.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// get returns the series of name with labels, creating it on first use. A name already in
// use by another kind of metric gets the kind's suffix on top (never the case for the SDK's
// own names, but a collision must not break the collection).
func (m *sdkMetrics) get(name string, k kind, labels map[string]string) prometheus.Metric {
	n := exportedName(name, k)
	key := labelKey(labels)
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.families[n]
	if f != nil && f.kind != k {
		n += [...]string{"_counter", "_gauge", "_timer"}[k]
		f = m.families[n]
	}
	if f == nil {
		f = &family{name: n, kind: k, series: map[string]*series{}}
		m.families[n] = f
	}
	if s := f.series[key]; s != nil {
		return s.metric
	}
	s := &series{labels: labels}
	switch k {
	case kindCounter:
		s.metric = prometheus.NewCounter(prometheus.CounterOpts{Name: n})
	case kindGauge:
		s.metric = prometheus.NewGauge(prometheus.GaugeOpts{Name: n})
	case kindTimer:
		s.metric = prometheus.NewHistogram(prometheus.HistogramOpts{Name: n, Buckets: sdkBuckets})
	}
	f.series[key] = s
	return s.metric
}

// Describe sends nothing: the collector is unchecked, since the SDK's label names are known
// only as it reports.
func (m *sdkMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect exports every series, each family with the union of its series' label names.
func (m *sdkMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.families {
		names := map[string]bool{}
		for _, s := range f.series {
			for k := range s.labels {
				names[k] = true
			}
		}
		keys := slices.Sorted(maps.Keys(names))
		labelNames := make([]string, len(keys))
		for i, k := range keys {
			labelNames[i] = sanitize(k)
		}
		help := "Temporal SDK metric " + f.name + " (see the Go SDK's metric reference)."
		desc := prometheus.NewDesc(f.name, help, labelNames, nil)
		for _, s := range f.series {
			values := make([]string, len(keys))
			for i, k := range keys {
				values[i] = s.labels[k]
			}
			var d dto.Metric
			if err := s.metric.Write(&d); err != nil {
				ch <- prometheus.NewInvalidMetric(desc, err)
				continue
			}
			var pm prometheus.Metric
			var err error
			switch f.kind {
			case kindCounter:
				pm, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, d.GetCounter().GetValue(), values...)
			case kindGauge:
				pm, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, d.GetGauge().GetValue(), values...)
			case kindTimer:
				h := d.GetHistogram()
				buckets := make(map[float64]uint64, len(h.GetBucket()))
				for _, b := range h.GetBucket() {
					buckets[b.GetUpperBound()] = b.GetCumulativeCount()
				}
				pm, err = prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), buckets, values...)
			}
			if err != nil {
				pm = prometheus.NewInvalidMetric(desc, err)
			}
			ch <- pm
		}
	}
}

// sdkHandler is the client.MetricsHandler the SDK reports through: a tag set over the
// shared sdkMetrics.
type sdkHandler struct {
	m    *sdkMetrics
	tags map[string]string
	// cache holds the metrics this tag set has asked for, by kind and name: the SDK asks for a
	// metric by name at every event, and the shared lookup sorts and joins the tags.
	cache *sync.Map
}

type cacheKey struct {
	kind kind
	name string
}

func (h sdkHandler) get(name string, k kind) prometheus.Metric {
	key := cacheKey{k, name}
	if v, ok := h.cache.Load(key); ok {
		return v.(prometheus.Metric)
	}
	met := h.m.get(name, k, h.tags)
	h.cache.Store(key, met)
	return met
}

var _ client.MetricsHandler = sdkHandler{}

// WithTags returns a handler whose metrics carry tags on top of (and overriding) h's.
func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	maps.Copy(merged, h.tags)
	maps.Copy(merged, tags)
	return sdkHandler{m: h.m, tags: merged, cache: &sync.Map{}}
}

// Counter returns the counter name with h's tags.
func (h sdkHandler) Counter(name string) client.MetricsCounter {
	c := h.get(name, kindCounter).(prometheus.Counter)
	return counterFunc(func(d int64) {
		if d > 0 { // a Prometheus counter never goes down
			c.Add(float64(d))
		}
	})
}

// Gauge returns the gauge name with h's tags.
func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(h.get(name, kindGauge).(prometheus.Gauge).Set)
}

// Timer returns the timer name with h's tags, a histogram in seconds.
func (h sdkHandler) Timer(name string) client.MetricsTimer {
	o := h.get(name, kindTimer).(prometheus.Histogram)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
