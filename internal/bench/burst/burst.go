// Package burst is an open-loop HTTP load generator for burst tests of a
// Serve application: a steady rate, a spike of Multiplier × the rate, then
// the steady rate again. Requests are sent on schedule whatever the answers
// (open loop), so a slow server sees the queue a real burst would build.
//
// Every request is classified: ok (2xx), rejected (HTTP 503, Serve's
// back-pressure answer once max_queued_requests is reached), other HTTP
// status, reset (the connection broke: reset, EOF, refused) or hung (no
// answer within RequestTimeout).
package burst

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Profile is the load shape.
type Profile struct {
	RatePerSecond float64       // steady arrival rate
	Multiplier    float64       // spike rate = Multiplier × RatePerSecond
	Before        time.Duration // steady phase before the spike
	Spike         time.Duration
	After         time.Duration // steady phase after the spike
	// RequestTimeout marks a request as hung. Default 30s.
	RequestTimeout time.Duration
}

// Outcome of one request.
type Outcome int

const (
	OK Outcome = iota
	Rejected503
	OtherStatus
	Reset
	Hung
)

func (o Outcome) String() string {
	return [...]string{"ok", "rejected_503", "other_status", "reset", "hung"}[o]
}

// Sample is one request.
type Sample struct {
	Start   time.Duration // since the run began
	Latency time.Duration
	Outcome Outcome
	Status  int
	Err     string
}

// Request builds one request; it is called once per arrival.
type Request func(ctx context.Context) (*http.Request, error)

// Run sends the profile's arrivals and returns every sample, sorted by start.
func Run(ctx context.Context, client *http.Client, newReq Request, p Profile) []Sample {
	timeout := p.RequestTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var (
		mu      sync.Mutex
		samples []Sample
		wg      sync.WaitGroup
	)
	begin := time.Now()
	total := p.Before + p.Spike + p.After
	next := time.Duration(0)
	for next < total {
		rate := p.RatePerSecond
		if next >= p.Before && next < p.Before+p.Spike {
			rate *= p.Multiplier
		}
		if d := time.Until(begin.Add(next)); d > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return sorted(samples)
			case <-time.After(d):
			}
		}
		start := next
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := one(ctx, client, newReq, timeout)
			s.Start = start
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}()
		next += time.Duration(float64(time.Second) / rate)
	}
	wg.Wait()
	return sorted(samples)
}

func sorted(s []Sample) []Sample {
	sort.Slice(s, func(i, j int) bool { return s[i].Start < s[j].Start })
	return s
}

func one(ctx context.Context, client *http.Client, newReq Request, timeout time.Duration) Sample {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newReq(ctx)
	if err != nil {
		return Sample{Outcome: OtherStatus, Err: err.Error()}
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	s := Sample{Latency: time.Since(t0)}
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil):
		s.Outcome, s.Err = Hung, err.Error()
	case err != nil:
		s.Outcome, s.Err = Reset, err.Error()
	case resp.StatusCode == http.StatusServiceUnavailable:
		s.Outcome, s.Status = Rejected503, resp.StatusCode
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		s.Outcome, s.Status = OtherStatus, resp.StatusCode
	default:
		s.Status = resp.StatusCode
	}
	return s
}

// Phase sums up the samples that started in [From, To).
type Phase struct {
	Name                                   string
	From, To                               time.Duration
	Sent, OK, Rejected, Other, Reset, Hung int
	P50, P99                               time.Duration // of the OK requests
}

// Percentile is the nearest-rank percentile (q in (0,1]) of d; 0 for none.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(rank, 0)]
}

// Summarize splits samples into phases.
func Summarize(samples []Sample, name string, from, to time.Duration) Phase {
	p := Phase{Name: name, From: from, To: to}
	var lat []time.Duration
	for _, s := range samples {
		if s.Start < from || s.Start >= to {
			continue
		}
		p.Sent++
		switch s.Outcome {
		case OK:
			p.OK++
			lat = append(lat, s.Latency)
		case Rejected503:
			p.Rejected++
		case OtherStatus:
			p.Other++
		case Reset:
			p.Reset++
		case Hung:
			p.Hung++
		}
	}
	p.P50, p.P99 = Percentile(lat, 0.50), Percentile(lat, 0.99)
	return p
}

