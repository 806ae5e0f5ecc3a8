// Package faultproxy is a fault-injecting HTTP proxy for the provider's
// reliability tests. It sits on loopback between the provider and one real
// upstream (moto's EC2/SSM server or a Ray dashboard) and, per request,
// draws from seeded rules whether to inject a fault: 429 or 503 with
// Retry-After, EC2's RequestLimitExceeded, a connection reset, added
// latency, or the ambiguous case where the request is forwarded and carried
// out but the answer is dropped (the connection is reset instead).
//
// Requests are named by an endpoint key that rules match with a regular
// expression: "EC2.RunInstances" and "SSM.PutParameter" for the AWS query
// and JSON protocols, "POST /api/jobs/" for everything else.
//
// It is test code: nothing in the provider imports it.
package faultproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is one kind of fault.
type Kind string

// The faults the proxy injects.
const (
	// TooManyRequests answers 429 with Retry-After, without forwarding.
	TooManyRequests Kind = "429"
	// Unavailable answers 503 with Retry-After, without forwarding.
	Unavailable Kind = "503"
	// RequestLimitExceeded answers EC2's throttling error (HTTP 503, code
	// RequestLimitExceeded), without forwarding.
	RequestLimitExceeded Kind = "RequestLimitExceeded"
	// Reset resets the connection before forwarding.
	Reset Kind = "reset"
	// Latency adds Rule.Latency before forwarding; the request succeeds.
	Latency Kind = "latency"
	// DropResponse forwards the request, lets the upstream carry it out,
	// then resets the connection instead of answering.
	DropResponse Kind = "drop_response"
	// InsufficientCapacity answers EC2's InsufficientInstanceCapacity (HTTP
	// 500), what RunInstances returns when AWS has no capacity (e.g. no spot
	// capacity) for the request, without forwarding. Not in AllKinds: it
	// is no transient fault that a retry outlives.
	InsufficientCapacity Kind = "InsufficientInstanceCapacity"
)

// AllKinds is every kind, in the order reports list them.
var AllKinds = []Kind{TooManyRequests, Unavailable, RequestLimitExceeded, Reset, Latency, DropResponse}

// Rule injects faults into the requests whose endpoint key matches.
type Rule struct {
	// Match is a regular expression on the endpoint key; empty matches all.
	Match string
	// Body, when set, is a regular expression the request body must match
	// too (e.g. InstanceMarketOptions.MarketType=spot in a RunInstances).
	Body string
	// Kinds are drawn from uniformly when a fault is injected.
	Kinds []Kind
	// Rate is the probability (0-1) that a matching request gets a fault.
	Rate float64
	// Max bounds how many faults this rule injects; 0 means no bound.
	Max int
	// Latency is the delay of a Latency fault. Default 500ms.
	Latency time.Duration
	// RetryAfterSeconds is sent with 429 and 503. Default 1.
	RetryAfterSeconds int

	re, bodyRE *regexp.Regexp
	injected   int
}

// Event is one request as the proxy saw it.
type Event struct {
	Key    string
	Fault  Kind // "" when none
	Status int  // upstream status; 0 when not forwarded or dropped before the answer
}

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	URL string // http://127.0.0.1:port

	upstream *url.URL
	ln       net.Listener
	srv      *http.Server
	tr       *http.Transport
	inFlight atomic.Int64

	mu        sync.Mutex
	rng       *rand.Rand
	rules     []*Rule
	events    []Event
	before    func(key string)
	forwarded func(ev Event)
	after     func(ev Event)
}

// New starts a proxy on a free loopback port in front of upstream (a base
// URL such as http://127.0.0.1:5000). seed makes the fault draws
// reproducible for a given order of requests.
func New(upstream string, seed uint64, rules ...Rule) (*Proxy, error) {
	return NewOn("127.0.0.1:0", upstream, seed, rules...)
}

// NewOn is New listening on addr (e.g. a test network's gateway address,
// which hosts in network namespaces reach).
func NewOn(addr, upstream string, seed uint64, rules ...Rule) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q is not a base URL", upstream)
	}
	p := &Proxy{upstream: u, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), //nolint:gosec // G404: faults must be reproducible from a seed, not unpredictable

		tr: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}}
	if err := p.SetRules(rules...); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p.ln = ln
	p.URL = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	p.tr.CloseIdleConnections()
	return p.srv.Close()
}

