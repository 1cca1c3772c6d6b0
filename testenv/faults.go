package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/iamfake"
)

// Sandbox fault kinds: what a drill can break in the sandbox to see whether a playbook still
// contains the compromise. Each is installed with Sandbox.Inject and removed with
// Injection.Clear.
const (
	// FaultVaultDown makes Vault answer 503 "Vault is sealed" to every request for a while
	// (Fault.For, default 1.5s, counted from the first request it answers), then recover.
	FaultVaultDown = "vault-down"
	// FaultVaultSlow adds Fault.Latency (default 250ms) to every Vault request.
	FaultVaultSlow = "vault-slow"
	// FaultIAMThrottle makes the next Fault.Count (default 4) IAM requests answer Throttling
	// ("Rate exceeded"), as AWS does when a caller exceeds the IAM request rate.
	FaultIAMThrottle = "iam-throttle"
	// FaultSlack429 makes the next Fault.Count (default 2) Slack calls answer HTTP 429 with a
	// Retry-After of Fault.For (default 1s).
	FaultSlack429 = "slack-429"
	// FaultPagerDutyDown makes the whole PagerDuty API answer 503 until the fault is cleared.
	FaultPagerDutyDown = "pagerduty-down"
	// FaultSlackDown makes the whole Slack Web API answer 503 until the fault is cleared.
	FaultSlackDown = "slack-down"
	// FaultLatency adds Fault.Latency (default 30ms) to every call to every sandbox service,
	// as vendors across a network answer (Sandbox.SetLatency).
	FaultLatency = "latency"
	// FaultBystanders seeds Fault.Count (default 100,000) more live tokens in the sandbox
	// Vault, the CI and service tokens of a real organisation (Vault.SeedBystanders), unless
	// it holds that many already. They stay until the sandbox is reseeded.
	FaultBystanders = "bystanders"
)

// SandboxFaults lists the sandbox fault kinds, in the order they are documented.
var SandboxFaults = []string{FaultVaultDown, FaultVaultSlow, FaultIAMThrottle, FaultSlack429, FaultPagerDutyDown, FaultSlackDown, FaultLatency, FaultBystanders}

// Fault is one fault to inject. Zero parameters take the kind's documented default.
type Fault struct {
	Kind    string
	For     time.Duration // vault-down: how long Vault stays down; slack-429: the Retry-After
	Latency time.Duration // vault-slow, latency: added to every request
	Count   int           // iam-throttle, slack-429: how many requests fail; bystanders: how many tokens
}

// ParseFault parses KIND or KIND=PARAM, where PARAM is a duration for vault-down (how long),
// vault-slow and latency (the latency), and a count for iam-throttle, slack-429 and bystanders.
func ParseFault(s string) (Fault, error) {
	kind, param, hasParam := strings.Cut(s, "=")
	f := Fault{Kind: kind}
	known := false
	for _, k := range SandboxFaults {
		known = known || k == kind
	}
	if !known {
		return Fault{}, fmt.Errorf("unknown fault %q: expected one of %s", kind, strings.Join(SandboxFaults, ", "))
	}
	if !hasParam {
		return f.withDefaults(), nil
	}
	switch kind {
	case FaultVaultDown, FaultVaultSlow, FaultLatency:
		d, err := time.ParseDuration(param)
		if err != nil || d <= 0 {
			return Fault{}, fmt.Errorf("fault %s: expected a positive duration such as 2s after =, found %q", kind, param)
		}
		if kind == FaultVaultDown {
			f.For = d
		} else {
			f.Latency = d
		}
	case FaultIAMThrottle, FaultSlack429, FaultBystanders:
		n, err := strconv.Atoi(param)
		if err != nil || n <= 0 {
			what := "failed requests"
			if kind == FaultBystanders {
				what = "tokens"
			}
			return Fault{}, fmt.Errorf("fault %s: expected a positive count of %s after =, found %q", kind, what, param)
		}
		f.Count = n
	default:
		return Fault{}, fmt.Errorf("fault %s takes no parameter, found %q", kind, param)
	}
	return f.withDefaults(), nil
}

