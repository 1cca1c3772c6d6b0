package drills

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// drillFault is one parsed --inject: a sandbox fault or a worker crash.
type drillFault struct {
	sandbox   *testenv.Fault
	crash     bool
	crashDown time.Duration // how long the worker stays down
}

// FaultWorkerCrash is the fault that stops the drill worker once the evidence snapshot is
// stored and starts a new one a while later; the others are the sandbox's (testenv.SandboxFaults).
const FaultWorkerCrash = "worker-crash"

// injectedKinds names the injected faults, for the run's memo: the audit record and the review
// tell them from real failures.
func injectedKinds(faults []drillFault) []string {
	kinds := []string{}
	for _, f := range faults {
		if f.crash {
			kinds = append(kinds, FaultWorkerCrash)
		} else if f.sandbox != nil {
			kinds = append(kinds, f.sandbox.Kind)
		}
	}
	return kinds
}

// FaultKinds names every fault a drill can inject.
func FaultKinds() []string {
	return append(append([]string(nil), testenv.SandboxFaults...), FaultWorkerCrash)
}

// CheckFaults says what is wrong with --inject values, before any drill runs; its errors are
// the caller's usage errors.
func CheckFaults(items []string) error {
	_, err := parseFaults(items)
	return err
}

// parseFaults parses --inject values; a kind may be given once.
func parseFaults(items []string) ([]drillFault, error) {
	var out []drillFault
	seen := map[string]bool{}
	for _, it := range items {
		kind, param, hasParam := strings.Cut(it, "=")
		if seen[kind] {
			return nil, fmt.Errorf("--inject %s: given twice; give each fault once", kind)
		}
		seen[kind] = true
		if kind == FaultWorkerCrash {
			df := drillFault{crash: true, crashDown: 500 * time.Millisecond}
			if hasParam {
				d, err := time.ParseDuration(param)
				if err != nil || d < 0 {
					return nil, fmt.Errorf("--inject %s: expected how long the worker stays down, such as 2s, after =, found %q", kind, param)
				}
				df.crashDown = d
			}
			out = append(out, df)
			continue
		}
		sf, err := testenv.ParseFault(it)
		if err != nil {
			if !slices.Contains(testenv.SandboxFaults, kind) {
				return nil, fmt.Errorf("--inject: unknown fault %q: expected one of %s", kind, strings.Join(FaultKinds(), ", "))
			}
			return nil, fmt.Errorf("--inject: %v", err)
		}
		out = append(out, drillFault{sandbox: &sf})
	}
	return out, nil
}

// startPhase reports whether a sandbox fault is injected before the run starts; the others
// strike when containment begins (the evidence snapshot is stored).
func startPhase(f testenv.Fault) bool { return f.Kind != testenv.FaultVaultDown }

// faultRun is the fault machinery of one drill.
type faultRun struct {
	r      *Rig
	faults []drillFault

	mu      sync.Mutex
	injs    []*testenv.Injection
	crashes []testenv.FaultReport
	errs    []string
	once    sync.Once     // the containment phase happens (or is called off) once
	done    chan struct{} // closed when the containment-phase work has finished
}

func newFaultRun(r *Rig, faults []drillFault) *faultRun {
	return &faultRun{r: r, faults: faults, done: make(chan struct{})}
}

// arm injects the start-phase faults and hooks the containment-phase ones to the evidence
// snapshot. runCtx bounds the crash handling.
func (fr *faultRun) arm(runCtx context.Context, watch func() string) error {
	var atContainment []drillFault
	for _, f := range fr.faults {
		if f.sandbox != nil && startPhase(*f.sandbox) {
			inj, err := fr.r.sb.Inject(*f.sandbox)
			if err != nil {
				return err
			}
			fr.injs = append(fr.injs, inj)
			continue
		}
		atContainment = append(atContainment, f)
	}
	if len(atContainment) == 0 {
		fr.once.Do(func() { close(fr.done) })
		return nil
	}
	fr.r.setSnapshotHook(func() {
		fr.once.Do(func() {
			var crash *drillFault
			for _, f := range atContainment {
				if f.crash {
					crash = &f
					continue
				}
				// Installed inside the snapshot activity, before the workflow learns that it
				// may start changing things: the fault is in place for all of containment.
				inj, err := fr.r.sb.Inject(*f.sandbox)
				fr.mu.Lock()
				if err != nil {
					fr.errs = append(fr.errs, err.Error())
				} else {
					fr.injs = append(fr.injs, inj)
				}
				fr.mu.Unlock()
			}
			if crash == nil {
				close(fr.done)
				return
			}
			// The worker cannot be stopped from inside one of its own activities: crash it
			// from outside, once this activity has returned.
			go func() {
				defer close(fr.done)
				fr.crash(runCtx, *crash, watch)
			}()
		})
	})
	return nil
}