// SetRules replaces the rules (and their fault budgets).
func (p *Proxy) SetRules(rules ...Rule) error {
	var rs []*Rule
	for _, r := range rules {
		re, err := regexp.Compile(r.Match)
		if err != nil {
			return fmt.Errorf("faultproxy: rule %q: %w", r.Match, err)
		}
		r.re = re
		if r.Body != "" {
			if r.bodyRE, err = regexp.Compile(r.Body); err != nil {
				return fmt.Errorf("faultproxy: rule body %q: %w", r.Body, err)
			}
		}
		if r.Latency <= 0 {
			r.Latency = 500 * time.Millisecond
		}
		if r.RetryAfterSeconds <= 0 {
			r.RetryAfterSeconds = 1
		}
		rs = append(rs, &r)
	}
	p.mu.Lock()
	p.rules = rs
	p.mu.Unlock()
	return nil
}

// OnBefore sets a hook called with the key of every request just before it
// is forwarded (after any latency). The request waits for the hook, which
// lets a test change the upstream at that exact point.
func (p *Proxy) OnBefore(f func(key string)) {
	p.mu.Lock()
	p.before = f
	p.mu.Unlock()
}

// OnForwarded sets a hook called when the upstream has answered a
// request, before that answer is delivered (or dropped). The caller waits
// for the hook: a test can change the upstream after a request was carried
// out and before the caller can react, e.g. retry.
func (p *Proxy) OnForwarded(f func(ev Event)) {
	p.mu.Lock()
	p.forwarded = f
	p.mu.Unlock()
}

// OnAfter sets a hook called for every request with what happened to it,
// once that is decided and before the caller gets the answer.
func (p *Proxy) OnAfter(f func(ev Event)) {
	p.mu.Lock()
	p.after = f
	p.mu.Unlock()
}

// Events returns a copy of every request seen so far.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Counts returns how many faults of each kind were injected.
func (p *Proxy) Counts() map[Kind]int {
	out := map[Kind]int{}
	for _, e := range p.Events() {
		if e.Fault != "" {
			out[e.Fault]++
		}
	}
	return out
}

// Requests returns how many requests the proxy saw.
func (p *Proxy) Requests() int { return len(p.Events()) }

// Summary is a one-line description of the faults, e.g. for test logs.
func (p *Proxy) Summary() string {
	c := p.Counts()
	var parts []string
	for _, k := range AllKinds {
		if c[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
		}
	}
	reqs, faults := map[string]int{}, map[string]int{}
	for _, e := range p.Events() {
		reqs[e.Key]++
		if e.Fault != "" {
			faults[e.Key]++
		}
	}
	keys := make([]string, 0, len(reqs))
	for k := range reqs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ks []string
	for _, k := range keys {
		ks = append(ks, fmt.Sprintf("%s:%d/%d", k, faults[k], reqs[k]))
	}
	return fmt.Sprintf("%d requests, faults {%s}, faults/requests by endpoint {%s}", p.Requests(), strings.Join(parts, " "), strings.Join(ks, " "))
}

// draw picks the fault for a request, if any, and charges its rule.
func (p *Proxy) draw(key string, body []byte) (Kind, *Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if !r.re.MatchString(key) || len(r.Kinds) == 0 || (r.bodyRE != nil && !r.bodyRE.Match(body)) {
			continue
		}
		if r.Max > 0 && r.injected >= r.Max {
			continue
		}
		if p.rng.Float64() >= r.Rate {
			continue
		}
		r.injected++
		return r.Kinds[p.rng.IntN(len(r.Kinds))], r
	}
	return "", nil
}

// record logs a request's event before the caller can see the outcome, so
// that a caller that reacts to it (a test reading Events after a reset) finds
// it there.
func (p *Proxy) record(ev Event) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	after := p.after
	p.mu.Unlock()
	if after != nil {
		after(ev)
	}
}

// protocol of a request, for the shape of error answers.
type protocol int

const (
	plainHTTP protocol = iota
	awsQuery           // EC2: form-encoded Action=..., XML errors
	awsJSON            // SSM: X-Amz-Target, JSON errors
)

