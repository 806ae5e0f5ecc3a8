package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstream counts the requests that reach it.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Up", "1")
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func start(t *testing.T, up string, seed uint64, rules ...Rule) *Proxy {
	t.Helper()
	p, err := New(up, seed, rules...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestForwardsUntouched(t *testing.T) {
	up, n := upstream(t)
	p := start(t, up.URL, 1)
	resp, err := http.Post(p.URL+"/api/jobs/?x=1", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(b) != `POST /api/jobs/?x=1 {"a":1}` || resp.Header.Get("X-Up") != "1" || n.Load() != 1 {
		t.Fatalf("got %q, header %q, %d upstream requests", b, resp.Header.Get("X-Up"), n.Load())
	}
	if ev := p.Events(); len(ev) != 1 || ev[0].Key != "POST /api/jobs/" || ev[0].Fault != "" || ev[0].Status != 200 {
		t.Fatalf("events %+v", ev)
	}
}

func TestKeys(t *testing.T) {
	ec2 := httptest.NewRequest("POST", "/", nil)
	ec2.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	ec2.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x")
	ssm := httptest.NewRequest("POST", "/", nil)
	ssm.Header.Set("X-Amz-Target", "AmazonSSM.PutParameter")
	ray := httptest.NewRequest("GET", "/api/jobs/abc", nil)
	for _, c := range []struct {
		r    *http.Request
		body string
		want string
	}{
		{ec2, "Action=RunInstances&Version=2016-11-15", "EC2.RunInstances"},
		{ssm, `{}`, "SSM.PutParameter"},
		{ray, "", "GET /api/jobs/abc"},
	} {
		if got := Key(c.r, []byte(c.body)); got != c.want {
			t.Errorf("Key = %q, want %q", got, c.want)
		}
	}
}

func TestStatusFaultsAreNotForwarded(t *testing.T) {
	up, n := upstream(t)
	for _, c := range []struct {
		kind   Kind
		status int
		body   string
	}{
		{TooManyRequests, 429, "Rate exceeded"},
		{Unavailable, 503, "unavailable"},
		{RequestLimitExceeded, 503, "<Code>RequestLimitExceeded</Code>"},
	} {
		p := start(t, up.URL, 1, Rule{Kinds: []Kind{c.kind}, Rate: 1, RetryAfterSeconds: 3})
		var req *http.Request
		if c.kind == RequestLimitExceeded {
			req, _ = http.NewRequest("POST", p.URL+"/", strings.NewReader("Action=DescribeInstances"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest("GET", p.URL+"/api/version", nil)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), c.body) {
			t.Errorf("%s: status %d, Retry-After %q, body %q", c.kind, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
		if p.Counts()[c.kind] != 1 {
			t.Errorf("%s: counts %v", c.kind, p.Counts())
		}
	}
	if n.Load() != 0 {
		t.Fatalf("%d faulted requests reached the upstream", n.Load())
	}
}

func TestResetAndDrop(t *testing.T) {
	up, n := upstream(t)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	p := start(t, up.URL, 1, Rule{Kinds: []Kind{Reset}, Rate: 1})
	if _, err := client.Post(p.URL+"/api/jobs/", "application/json", strings.NewReader("{}")); err == nil || !resetOrEOF(err) {
		t.Fatalf("reset: want a connection error, got %v", err)
	}
	if n.Load() != 0 {
		t.Fatal("a reset request reached the upstream")
	}
	if err := p.SetRules(Rule{Match: `^POST /api/jobs/$`, Kinds: []Kind{DropResponse}, Rate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Post(p.URL+"/api/jobs/", "application/json", strings.NewReader("{}")); err == nil || !resetOrEOF(err) {
		t.Fatalf("drop: want a connection error, got %v", err)
	}
	if n.Load() != 1 {
		t.Fatalf("a dropped request must reach the upstream once, got %d", n.Load())
	}
	ev := p.Events()
	if last := ev[len(ev)-1]; last.Fault != DropResponse || last.Status != 200 {
		t.Fatalf("last event %+v", last)
	}
	// The rule matches only its endpoint.
	if resp, err := client.Get(p.URL + "/api/jobs/x"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("unmatched endpoint: %v", err)
	}
}

func resetOrEOF(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset")
}

func TestLatencyAndHook(t *testing.T) {
	up, n := upstream(t)
	p := start(t, up.URL, 1, Rule{Kinds: []Kind{Latency}, Rate: 1, Latency: 200 * time.Millisecond})
	var hooked string
	p.OnBefore(func(key string) { hooked = key })
	t0 := time.Now()
	resp, err := http.Get(p.URL + "/api/version")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if d := time.Since(t0); d < 200*time.Millisecond || resp.StatusCode != 200 || n.Load() != 1 {
		t.Fatalf("took %s, status %d, upstream %d", d, resp.StatusCode, n.Load())
	}
	if hooked != "GET /api/version" {
		t.Fatalf("hook saw %q", hooked)
	}
	if !p.WaitIdle(time.Second) {
		t.Fatal("the proxy is not idle after the request")
	}
}

// The same seed and request order give the same faults; the rate holds
// roughly; Max bounds a rule.
func TestSeedRateAndMax(t *testing.T) {
	up, _ := upstream(t)
	run := func(seed uint64, limit int) []Kind {
		p := start(t, up.URL, seed, Rule{Kinds: []Kind{Unavailable, TooManyRequests}, Rate: 0.3, Max: limit})
		var out []Kind
		for range 200 {
			resp, err := http.Get(p.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		for _, e := range p.Events() {
			out = append(out, e.Fault)
		}
		return out
	}
	a, b := run(7, 0), run(7, 0)
	faults := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 differs at request %d: %q vs %q", i, a[i], b[i])
		}
		if a[i] != "" {
			faults++
		}
	}
	if faults < 40 || faults > 80 {
		t.Fatalf("rate 0.3 over 200 requests injected %d faults", faults)
	}
	limited := 0
	for _, k := range run(7, 5) {
		if k != "" {
			limited++
		}
	}
	if limited != 5 {
		t.Fatalf("Max 5 injected %d", limited)
	}
}

func TestParseSeeds(t *testing.T) {
	s, err := ParseSeeds(" 1, 2,3,")
	if err != nil || len(s) != 3 || s[2] != 3 {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseSeeds("1,x"); err == nil {
		t.Fatal("want an error for x")
	}
}

// OnForwarded runs after the upstream carried a dropped request out and
// before the caller sees the reset.
func TestOnForwardedBeforeDrop(t *testing.T) {
	up, n := upstream(t)
	p := start(t, up.URL, 1, Rule{Match: `^PUT `, Kinds: []Kind{DropResponse}, Rate: 1, Max: 1})
	var seen []string
	p.OnForwarded(func(ev Event) {
		seen = append(seen, fmt.Sprintf("%s %s %d upstream=%d", ev.Key, ev.Fault, ev.Status, n.Load()))
	})
	req, _ := http.NewRequest("PUT", p.URL+"/api/serve/applications/", strings.NewReader("{}"))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("want the dropped answer to fail")
	}
	if len(seen) != 1 || seen[0] != "PUT /api/serve/applications/ drop_response 200 upstream=1" {
		t.Fatalf("hook saw %q", seen)
	}
}

// A rule with Body hits only the requests whose body matches, and
// InsufficientCapacity answers EC2's capacity error.
func TestBodyRuleInsufficientCapacity(t *testing.T) {
	up, hits := upstream(t)
	p := start(t, up.URL, 1, Rule{Match: `RunInstances`, Body: `MarketType=spot`, Kinds: []Kind{InsufficientCapacity}, Rate: 1})
	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("Action=RunInstances&InstanceMarketOptions.MarketType=spot"); code != 500 || !strings.Contains(body, "<Code>InsufficientInstanceCapacity</Code>") {
		t.Errorf("spot launch: %d %s", code, body)
	}
	if code, _ := post("Action=RunInstances&InstanceType=g5.xlarge"); code != 200 {
		t.Errorf("on-demand launch: %d, want forwarded", code)
	}
	if hits.Load() != 1 {
		t.Errorf("upstream saw %d requests, want the on-demand one only", hits.Load())
	}
}