// Report is the result of a run.
type Report struct {
	Profile Profile
	Phases  []Phase // before, during, after
	// Recovery is the time from the end of the spike to the start of the
	// first Window (sliding by Step) whose OK requests have a p99 within
	// Tolerance × the pre-spike p99 and no rejections; -1 when that did not
	// happen before the end of the run.
	Recovery            time.Duration
	Window, Step        time.Duration
	Tolerance           float64
	FirstRejection      time.Duration // since the spike began; -1 for none
	Failures            []string      // a few example errors of resets and hangs
	MaxLatencyDuringRun time.Duration
}

// Analyze builds the report. Recovery windows are Window long and slide by Step.
func Analyze(samples []Sample, p Profile, window, step time.Duration, tolerance float64) Report {
	spikeStart, spikeEnd, end := p.Before, p.Before+p.Spike, p.Before+p.Spike+p.After
	r := Report{Profile: p, Window: window, Step: step, Tolerance: tolerance, Recovery: -1, FirstRejection: -1}
	r.Phases = []Phase{
		Summarize(samples, "before", 0, spikeStart),
		Summarize(samples, "during", spikeStart, spikeEnd),
		Summarize(samples, "after", spikeEnd, end),
	}
	limit := time.Duration(float64(r.Phases[0].P99) * tolerance)
	for t := spikeEnd; t+window <= end; t += step {
		w := Summarize(samples, "", t, t+window)
		if w.OK > 0 && w.Rejected == 0 && w.Other == 0 && w.Reset == 0 && w.Hung == 0 && w.P99 <= limit {
			r.Recovery = t - spikeEnd
			break
		}
	}
	for _, s := range samples {
		if s.Outcome == Rejected503 && s.Start >= spikeStart && r.FirstRejection < 0 {
			r.FirstRejection = s.Start - spikeStart
		}
		if (s.Outcome == Reset || s.Outcome == Hung || s.Outcome == OtherStatus) && len(r.Failures) < 5 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s at %s: status %d %s", s.Outcome, s.Start.Round(time.Millisecond), s.Status, s.Err))
		}
		if s.Latency > r.MaxLatencyDuringRun {
			r.MaxLatencyDuringRun = s.Latency
		}
	}
	return r
}

// Markdown renders the phase table and the recovery line.
func (r Report) Markdown() string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }
	p := r.Profile
	fmt.Fprintf(&b, "| phase | window | rate (req/s) | sent | ok | rejected (503) | other status | resets | hangs | p50 (ms) | p99 (ms) |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, ph := range r.Phases {
		rate := p.RatePerSecond
		if ph.Name == "during" {
			rate *= p.Multiplier
		}
		fmt.Fprintf(&b, "| %s | %s–%s s | %g | %d | %d | %d | %d | %d | %d | %s | %s |\n", ph.Name,
			fmt.Sprint(ph.From.Seconds()), fmt.Sprint(ph.To.Seconds()), rate, ph.Sent, ph.OK, ph.Rejected, ph.Other, ph.Reset, ph.Hung, ms(ph.P50), ms(ph.P99))
	}
	rec := "not within the after phase"
	if r.Recovery >= 0 {
		rec = fmt.Sprintf("%.0f s", r.Recovery.Seconds())
	}
	fmt.Fprintf(&b, "\nTime to recover to the pre-spike p99 (first %s window after the spike, sliding by %s, with p99 ≤ %.2f × %s ms and no rejections): **%s**.\n",
		r.Window, r.Step, r.Tolerance, ms(r.Phases[0].P99), rec)
	if r.FirstRejection >= 0 {
		fmt.Fprintf(&b, "First 503 %.1f s into the spike. ", r.FirstRejection.Seconds())
	}
	fmt.Fprintf(&b, "Slowest request of the run: %s ms.\n", ms(r.MaxLatencyDuringRun))
	return b.String()
}