func (f Fault) withDefaults() Fault {
	switch f.Kind {
	case FaultVaultDown:
		if f.For == 0 {
			f.For = 1500 * time.Millisecond
		}
	case FaultVaultSlow:
		if f.Latency == 0 {
			f.Latency = 250 * time.Millisecond
		}
	case FaultIAMThrottle:
		if f.Count == 0 {
			f.Count = 4
		}
	case FaultLatency:
		if f.Latency == 0 {
			f.Latency = 30 * time.Millisecond
		}
	case FaultBystanders:
		if f.Count == 0 {
			f.Count = 100_000
		}
	case FaultSlack429:
		if f.Count == 0 {
			f.Count = 2
		}
		if f.For == 0 {
			f.For = time.Second
		}
	}
	return f
}

// String is the fault as ParseFault reads it, with its parameters.
func (f Fault) String() string {
	switch f.Kind {
	case FaultVaultDown:
		return fmt.Sprintf("%s=%s", f.Kind, f.For)
	case FaultVaultSlow, FaultLatency:
		return fmt.Sprintf("%s=%s", f.Kind, f.Latency)
	case FaultIAMThrottle, FaultSlack429, FaultBystanders:
		return fmt.Sprintf("%s=%d", f.Kind, f.Count)
	}
	return f.Kind
}

// Service is the sandbox service the fault breaks: "vault", "iam", "slack" or "pagerduty".
func (f Fault) Service() string {
	switch f.Kind {
	case FaultVaultDown, FaultVaultSlow, FaultBystanders:
		return "vault"
	case FaultLatency:
		return "all"
	case FaultIAMThrottle:
		return "iam"
	case FaultSlack429, FaultSlackDown:
		return "slack"
	case FaultPagerDutyDown:
		return "pagerduty"
	}
	return ""
}

// Injection is a fault installed in a sandbox. It counts the requests it answered (or
// delayed) and, once cleared, can say how long the service stayed unusable for the run.
type Injection struct {
	Fault Fault
	sb    *Sandbox
	at    time.Time

	mu      sync.Mutex
	hits    []time.Time
	cleared time.Time
}

// FaultReport is what one injected fault did, for a drill's scorecard.
type FaultReport struct {
	Fault      string    `json:"fault"` // as ParseFault reads it
	Service    string    `json:"service"`
	InjectedAt time.Time `json:"injected_at"`
	ClearedAt  time.Time `json:"cleared_at,omitzero"`
	// Hits counts the requests the fault failed (or, for vault-slow, delayed).
	Hits int `json:"hits"`
	// FirstHit and LastHit bound the requests the fault answered.
	FirstHit time.Time `json:"first_hit,omitzero"`
	LastHit  time.Time `json:"last_hit,omitzero"`
	// RecoveredAt is when the service first answered a request successfully after the last hit.
	RecoveredAt time.Time `json:"recovered_at,omitzero"`
	// DelayMS is how long the fault held the run's use of the service up: from the first hit
	// to recovery, or for vault-slow the latency added over all requests.
	DelayMS int64 `json:"delay_ms"`
}

