package chatops

import (
	"sync"
	"time"
)

// PagerDuty redelivers a webhook event it did not see answered 2xx, with the same event id,
// for up to a day. eventWindow is how long an event id is remembered, and maxEvents bounds
// the memory that takes.
const (
	eventWindow = 24 * time.Hour
	maxEvents   = 4096
)

// seenEvents remembers which run each recently handled PagerDuty webhook event started or
// joined, so a redelivery is answered without asking Temporal (which may be slow or down) and
// without any chance of starting a second run. It is a fast path only: across restarts and
// replicas the incident-derived workflow id and its reuse policy keep one run per incident.
type seenEvents struct {
	mu    sync.Mutex
	byID  map[string]seenEvent
	order []string // insertion order, oldest first, for eviction
}

type seenEvent struct {
	run started
	at  time.Time
}

// get returns the run an event id started or joined within the window ending at now.
func (c *seenEvents) get(id string, now time.Time) (started, bool) {
	if id == "" {
		return started{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok || now.Sub(e.at) > eventWindow {
		return started{}, false
	}
	return e.run, true
}

// put records the run an event id started or joined at now, evicting the oldest entries
// beyond maxEvents and those older than the window.
func (c *seenEvents) put(id string, run started, now time.Time) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]seenEvent{}
	}
	if _, ok := c.byID[id]; !ok {
		c.order = append(c.order, id)
	}
	c.byID[id] = seenEvent{run: run, at: now}
	drop := 0
	for drop < len(c.order) && (len(c.order)-drop > maxEvents || now.Sub(c.byID[c.order[drop]].at) > eventWindow) {
		delete(c.byID, c.order[drop])
		drop++
	}
	c.order = c.order[drop:]
}
