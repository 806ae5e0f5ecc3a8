package burst

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(url string) Request {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, "GET", url, nil)
	}
}

func TestRunShapeAndClassification(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Millisecond) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "queue full", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) })
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = c.Close()
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// 50/s for 200 ms, 200/s for 200 ms, 50/s for 400 ms: arrivals every
	// 20 ms, 5 ms and 20 ms, so exactly 10, 40 and 20 requests.
	p := Profile{RatePerSecond: 50, Multiplier: 4, Before: 200 * time.Millisecond, Spike: 200 * time.Millisecond, After: 400 * time.Millisecond, RequestTimeout: 300 * time.Millisecond}
	samples := Run(context.Background(), srv.Client(), get(srv.URL+"/ok"), p)
	r := Analyze(samples, p, 100*time.Millisecond, 50*time.Millisecond, 1e9)
	for i, want := range []int{10, 40, 20} {
		if ph := r.Phases[i]; ph.Sent != want || ph.OK != want || ph.P50 <= 0 || ph.P99 < ph.P50 {
			t.Fatalf("phase %s: %+v, want %d sent and ok", ph.Name, ph, want)
		}
	}
	if r.Recovery != 0 || r.FirstRejection != -1 {
		t.Fatalf("recovery %v first rejection %v", r.Recovery, r.FirstRejection)
	}

	short := Profile{RatePerSecond: 20, Multiplier: 1, Before: 100 * time.Millisecond, RequestTimeout: 300 * time.Millisecond}
	for path, want := range map[string]Outcome{"/busy": Rejected503, "/teapot": OtherStatus, "/reset": Reset, "/hang": Hung} {
		s := Run(context.Background(), srv.Client(), get(srv.URL+path), short)
		if len(s) != 2 {
			t.Fatalf("%s: %d samples, want 2", path, len(s))
		}
		for _, x := range s {
			if x.Outcome != want {
				t.Fatalf("%s classified as %s, want %s (%+v)", path, x.Outcome, want, x)
			}
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	if p := Percentile(d, 0.5); p != 50*time.Millisecond {
		t.Fatalf("p50 = %v", p)
	}
	if p := Percentile(d, 0.99); p != 99*time.Millisecond {
		t.Fatalf("p99 = %v", p)
	}
	if Percentile(nil, 0.5) != 0 || Percentile(d[:1], 0.99) != 100*time.Millisecond {
		t.Fatal("edge cases")
	}
}

func TestAnalyzeRecovery(t *testing.T) {
	p := Profile{RatePerSecond: 10, Multiplier: 10, Before: 10 * time.Second, Spike: 10 * time.Second, After: 20 * time.Second}
	var s []Sample
	add := func(from, to time.Duration, lat time.Duration, o Outcome) {
		for t := from; t < to; t += 100 * time.Millisecond {
			s = append(s, Sample{Start: t, Latency: lat, Outcome: o})
		}
	}
	add(0, 10*time.Second, 100*time.Millisecond, OK)
	add(10*time.Second, 20*time.Second, 900*time.Millisecond, OK)
	add(12*time.Second, 13*time.Second, 0, Rejected503)
	add(20*time.Second, 27*time.Second, 400*time.Millisecond, OK) // still slow
	add(27*time.Second, 40*time.Second, 105*time.Millisecond, OK) // back
	r := Analyze(s, p, 5*time.Second, time.Second, 1.1)
	if r.Recovery != 7*time.Second {
		t.Fatalf("recovery = %v, want 7s", r.Recovery)
	}
	if r.FirstRejection != 2*time.Second || r.Phases[1].Rejected != 10 {
		t.Fatalf("first rejection %v, rejected %d", r.FirstRejection, r.Phases[1].Rejected)
	}
	if md := r.Markdown(); !strings.Contains(md, "| during | 10–20 s | 100 |") || !strings.Contains(md, "**7 s**") {
		t.Fatalf("markdown:\n%s", md)
	}
	// Never back under the limit.
	r = Analyze(s[:len(s)-130], p, 5*time.Second, time.Second, 1.1)
	if r.Recovery != -1 || !strings.Contains(r.Markdown(), "not within the after phase") {
		t.Fatalf("recovery = %v", r.Recovery)
	}
}