// crash stops the drill worker, keeps it down for a while, starts a new one, and measures
// when the run made progress again (the new worker answered a status query).
func (fr *faultRun) crash(ctx context.Context, f drillFault, watch func() string) {
	rep := testenv.FaultReport{Fault: fmt.Sprintf("%s=%s", FaultWorkerCrash, f.crashDown), Service: "worker", InjectedAt: time.Now()}
	fr.r.stopWorker()
	rep.FirstHit = time.Now()
	if f.crashDown > 0 {
		t := time.NewTimer(f.crashDown)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := fr.r.startWorker()
	rep.ClearedAt, rep.LastHit = time.Now(), time.Now()
	if err != nil {
		fr.mu.Lock()
		fr.errs = append(fr.errs, "restarting the drill worker after the crash: "+err.Error())
		fr.crashes = append(fr.crashes, rep)
		fr.mu.Unlock()
		return
	}
	if msg := watch(); msg == "" {
		rep.RecoveredAt = time.Now()
		rep.DelayMS = rep.RecoveredAt.Sub(rep.InjectedAt).Milliseconds()
	} else {
		fr.mu.Lock()
		fr.errs = append(fr.errs, "after the worker crash the run did not answer: "+msg)
		fr.mu.Unlock()
	}
	fr.mu.Lock()
	fr.crashes = append(fr.crashes, rep)
	fr.mu.Unlock()
}

// clearWhenVerified brings a downed vendor (pagerduty-down, slack-down) back once every
// containment and verification step of the run has finished: the vendor stays down for the
// whole of containment, and the messages it missed wait in the run's outbox and are delivered
// (late, once each) when it returns. Keeping it down until the run ends would never end: the
// run stays open until its outboxes are empty.
func (fr *faultRun) clearWhenVerified(ctx context.Context, c client.Client, wfID string, p *playbooks.Plan) {
	var down []*testenv.Injection
	fr.mu.Lock()
	for _, inj := range fr.injs {
		if inj.Fault.Kind == testenv.FaultPagerDutyDown || inj.Fault.Kind == testenv.FaultSlackDown {
			down = append(down, inj)
		}
	}
	fr.mu.Unlock()
	if len(down) == 0 {
		return
	}
	defer func() {
		for _, inj := range down {
			inj.Clear()
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		res, err := runs.QueryStatus(ctx, c, wfID, 5*time.Second)
		if err != nil {
			continue // the run may not have started its first task yet
		}
		if res.Outcome != workflows.OutcomeRunning || containmentSettled(p, res) {
			return
		}
	}
}

func containmentSettled(p *playbooks.Plan, res workflows.RunResult) bool {
	for i, st := range p.Steps {
		if !(st.Contains || st.Verifies) || i >= len(res.Steps) {
			continue
		}
		switch res.Steps[i].Status {
		case workflows.StatusPending, workflows.StatusRunning:
			return false
		}
	}
	return true
}

// finish clears every fault and reports what each did.
func (fr *faultRun) finish() []testenv.FaultReport {
	fr.r.setSnapshotHook(nil)
	// A run that never stored its evidence never reached containment: call the phase off.
	fr.once.Do(func() { close(fr.done) })
	<-fr.done
	fr.mu.Lock()
	defer fr.mu.Unlock()
	var out []testenv.FaultReport
	for _, inj := range fr.injs {
		inj.Clear()
		out = append(out, inj.Report())
	}
	return append(out, fr.crashes...)
}

// FaultSignatures say which actions or activities (by prefix) each fault a drill injects
// strikes and what their failures then say: a post-incident review of a drill
// (audit.ReviewMarkdown) tells them from real failures with it.
var FaultSignatures = map[string]audit.FaultSignature{
	testenv.FaultVaultDown:     {Prefixes: []string{"vault."}, Says: []string{"sealed", "503", "Service Unavailable"}},
	testenv.FaultVaultSlow:     {Prefixes: []string{"vault."}, Says: []string{"timeout", "deadline"}},
	testenv.FaultIAMThrottle:   {Prefixes: []string{"awsiam.", "iam"}, Says: []string{"Throttl", "Rate exceeded"}},
	testenv.FaultSlack429:      {Prefixes: []string{"slack.", "slack"}, Says: []string{"429", "rate", "ratelimited"}},
	testenv.FaultSlackDown:     {Prefixes: []string{"slack.", "slack"}, Says: []string{"503", "unavailable", "Service Unavailable"}},
	testenv.FaultPagerDutyDown: {Prefixes: []string{"pagerduty.", "pagerduty"}, Says: []string{"503", "unavailable", "Service Unavailable"}},
	FaultWorkerCrash:           {Prefixes: []string{""}, Says: []string{"timed out", "timeout", "worker"}},
}
