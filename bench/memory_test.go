package bench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// memPeak is what memSampler saw of one process.
//
// HWM is the kernel's own peak resident set (VmHWM), which misses no peak; the kernel keeps
// RSS in per-thread counters it folds in from time to time, so a sampled VmRSS can exceed it
// by a few hundred kB. The rest come from samples of /proc/PID/status every 100 ms, so a
// peak shorter than that can be missed: PeakRSS is the
// highest VmRSS sampled, and Anon and File are RssAnon (heap, stacks: what the process
// allocated) and RssFile (pages of the executable and other mapped files, which the kernel
// shares with the page cache and may drop under pressure) in that same sample. PeakAnon and
// PeakFile are each field's own highest sample, not necessarily simultaneous. Idle is VmRSS
// at the first sample, the worker ready and before the run.
type memPeak struct {
	HWM, PeakRSS, Anon, File, PeakAnon, PeakFile, Idle int64
	Samples                                            int
}

func (m memPeak) String() string {
	const mb = 1 << 20
	return fmt.Sprintf("VmHWM %.1f MB; sampled peak VmRSS %.1f MB = RssAnon %.1f + RssFile %.1f MB (highest RssAnon %.1f MB, RssFile %.1f MB; %.1f MB when ready; %d samples)",
		float64(m.HWM)/mb, float64(m.PeakRSS)/mb, float64(m.Anon)/mb, float64(m.File)/mb, float64(m.PeakAnon)/mb, float64(m.PeakFile)/mb, float64(m.Idle)/mb, m.Samples)
}

// memSampler samples a process's /proc status until stopped.
type memSampler struct {
	pid  int
	done chan struct{}
	out  chan memPeak
}

// sampleMemory starts sampling process pid every 100 ms.
func sampleMemory(pid int) *memSampler {
	s := &memSampler{pid: pid, done: make(chan struct{}), out: make(chan memPeak, 1)}
	go func() {
		var m memPeak
		take := func() {
			st, err := procStatus(pid)
			if err != nil {
				return
			}
			if m.Samples == 0 {
				m.Idle = st["VmRSS"]
			}
			m.Samples++
			if st["VmRSS"] > m.PeakRSS {
				m.PeakRSS, m.Anon, m.File = st["VmRSS"], st["RssAnon"], st["RssFile"]
			}
			m.PeakAnon, m.PeakFile, m.HWM = max(m.PeakAnon, st["RssAnon"]), max(m.PeakFile, st["RssFile"]), st["VmHWM"]
		}
		take()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				take()
				s.out <- m
				return
			case <-tick.C:
				take()
			}
		}
	}()
	return s
}

// stop takes a last sample (call it before the process exits: VmHWM comes from it) and
// returns what was seen.
func (s *memSampler) stop() (memPeak, error) {
	close(s.done)
	m := <-s.out
	if m.Samples == 0 || m.HWM == 0 {
		return m, fmt.Errorf("no /proc/%d/status sample with VmHWM; expected one every 100 ms while the process ran", s.pid)
	}
	return m, nil
}

// procStatus reads the size fields (VmHWM, VmRSS, RssAnon, RssFile…) of /proc/PID/status,
// in bytes.
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		rest = strings.TrimSpace(rest)
		if !ok || !strings.HasSuffix(rest, " kB") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(rest, "kB")), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/status %s: expected a size in kB, found %q", pid, name, rest)
		}
		out[name] = kb * 1024
	}
	if _, ok := out["VmHWM"]; !ok {
		return nil, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
	}
	return out, nil
}
