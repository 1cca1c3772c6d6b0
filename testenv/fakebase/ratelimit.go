package fakebase

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Rate is a sustained request rate with a burst, enforced as a token bucket: the bucket holds
// up to Burst tokens, refills at PerSecond tokens a second, and a request that finds it empty
// is refused. The zero Rate is no limit.
type Rate struct {
	PerSecond float64
	Burst     int // 0 means max(1, PerSecond)
}

// String is the rate as "20/s burst 20", or "unlimited".
func (r Rate) String() string {
	if r.PerSecond <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g/s burst %d", r.PerSecond, r.EffectiveBurst())
}

// EffectiveBurst is Burst, or max(1, PerSecond) when Burst is 0.
func (r Rate) EffectiveBurst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(r.PerSecond))
}

// Bucket is a token bucket enforcing a Rate; it is safe for concurrent use.
type Bucket struct {
	rate Rate

	mu        sync.Mutex
	tokens    float64
	last      time.Time
	throttled int
	allowed   int
}

// NewBucket returns a full bucket for r.
func NewBucket(r Rate) *Bucket {
	return &Bucket{rate: r, tokens: float64(r.EffectiveBurst()), last: time.Now()}
}

// Take consumes a token, or says how long until one is available.
func (b *Bucket) Take(now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = math.Min(float64(b.rate.EffectiveBurst()), b.tokens+now.Sub(b.last).Seconds()*b.rate.PerSecond)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		b.allowed++
		return true, 0
	}
	b.throttled++
	return false, time.Duration((1 - b.tokens) / b.rate.PerSecond * float64(time.Second))
}

// Counts returns how many requests the bucket let through and refused.
func (b *Bucket) Counts() (allowed, throttled int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allowed, b.throttled
}