// Inject installs f in the sandbox, replacing any fault the service had. Faults of different
// services combine; two faults of one service do not (the second replaces the first).
func (s *Sandbox) Inject(f Fault) (*Injection, error) {
	f = f.withDefaults()
	inj := &Injection{Fault: f, sb: s, at: time.Now()}
	switch f.Kind {
	case FaultVaultDown:
		var mu sync.Mutex
		var downUntil time.Time
		s.Vault.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			now := time.Now()
			if downUntil.IsZero() {
				downUntil = now.Add(f.For)
			}
			down := now.Before(downUntil)
			mu.Unlock()
			if !down {
				return false
			}
			inj.hit(now)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"errors":["Vault is sealed"]}`))
			return true
		})
	case FaultVaultSlow:
		s.Vault.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			inj.hit(time.Now())
			t := time.NewTimer(f.Latency)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			return false
		})
	case FaultIAMThrottle:
		left := fakebase.NewCountdown(f.Count)
		s.IAM.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if !left.Take() {
				return false
			}
			inj.hit(time.Now())
			iamfake.WriteError(w, "Throttling", "Rate exceeded")
			return true
		})
	case FaultSlack429:
		// The sandbox's own rate limiter answers; SetFault only observes which calls it limits.
		s.Slack.RateLimit(f.Count, f.For)
		left := fakebase.NewCountdown(f.Count)
		s.Slack.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if left.Take() {
				inj.hit(time.Now())
			}
			return false
		})
	case FaultSlackDown:
		s.Slack.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			inj.hit(time.Now())
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("Slack is unavailable"))
			return true
		})
	case FaultPagerDutyDown:
		s.PagerDuty.SetDown(true)
		s.PagerDuty.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			inj.hit(time.Now())
			return false
		})
	case FaultLatency:
		s.SetLatency(f.Latency)
	case FaultBystanders:
		if !s.Vault.HasBystanders(f.Count) { // injected before the drill's trigger already
			s.Vault.SeedBystanders(f.Count)
		}
	default:
		return nil, fmt.Errorf("unknown fault %q: expected one of %s", f.Kind, strings.Join(SandboxFaults, ", "))
	}
	return inj, nil
}

func (inj *Injection) hit(at time.Time) {
	inj.mu.Lock()
	if inj.cleared.IsZero() {
		inj.hits = append(inj.hits, at)
	}
	inj.mu.Unlock()
}

// Clear removes the fault; the service behaves normally again. Clearing twice is harmless.
func (inj *Injection) Clear() {
	inj.mu.Lock()
	if !inj.cleared.IsZero() {
		inj.mu.Unlock()
		return
	}
	inj.cleared = time.Now()
	inj.mu.Unlock()
	s := inj.sb
	switch inj.Fault.Kind {
	case FaultVaultDown, FaultVaultSlow:
		s.Vault.SetFault(nil)
	case FaultIAMThrottle:
		s.IAM.SetFault(nil)
	case FaultSlack429:
		s.Slack.RateLimit(0, 0)
		s.Slack.SetFault(nil)
	case FaultSlackDown:
		s.Slack.SetFault(nil)
	case FaultPagerDutyDown:
		s.PagerDuty.SetDown(false)
		s.PagerDuty.SetFault(nil)
	case FaultLatency:
		s.SetLatency(0)
	}
}

// Hits returns how many requests the fault has answered (or delayed) so far.
func (inj *Injection) Hits() int {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return len(inj.hits)
}

// Report says what the fault did, using the sandbox's Recorder to find when the service
// recovered. Call it after the run, once the fault is cleared.
func (inj *Injection) Report() FaultReport {
	inj.mu.Lock()
	hits := append([]time.Time(nil), inj.hits...)
	cleared := inj.cleared
	inj.mu.Unlock()
	rep := FaultReport{Fault: inj.Fault.String(), Service: inj.Fault.Service(), InjectedAt: inj.at, ClearedAt: cleared, Hits: len(hits)}
	if inj.Fault.Kind == FaultLatency { // every call since it was injected, until cleared
		for _, c := range inj.sb.Recorder.Calls("") {
			if !c.At.Before(inj.at) && (cleared.IsZero() || c.At.Before(cleared)) {
				rep.Hits++
			}
		}
		rep.DelayMS = int64(rep.Hits) * inj.Fault.Latency.Milliseconds()
		return rep
	}
	if len(hits) == 0 {
		return rep
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Before(hits[j]) })
	rep.FirstHit, rep.LastHit = hits[0], hits[len(hits)-1]
	if inj.Fault.Kind == FaultVaultSlow {
		rep.DelayMS = int64(len(hits)) * inj.Fault.Latency.Milliseconds()
		return rep
	}
	for _, c := range inj.sb.Recorder.Calls(rep.Service) {
		// A call is recorded with the time it arrived; the fault's hit is stamped a moment
		// later, so a call that arrived at or before the last hit was one the fault answered.
		if c.At.After(rep.LastHit) && c.Status < 400 {
			rep.RecoveredAt = c.At
			break
		}
	}
	if !rep.RecoveredAt.IsZero() {
		rep.DelayMS = rep.RecoveredAt.Sub(rep.FirstHit).Milliseconds()
	} else if !cleared.IsZero() {
		rep.DelayMS = cleared.Sub(rep.FirstHit).Milliseconds()
	}
	return rep
}

// MarshalJSON encodes the fault as its string form.
func (f Fault) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }
