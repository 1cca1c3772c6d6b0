package chatops

import (
	"strconv"
	"testing"
	"time"
)

func TestSeenEventsWindowAndBound(t *testing.T) {
	var c seenEvents
	t0 := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	c.put("E1", started{WorkflowID: "pd/P1", RunID: "r1"}, t0)
	if got, ok := c.get("E1", t0.Add(eventWindow)); !ok || got.RunID != "r1" {
		t.Fatalf("within the window: found %+v %v, want run r1", got, ok)
	}
	if _, ok := c.get("E1", t0.Add(eventWindow+time.Second)); ok {
		t.Fatal("after the window: expected the event forgotten, found it")
	}
	if _, ok := c.get("", t0); ok {
		t.Fatal("an empty event id must never match")
	}
	c.put("", started{RunID: "x"}, t0)
	if len(c.byID) != 1 {
		t.Fatalf("an empty event id was stored: %d entries", len(c.byID))
	}
	// Over the bound, the oldest go first.
	for i := range maxEvents + 10 {
		c.put("B"+strconv.Itoa(i), started{RunID: strconv.Itoa(i)}, t0.Add(time.Hour))
	}
	if len(c.byID) != maxEvents || len(c.order) != maxEvents {
		t.Fatalf("expected %d entries, found %d (order %d)", maxEvents, len(c.byID), len(c.order))
	}
	if _, ok := c.get("E1", t0.Add(time.Hour)); ok {
		t.Error("expected the oldest event evicted, found it")
	}
	if _, ok := c.get("B9", t0.Add(time.Hour)); ok {
		t.Error("expected B9 evicted, found it")
	}
	if got, ok := c.get("B10", t0.Add(time.Hour)); !ok || got.RunID != "10" {
		t.Errorf("expected B10 kept, found %+v %v", got, ok)
	}
	// Entries older than the window are dropped on the next put even under the bound.
	c.put("late", started{}, t0.Add(3*eventWindow))
	if len(c.byID) != 1 {
		t.Errorf("expected only the new entry after the window passed, found %d", len(c.byID))
	}
}
