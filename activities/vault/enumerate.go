package vault

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// DefaultLookupConcurrency is how many accessor lookups an inventory has in flight when
// Activities.LookupConcurrency is 0. A lookup is a cheap read from Vault's token store; 32
// at a time is well within what a production Vault serves (and what its default request
// handling and a rate-limit quota of a few hundred a second allow), and turns a scan of
// 100,000 tokens from minutes of sequential round trips into seconds.
const DefaultLookupConcurrency = 32

// accessorPageSize is how many accessors one LIST asks for where the server pages its lists.
const accessorPageSize = 1000

// heartbeatEvery is how often an inventory records its progress while it looks tokens up.
const heartbeatEvery = time.Second

// ScanProgress is an inventory's progress through Vault's token accessors, recorded as the
// activity's heartbeat details, so that a retry of the activity resumes where the failed
// attempt stopped instead of looking every token up again.
type ScanProgress struct {
	// After is the last accessor, in sorted order, up to which every accessor has been looked
	// up; "" when none has.
	After string `json:"after"`
	// Matched are the accessors up to After that belong to one of the entities sought. A
	// resumed scan looks them up again (they may have been revoked since).
	Matched []string `json:"matched"`
	// LookedUp counts the lookups made so far, over every attempt.
	LookedUp int `json:"looked_up"`
}

func (a *Activities) lookupConcurrency() int {
	if a.LookupConcurrency > 0 {
		return a.LookupConcurrency
	}
	return DefaultLookupConcurrency
}

// listAccessors lists every live token accessor, sorted. It asks for pages (limit and after,
// as OpenBao's paginated lists take them) and takes a whole list back where the server does
// not page this endpoint: Vault, and OpenBao 2.x, which ignores the parameters with a warning
// ("Endpoint ignored these unrecognized parameters"), answer every accessor at once.
func (a *Activities) listAccessors(ctx context.Context) ([]string, error) {
	const listPath = "auth/token/accessors"
	var all []string
	after := ""
	for {
		q := map[string][]string{"list": {"true"}, "limit": {strconv.Itoa(accessorPageSize)}}
		if after != "" {
			q["after"] = []string{after}
		}
		s, err := a.Client.ReadWithDataWithContext(ctx, listPath, q)
		if err != nil {
			return nil, classify(err, "list token accessors", listPath)
		}
		if s == nil {
			break // 404: no (more) accessors
		}
		keys := dataStrings(s.Data, "keys")
		ignored := false
		for _, w := range s.Warnings {
			ignored = ignored || strings.Contains(w, "ignored these unrecognized parameters")
		}
		if ignored || len(keys) > accessorPageSize {
			all = keys // the whole list, not a page
			break
		}
		page := keys[:0:0]
		for _, k := range keys {
			if k > after {
				page = append(page, k) // a server that ignores after silently repeats the list
			}
		}
		all = append(all, page...)
		if len(page) < accessorPageSize {
			break
		}
		after = slices.Max(page)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// tokensByEntity lists every token accessor once, looks each up once — LookupConcurrency at
// a time — and keeps the tokens bound to one of the entities in want, grouped by entity id
// (each list sorted by accessor; an entity with no live token has an empty list). Vault has
// no API listing an entity's tokens, so this is the cost of an inventory: one lookup per live
// token in Vault. Progress is recorded as a ScanProgress heartbeat, and an attempt that finds
// one resumes from it: a token created behind the resumed position is not seen, which is why
// containment disables the entity (that cuts every token bound to it) and does not rely on
// the inventory alone.
func (a *Activities) tokensByEntity(ctx context.Context, want map[string]bool) (map[string][]TokenInfo, error) {
	out := map[string][]TokenInfo{}
	for id := range want {
		out[id] = []TokenInfo{}
	}
	accessors, err := a.listAccessors(ctx)
	if err != nil {
		return nil, err
	}
	var prog ScanProgress
	if activity.HasHeartbeatDetails(ctx) {
		if activity.GetHeartbeatDetails(ctx, &prog) != nil {
			prog = ScanProgress{} // another shape (an older worker's): start over
		}
	}
	// The accessors to look up: the ones a previous attempt matched, then every one after its
	// position.
	start := 0
	if prog.After != "" {
		start, _ = slices.BinarySearch(accessors, prog.After)
		if start < len(accessors) && accessors[start] == prog.After {
			start++
		}
	}
	resumed := len(prog.Matched)
	todo := append(append([]string(nil), prog.Matched...), accessors[start:]...)

	found := make([]*TokenInfo, len(todo))
	done := make([]bool, len(todo))
	lctx, cancel := context.WithCancel(ctx) // the lookups'; the first error stops the others
	defer cancel()
	var (
		mu       sync.Mutex
		next     int
		water    int // every todo[:water] is looked up
		firstErr error
		lastBeat = time.Now()
	)
	// beat records the progress up to water; mu is held.
	beat := func() {
		p := ScanProgress{After: prog.After, LookedUp: prog.LookedUp + water}
		if water <= resumed {
			p.Matched = prog.Matched
		} else {
			p.After = todo[water-1]
			for i := range water {
				if found[i] != nil {
					p.Matched = append(p.Matched, todo[i])
				}
			}
		}
		activity.RecordHeartbeat(ctx, p)
		lastBeat = time.Now()
	}
	var wg sync.WaitGroup
	for range min(a.lookupConcurrency(), max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= len(todo) || firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
				t, err := a.lookupAccessor(lctx, todo[i])
				if t != nil && !want[t.EntityID] {
					t = nil // someone else's: keep only what is sought
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
				found[i], done[i] = t, true
				for water < len(todo) && done[water] {
					water++
				}
				if time.Since(lastBeat) >= heartbeatEvery {
					beat()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	beat() // the last progress, so that a retry after an error resumes from here
	err = firstErr
	mu.Unlock()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range found {
		if t != nil && !seen[t.Accessor] {
			seen[t.Accessor] = true
			out[t.EntityID] = append(out[t.EntityID], *t)
		}
	}
	for id := range out {
		slices.SortFunc(out[id], func(x, y TokenInfo) int { return strings.Compare(x.Accessor, y.Accessor) })
	}
	return out, nil
}

// lookupAccessor looks one accessor up; nil without an error when Vault no longer knows it
// (revoked between the list and the lookup).
func (a *Activities) lookupAccessor(ctx context.Context, acc string) (*TokenInfo, error) {
	const lookupPath = "auth/token/lookup-accessor"
	s, err := a.Client.WriteWithContext(ctx, lookupPath, map[string]any{"accessor": acc})
	if err != nil {
		if code, msg, ok := vaultStatusError(err); ok && code == 400 && strings.Contains(msg, "invalid accessor") {
			return nil, nil
		}
		return nil, classify(err, "look up token accessor "+acc, lookupPath)
	}
	if s == nil {
		return nil, nil
	}
	t := TokenInfo{
		Accessor:    acc,
		DisplayName: dataString(s.Data, "display_name"),
		Path:        dataString(s.Data, "path"),
		EntityID:    dataString(s.Data, "entity_id"),
		ExpireTime:  dataString(s.Data, "expire_time"),
		Policies:    dataStrings(s.Data, "policies"),
		Type:        dataString(s.Data, "type"),
	}
	if t.DisplayName == "token-firebreak-probe" {
		return nil, nil // a probe token: about to be revoked, or left to expire within 60 s (ReadableSecrets)
	}
	if ct := dataInt(s.Data, "creation_time"); ct > 0 {
		t.CreationTime = time.Unix(int64(ct), 0).UTC().Format(time.RFC3339)
	}
	slices.Sort(t.Policies)
	return &t, nil
}
