package vault_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

// countingLogical passes calls to a Vault client, counting accessor lookups (and the most in
// flight at once), and fails every lookup after failAfter of them when failAfter > 0.
type countingLogical struct {
	vault.Logical
	failAfter int

	mu                           sync.Mutex
	lookups, inFlight, maxFlight int
	looked                       []string
}

func (c *countingLogical) WriteWithContext(ctx context.Context, path string, data map[string]any) (*api.Secret, error) {
	if path != "auth/token/lookup-accessor" {
		return c.Logical.WriteWithContext(ctx, path, data)
	}
	c.mu.Lock()
	c.lookups++
	if c.failAfter > 0 && c.lookups > c.failAfter {
		c.mu.Unlock()
		return nil, errors.New("connection reset by peer")
	}
	c.inFlight++
	c.maxFlight = max(c.maxFlight, c.inFlight)
	c.looked = append(c.looked, data["accessor"].(string))
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.inFlight--; c.mu.Unlock() }()
	return c.Logical.WriteWithContext(ctx, path, data)
}

// inventoryEnv runs Inventory in a TestActivityEnvironment that starts from details (when not
// nil) and reports the last heartbeat the activity recorded.
func inventoryEnv(t *testing.T, acts *vault.Activities, subject string, details *vault.ScanProgress) (vault.InventoryResult, *vault.ScanProgress, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	vault.Register(env, acts)
	if details != nil {
		env.SetHeartbeatDetails(*details)
	}
	var mu sync.Mutex
	var last *vault.ScanProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p vault.ScanProgress
		if err := d.Get(&p); err != nil {
			t.Errorf("heartbeat details: %v", err)
			return
		}
		mu.Lock()
		last = &p
		mu.Unlock()
	})
	val, err := env.ExecuteActivity(vault.ActivityPrefix+"Inventory", vault.InventoryInput{Subject: subject})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return vault.InventoryResult{}, last, err
	}
	var res vault.InventoryResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, last, nil
}

// TestInventoryLooksUpInParallel: the lookups overlap, never more than LookupConcurrency at a
// time, and the result is the sequential scan's.
func TestInventoryLooksUpInParallel(t *testing.T) {
	h := newHarness(t)
	h.v.SeedBystanders(400)
	h.rec.SetLatency(2 * time.Millisecond) // so that lookups last long enough to overlap
	var want vault.InventoryResult
	seq := &countingLogical{Logical: h.acts.Client}
	if err := h.run(&vault.Activities{Client: seq, LookupConcurrency: 1}, "Inventory", vault.InventoryInput{Subject: "alice"}, &want); err != nil {
		t.Fatal(err)
	}
	if seq.maxFlight != 1 {
		t.Errorf("LookupConcurrency 1: %d lookups in flight at once, want 1", seq.maxFlight)
	}
	par := &countingLogical{Logical: h.acts.Client}
	var got vault.InventoryResult
	if err := h.run(&vault.Activities{Client: par, LookupConcurrency: 8}, "Inventory", vault.InventoryInput{Subject: "alice"}, &got); err != nil {
		t.Fatal(err)
	}
	if par.maxFlight < 2 || par.maxFlight > 8 {
		t.Errorf("LookupConcurrency 8: at most %d lookups in flight at once, want from 2 to 8", par.maxFlight)
	}
	if par.lookups != seq.lookups || par.lookups < 400 {
		t.Errorf("parallel scan looked up %d accessors, sequential %d; want the same, every token (400 bystanders and more)", par.lookups, seq.lookups)
	}
	if strings.Join(got.Accessors, ",") != strings.Join(want.Accessors, ",") || len(got.Accessors) != 2 {
		t.Errorf("parallel scan found %v, sequential %v; want alice's two tokens from both", got.Accessors, want.Accessors)
	}
	h.noCanary()
}

