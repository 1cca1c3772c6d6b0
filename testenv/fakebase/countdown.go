package fakebase

import "sync"

// Countdown counts down the next n requests that a fault applies to (throttle the next four,
// rate-limit the next two); it is safe for concurrent use. The zero Countdown is at zero.
type Countdown struct {
	mu   sync.Mutex
	left int
}

// NewCountdown returns a Countdown of n.
func NewCountdown(n int) *Countdown { return &Countdown{left: n} }

// Set starts the count again at n.
func (c *Countdown) Set(n int) {
	c.mu.Lock()
	c.left = n
	c.mu.Unlock()
}

// Take reports whether the count was above zero, and counts one down if so.
func (c *Countdown) Take() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		return false
	}
	c.left--
	return true
}