// Key returns the endpoint key of a request whose body is body.
func Key(r *http.Request, body []byte) string {
	k, _ := classify(r, body)
	return k
}

func classify(r *http.Request, body []byte) (string, protocol) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		svc, op, ok := strings.Cut(t, ".")
		if ok {
			svc = strings.TrimPrefix(strings.TrimPrefix(svc, "Amazon"), "AWS")
			return svc + "." + op, awsJSON
		}
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return serviceOf(r) + "." + v.Get("Action"), awsQuery
		}
	}
	return r.Method + " " + r.URL.Path, plainHTTP
}

// serviceOf reads the signing service from a SigV4 Authorization header
// (Credential=AKID/date/region/ec2/aws4_request), upper-cased like the
// SDK's service IDs ("EC2", "IAM").
func serviceOf(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if i := strings.Index(a, "Credential="); i >= 0 {
		parts := strings.Split(strings.SplitN(a[i+len("Credential="):], ",", 2)[0], "/")
		if len(parts) >= 4 {
			return strings.ToUpper(parts[3])
		}
	}
	return "AWS"
}

// WaitIdle waits until no request is being handled (e.g. one a killed
// client sent just before it died), or timeout passes; it reports whether
// the proxy is idle.
func (p *Proxy) WaitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.inFlight.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "faultproxy: reading the request: "+err.Error(), http.StatusBadGateway)
		return
	}
	key, proto := classify(r, body)
	fault, rule := p.draw(key, body)
	ev := Event{Key: key, Fault: fault}
	switch fault {
	case TooManyRequests, Unavailable, RequestLimitExceeded, InsufficientCapacity:
		p.record(ev)
		writeError(w, fault, proto, rule.RetryAfterSeconds)
		return
	case Reset:
		p.record(ev)
		reset(w)
		return
	case Latency:
		time.Sleep(rule.Latency)
	}
	p.mu.Lock()
	before := p.before
	p.mu.Unlock()
	if before != nil {
		before(key)
	}
	resp, err := p.forward(r, body)
	if err != nil {
		ev.Status = http.StatusBadGateway
		p.record(ev)
		http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		p.record(ev)
		reset(w)
		return
	}
	ev.Status = resp.StatusCode
	p.mu.Lock()
	forwarded := p.forwarded
	p.mu.Unlock()
	if forwarded != nil {
		forwarded(ev)
	}
	if fault == DropResponse {
		// The upstream carried the request out; the caller never learns.
		p.record(ev)
		reset(w)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	p.record(ev)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(data)
}

func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	u := *p.upstream
	u.Path = strings.TrimRight(p.upstream.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		if http.CanonicalHeaderKey(k) == "Connection" {
			continue
		}
		out.Header[k] = vs
	}
	out.Host = r.Host // SigV4 signs the Host the client used
	return p.tr.RoundTrip(out)
}

// reset closes the client's connection with a TCP RST (SO_LINGER 0).
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// writeError answers a throttling or unavailability error shaped like the
// upstream's own: EC2's XML error document, the AWS JSON protocol's
// __type, or plain text (Ray).
func writeError(w http.ResponseWriter, k Kind, proto protocol, retryAfter int) {
	status, code, msg := http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable (injected by faultproxy)."
	switch k {
	case TooManyRequests:
		status, code, msg = http.StatusTooManyRequests, "Throttling", "Rate exceeded (injected by faultproxy)."
	case RequestLimitExceeded:
		code, msg = "RequestLimitExceeded", "Request limit exceeded. (injected by faultproxy)"
	case InsufficientCapacity:
		status, code, msg = http.StatusInternalServerError, "InsufficientInstanceCapacity", "There is no Spot capacity available that matches your request. (injected by faultproxy)"
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	switch proto {
	case awsQuery:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>faultproxy</RequestID></Response>`, code, msg)
	case awsJSON:
		if code == "Throttling" || code == "RequestLimitExceeded" {
			code = "ThrottlingException"
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintln(w, msg)
	}
}

// ParseSeeds parses a comma-separated seed list such as "1,2,3".
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for sc.Scan() {
		f := strings.TrimSpace(sc.Text())
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("seed %q is not a non-negative integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