// TestInventoryResumesAfterFailure: an attempt that fails half way records how far it got;
// the next attempt, given that heartbeat, looks up only what is left (and the tokens already
// matched, once more) and finds every token of the subject.
func TestInventoryResumesAfterFailure(t *testing.T) {
	h := newHarness(t)
	h.v.SeedBystanders(3000)
	failing := &countingLogical{Logical: h.acts.Client, failAfter: 1500}
	_, beat, err := inventoryEnv(t, &vault.Activities{Client: failing, LookupConcurrency: 4}, "alice", nil)
	if err == nil {
		t.Fatal("the first attempt succeeded; want it to fail after 1,500 lookups")
	}
	if beat == nil || beat.After == "" || beat.LookedUp < 1000 {
		t.Fatalf("last heartbeat of the failed attempt = %+v; want progress past 1,000 accessors", beat)
	}
	// alice's accessors sort before the bystanders', so the failed attempt matched both.
	if strings.Join(beat.Matched, ",") != "acc-alice-ci,acc-alice-laptop" {
		t.Errorf("heartbeat matched %v, want alice's two accessors", beat.Matched)
	}
	retry := &countingLogical{Logical: h.acts.Client}
	res, _, err := inventoryEnv(t, &vault.Activities{Client: retry, LookupConcurrency: 4}, "alice", beat)
	if err != nil {
		t.Fatalf("the resumed attempt: %v", err)
	}
	if strings.Join(res.Accessors, ",") != "acc-alice-ci,acc-alice-laptop" {
		t.Errorf("resumed inventory found %v, want alice's two tokens", res.Accessors)
	}
	total := h.v.SeedBystanders(0) // every token in the sandbox
	if retry.lookups >= total-1000 {
		t.Errorf("the resumed attempt looked up %d of %d accessors; want it to skip the %d already looked up", retry.lookups, total, beat.LookedUp)
	}
	for _, acc := range retry.looked {
		if acc <= beat.After && !slices.Contains(beat.Matched, acc) {
			t.Errorf("the resumed attempt looked up %s again, at or before the recorded position %s", acc, beat.After)
			break
		}
	}
}

// pagingLogical serves LIST auth/token/accessors from keys, honouring limit and after as a
// paginating server does (or ignoring them with OpenBao's warning when ignore is set).
type pagingLogical struct {
	vault.Logical
	keys   []string
	ignore bool
	lists  int
}

func (p *pagingLogical) ReadWithDataWithContext(ctx context.Context, path string, data map[string][]string) (*api.Secret, error) {
	if path != "auth/token/accessors" {
		return p.Logical.ReadWithDataWithContext(ctx, path, data)
	}
	p.lists++
	if p.ignore {
		return &api.Secret{Data: map[string]any{"keys": toAny(p.keys)}, Warnings: []string{"Endpoint ignored these unrecognized parameters: [after limit]"}}, nil
	}
	limit, _ := strconv.Atoi(data["limit"][0])
	after := ""
	if a := data["after"]; len(a) > 0 {
		after = a[0]
	}
	sorted := slices.Sorted(slices.Values(p.keys))
	var page []string
	for _, k := range sorted {
		if k > after && len(page) < limit {
			page = append(page, k)
		}
	}
	if len(page) == 0 {
		return nil, nil
	}
	return &api.Secret{Data: map[string]any{"keys": toAny(page)}}, nil
}

func (p *pagingLogical) WriteWithContext(ctx context.Context, path string, data map[string]any) (*api.Secret, error) {
	return nil, fmt.Errorf("unexpected write to %s", path)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// TestListAccessorsPages: where the server pages, the list is read page by page; where it
// ignores the parameters (Vault, OpenBao 2.x), one answer is the whole list.
func TestListAccessorsPages(t *testing.T) {
	h := newHarness(t)
	var keys []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("acc-%05d", 2500-i))
	}
	for _, tc := range []struct {
		ignore bool
		lists  int
	}{{false, 3}, {true, 1}} {
		pl := &pagingLogical{Logical: h.acts.Client, keys: keys, ignore: tc.ignore}
		got, err := vault.ListAccessors(context.Background(), &vault.Activities{Client: pl})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2500 || !slices.IsSorted(got) {
			t.Errorf("ignore %v: listed %d accessors (sorted %v), want 2500 sorted", tc.ignore, len(got), slices.IsSorted(got))
		}
		if pl.lists != tc.lists {
			t.Errorf("ignore %v: %d LIST requests, want %d", tc.ignore, pl.lists, tc.lists)
		}
	}
	// The sandbox, like Vault, ignores the parameters silently: a list of exactly one page
	// is asked for twice, and read once.
	h.v.SeedBystanders(1000 - h.v.SeedBystanders(0))
	got, err := vault.ListAccessors(context.Background(), h.acts)
	if err != nil || len(got) != 1000 {
		t.Fatalf("sandbox list of 1,000: %d accessors, %v", len(got), err)
	}
}
