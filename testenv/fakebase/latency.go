package fakebase

import (
	"net/http"
	"time"
)

// SetLatency makes every service recording here answer each request d later than it would,
// as a vendor across a network does: a drill or benchmark then measures round trips, not
// loopback. The delay comes before the service handles the request (and before any fault or
// rate limit), so a request and its effect are both d late. Zero removes it.
func (r *Recorder) SetLatency(d time.Duration) { r.latency.Store(int64(max(d, 0))) }

// Latency is the delay SetLatency installed.
func (r *Recorder) Latency() time.Duration { return time.Duration(r.latency.Load()) }

// delay waits out the latency, or until the caller gives up; it reports whether to go on.
func (r *Recorder) delay(req *http.Request) bool {
	d := r.Latency()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-req.Context().Done():
		return false
	}
}
