package testenv

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/iamfake"
)

// RateLimits are the request rates a sandbox enforces per service.
type RateLimits struct {
	// IAM answers Throttling ("Rate exceeded", HTTP 400) beyond this rate, as AWS does. AWS
	// says IAM throttles each account with token buckets refilled every second but publishes
	// no figures; DefaultRateLimits uses 20 requests a second.
	IAM Rate
	// Vault answers 429 "rate limit quota exceeded" with Retry-After beyond this rate, as a
	// Vault rate-limit quota (sys/quotas/rate-limit) does. DefaultRateLimits uses 100 a second.
	Vault Rate
}

// DefaultRateLimits are the realistic limits the mass-deprovision benchmark uses: IAM at 20
// requests a second (burst 20) for the whole account, Vault at 100 a second (burst 100), the
// order of a rate-limit quota an operator sets on a shared Vault.
func DefaultRateLimits() RateLimits {
	return RateLimits{IAM: Rate{PerSecond: 20, Burst: 20}, Vault: Rate{PerSecond: 100, Burst: 100}}
}

// RateLimiter is a set of rate limits installed in a sandbox. It counts the requests each
// service let through and refused.
type RateLimiter struct {
	Limits RateLimits
	sb     *Sandbox
	iam    *fakebase.Bucket
	vault  *fakebase.Bucket
}

// LimitRates makes the sandbox's IAM and Vault enforce l from now on. It uses the services'
// fault hooks, so it replaces any fault injected into them (and an injected fault replaces
// it); Slack's own rate limiter is untouched. Clear removes the limits.
func (s *Sandbox) LimitRates(l RateLimits) *RateLimiter {
	rl := &RateLimiter{Limits: l, sb: s}
	if l.IAM.PerSecond > 0 {
		rl.iam = fakebase.NewBucket(l.IAM)
		s.IAM.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if ok, _ := rl.iam.Take(time.Now()); ok {
				return false
			}
			iamfake.WriteError(w, "Throttling", "Rate exceeded")
			return true
		})
	}
	if l.Vault.PerSecond > 0 {
		rl.vault = fakebase.NewBucket(l.Vault)
		s.Vault.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			ok, wait := rl.vault.Take(time.Now())
			if ok {
				return false
			}
			// Vault's answer to a request over a rate-limit quota, with the headers it adds
			// when the quota enables response headers.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			w.Header().Set("X-Ratelimit-Limit", strconv.Itoa(rl.Limits.Vault.EffectiveBurst()))
			w.Header().Set("X-Ratelimit-Remaining", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintf(w, `{"errors":["request path %q: rate limit quota exceeded"]}`, trimSlash(r.URL.Path))
			return true
		})
	}
	return rl
}

func trimSlash(p string) string {
	if len(p) > 4 && p[:4] == "/v1/" {
		return p[4:]
	}
	return p
}

// Counts returns how many requests service ("iam" or "vault") let through and refused since
// the limits were installed; zeros for a service without a limit.
func (rl *RateLimiter) Counts(service string) (allowed, throttled int) {
	switch {
	case service == "iam" && rl.iam != nil:
		return rl.iam.Counts()
	case service == "vault" && rl.vault != nil:
		return rl.vault.Counts()
	}
	return 0, 0
}

// Bound is the least time the limits allow for making calls[service] successful requests of
// each limited service, starting with full buckets: max over services of
// (calls − burst) ÷ rate. Services are limited independently, so they overlap.
func (rl *RateLimiter) Bound(calls map[string]int) time.Duration {
	var bound time.Duration
	for svc, r := range map[string]Rate{"iam": rl.Limits.IAM, "vault": rl.Limits.Vault} {
		if r.PerSecond <= 0 {
			continue
		}
		if n := calls[svc] - r.EffectiveBurst(); n > 0 {
			bound = max(bound, time.Duration(float64(n)/r.PerSecond*float64(time.Second)))
		}
	}
	return bound
}

// Clear removes the limits: both services answer every request again.
func (rl *RateLimiter) Clear() {
	if rl.iam != nil {
		rl.sb.IAM.SetFault(nil)
	}
	if rl.vault != nil {
		rl.sb.Vault.SetFault(nil)
	}
}
