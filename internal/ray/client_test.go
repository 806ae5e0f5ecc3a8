package ray

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// fastClient retries quickly so that the error-path tests stay short.
func fastClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin, cfg.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func versionHandler(v string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(VersionInfo{Version: "4", RayVersion: v})
	}
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8265":        "http://127.0.0.1:8265",
		"127.0.0.1:8265/":              "http://127.0.0.1:8265",
		" https://ray.example.com/x/ ": "https://ray.example.com/x",
	} {
		got, err := NormalizeAddress(in)
		if err != nil || got != want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, wantErr := range map[string]string{
		"":                     "RAY_ADDRESS",
		"ray://10.0.0.1:10001": "http://10.0.0.1:8265",
		"ftp://h":              `scheme "ftp"`,
		"http://h:1/?a=b":      "query",
	} {
		_, err := NormalizeAddress(in)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("NormalizeAddress(%q) error = %v; want it to mention %q", in, err, wantErr)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "":
			http.Error(w, "Unauthorized: Missing authentication token", http.StatusUnauthorized)
		case "Bearer good":
			versionHandler("2.60.0")(w, r)
		default:
			http.Error(w, "Forbidden: Invalid authentication token", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	_, err := fastClient(t, Config{Address: srv.URL}).CheckVersion(ctx)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.TokenSent || ae.StatusCode != 401 {
		t.Fatalf("no token: want AuthError 401, got %v", err)
	}
	for _, want := range []string{"Missing authentication token", "no token was sent", "auth_token", "RAY_AUTH_TOKEN", srv.URL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	_, err = fastClient(t, Config{Address: srv.URL, Token: "bad"}).CheckVersion(ctx)
	if !errors.As(err, &ae) || !ae.TokenSent || ae.StatusCode != 403 || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("wrong token: want AuthError 403 'rejected', got %v", err)
	}
	if strings.Contains(err.Error(), "bad") && !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("error leaks the token: %v", err)
	}

	if _, err := fastClient(t, Config{Address: srv.URL, Token: "good"}).CheckVersion(ctx); err != nil {
		t.Fatalf("good token: %v", err)
	}
}

func TestUnreachableNamesAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	_ = l.Close() // nothing listens there now
	_, err = fastClient(t, Config{Address: addr, RetryMax: 2}).CheckVersion(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("want UnreachableError, got %T %v", err, err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "dashboard_url") || !strings.Contains(err.Error(), "giving up after 3 attempt") {
		t.Fatalf("error should name %s, dashboard_url and the 3 attempts: %v", addr, err)
	}
}

func TestVersionCheck(t *testing.T) {
	for v, ok := range map[string]bool{"2.60.0": true, "2.54.0": true, "2.54.0rc1": true, "3.0.0.dev0": true, "2.53.0": false, "2.9.3": false, "1.13.0": false} {
		srv := httptest.NewServer(versionHandler(v))
		_, err := fastClient(t, Config{Address: srv.URL}).CheckVersion(context.Background())
		srv.Close()
		var ue *UnsupportedVersionError
		switch {
		case ok && err != nil:
			t.Errorf("Ray %s: want accepted, got %v", v, err)
		case !ok && !errors.As(err, &ue):
			t.Errorf("Ray %s: want UnsupportedVersionError, got %v", v, err)
		case !ok && (!strings.Contains(err.Error(), "CVE-2023-48022") || !strings.Contains(err.Error(), "CVE-2026-27482") || !strings.Contains(err.Error(), v)):
			t.Errorf("Ray %s: error should name the version and the CVEs: %v", v, err)
		}
	}
	srv := httptest.NewServer(versionHandler("banana"))
	defer srv.Close()
	if _, err := fastClient(t, Config{Address: srv.URL}).CheckVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "banana") {
		t.Errorf("want an error for a non-version, got %v", err)
	}
}

func TestGetRetriesHonourRetryAfter(t *testing.T) {
	var calls atomic.Int32
	var first time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 2:
			http.Error(w, "agent not ready", http.StatusServiceUnavailable)
		default:
			if time.Since(first) < time.Second {
				t.Errorf("retried after %s, before Retry-After's 1s", time.Since(first))
			}
			_ = json.NewEncoder(w).Encode(JobDetails{Status: JobRunning})
		}
	}))
	defer srv.Close()
	j, err := fastClient(t, Config{Address: srv.URL}).GetJob(context.Background(), "x")
	if err != nil || j.Status != JobRunning || calls.Load() != 3 {
		t.Fatalf("got %+v, %v after %d calls; want RUNNING after 3", j, err, calls.Load())
	}
}

func TestGetGivesUpKeepingRayText(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "Traceback...\nRuntimeError: GCS is down", 500)
	}))
	defer srv.Close()
	_, err := fastClient(t, Config{Address: srv.URL, RetryMax: 2}).GetJob(context.Background(), "x")
	if StatusCode(err) != 500 || !strings.Contains(err.Error(), "RuntimeError: GCS is down") || calls.Load() != 3 {
		t.Fatalf("want HTTP 500 with Ray's text after 3 calls, got %v after %d", err, calls.Load())
	}
}

func TestNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Job x does not exist", 404)
	}))
	defer srv.Close()
	c := fastClient(t, Config{Address: srv.URL})
	ctx := context.Background()
	if _, err := c.GetJob(ctx, "x"); !retry.IsNotFound(err) {
		t.Errorf("GetJob: want not found, got %v", err)
	}
	if _, err := c.StopJob(ctx, "x"); !retry.IsNotFound(err) {
		t.Errorf("StopJob: want not found, got %v", err)
	}
	if _, err := c.DeleteJob(ctx, "x"); !retry.IsNotFound(err) {
		t.Errorf("DeleteJob: want not found, got %v", err)
	}
}

// fakeJobs is a minimal jobs endpoint for the submission tests: post decides
// what each POST does.
type fakeJobs struct {
	mu    sync.Mutex
	jobs  map[string]bool
	posts int
	post  func(n int, w http.ResponseWriter, id string, create func()) // n counts from 1
}

func (f *fakeJobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/jobs/":
		var req JobSubmitRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.posts++
		create := func() { f.jobs[req.SubmissionID] = true }
		if f.jobs[req.SubmissionID] {
			http.Error(w, "Traceback (most recent call last):\nValueError: Job with submission_id "+req.SubmissionID+" already exists. Please use a different submission_id.\n.", 500)
			return
		}
		f.post(f.posts, w, req.SubmissionID, create)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/jobs/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/jobs/")
		if !f.jobs[id] {
			http.Error(w, "Job "+id+" does not exist", 404)
			return
		}
		_ = json.NewEncoder(w).Encode(JobDetails{SubmissionID: &id, Status: JobPending})
	default:
		http.NotFound(w, r)
	}
}

func ok(w http.ResponseWriter, id string, create func()) {
	create()
	_ = json.NewEncoder(w).Encode(JobSubmitResponse{JobID: id, SubmissionID: id})
}

func TestSubmitJob(t *testing.T) {
	cases := []struct {
		name         string
		post         func(n int, w http.ResponseWriter, id string, create func())
		timeout      time.Duration
		wantPosts    int
		wantExisting bool
		wantErr      string
	}{
		{name: "plain", post: func(n int, w http.ResponseWriter, id string, create func()) { ok(w, id, create) }, wantPosts: 1},
		{
			name: "5xx after creating: found by GET, not resubmitted",
			post: func(n int, w http.ResponseWriter, id string, create func()) {
				create()
				http.Error(w, "proxy error", http.StatusBadGateway)
			},
			wantPosts: 1, wantExisting: true,
		},
		{
			name: "5xx without creating: GET says missing, resubmitted once",
			post: func(n int, w http.ResponseWriter, id string, create func()) {
				if n == 1 {
					http.Error(w, "No available agent to submit job, please try again later.", 500)
					return
				}
				ok(w, id, create)
			},
			wantPosts: 2,
		},
		{
			name: "timeout after creating: found by GET",
			post: func(n int, w http.ResponseWriter, id string, create func()) {
				create()
				time.Sleep(300 * time.Millisecond)
				ok(w, id, func() {})
			},
			timeout: 100 * time.Millisecond, wantPosts: 1, wantExisting: true,
		},
		{
			name: "already exists on the first try (earlier run): existing job used",
			post: func(n int, w http.ResponseWriter, id string, create func()) {
				create()
				http.Error(w, "ValueError: Job with submission_id "+id+" already exists. Please use a different submission_id.", 400)
			},
			wantPosts: 1, wantExisting: true,
		},
		{
			name: "bad request is not retried and keeps Ray's text",
			post: func(n int, w http.ResponseWriter, id string, create func()) {
				http.Error(w, "TypeError: entrypoint_num_cpus must be a number, got <class 'str'>", 400)
			},
			wantPosts: 1, wantErr: "entrypoint_num_cpus must be a number",
		},
		{
			name: "persistent 5xx gives up with Ray's text",
			post: func(n int, w http.ResponseWriter, id string, create func()) {
				http.Error(w, "RuntimeError: boom", 500)
			},
			wantPosts: 3, wantErr: "RuntimeError: boom",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeJobs{jobs: map[string]bool{}, post: tc.post}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := fastClient(t, Config{Address: srv.URL, RetryMax: 2, RequestTimeout: tc.timeout})
			res, err := c.SubmitJob(context.Background(), JobSubmitRequest{Entrypoint: "echo", SubmissionID: "rayvllm-abc"})
			f.mu.Lock()
			posts := f.posts
			f.mu.Unlock()
			if posts != tc.wantPosts {
				t.Errorf("POSTs = %d, want %d", posts, tc.wantPosts)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.SubmissionID != "rayvllm-abc" || res.Existing != tc.wantExisting {
				t.Fatalf("got %+v, want id rayvllm-abc existing=%v", res, tc.wantExisting)
			}
			if len(f.jobs) != 1 {
				t.Fatalf("jobs on the server: %v, want exactly one", f.jobs)
			}
		})
	}
	if _, err := fastClient(t, Config{Address: "http://127.0.0.1:1"}).SubmitJob(context.Background(), JobSubmitRequest{Entrypoint: "x"}); err == nil {
		t.Fatal("want an error without a submission_id")
	}
}

func TestHeadersTLSAndNoTokenInLogs(t *testing.T) {
	const token = "s3cr3t-token-value"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("X-Proxy-Key") != "proxy-secret" {
			http.Error(w, "missing headers", http.StatusForbidden)
			return
		}
		versionHandler("2.60.0")(w, r)
	}))
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	var logs bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &logs)
	c := fastClient(t, Config{Address: srv.URL, Token: token, Headers: map[string]string{"X-Proxy-Key": "proxy-secret"}, CABundlePEM: caPEM})
	if _, err := c.CheckVersion(ctx); err != nil {
		t.Fatalf("with the CA bundle: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "Ray dashboard request") || !strings.Contains(out, `"Authorization":"***"`) {
		t.Fatalf("want the request logged with the header masked, got:\n%s", out)
	}
	if strings.Contains(out, token) || strings.Contains(out, "proxy-secret") {
		t.Fatalf("secret in the logs:\n%s", out)
	}

	// Without the CA bundle the certificate is not trusted: a clear,
	// unretried error.
	_, err := fastClient(t, Config{Address: srv.URL, Token: token}).CheckVersion(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "1 attempt") {
		t.Fatalf("want an unreachable error about the certificate after 1 attempt, got %v", err)
	}
	if _, err := New(Config{Address: srv.URL, CABundlePEM: "not pem"}); err == nil || !strings.Contains(err.Error(), "ray_ca_bundle_pem") {
		t.Fatalf("want an error naming ray_ca_bundle_pem, got %v", err)
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		logs string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb\n", 0, ""},
		{"", 3, ""},
	} {
		if got := Tail(tc.logs, tc.n); got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.logs, tc.n, got, tc.want)
		}
	}
}

func TestPackageDeterministicAndExcludes(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "src", ".git"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "src", "main.py"), []byte("print(1)\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "src", ".git", "HEAD"), []byte("ref"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "data", "big.bin"), []byte("xxxx"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "model.ckpt"), []byte("w"), 0o644))

	p1, err := PackageDir(dir, []string{"data", "*.ckpt"})
	must(err)
	p2, err := PackageDir(dir, []string{"data", "*.ckpt"})
	must(err)
	if p1.URI != p2.URI || !bytes.Equal(p1.Data, p2.Data) {
		t.Fatal("packaging the same directory twice gave different packages")
	}
	if !strings.HasPrefix(p1.URI, "gcs://_ray_pkg_") || !strings.HasSuffix(p1.URI, ".zip") {
		t.Fatalf("URI %s", p1.URI)
	}
	zr, err := zip.NewReader(bytes.NewReader(p1.Data), int64(len(p1.Data)))
	must(err)
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "run.sh" && f.Mode()&0o100 == 0 {
			t.Error("run.sh lost its executable bit")
		}
	}
	if strings.Join(names, ",") != "run.sh,src/main.py" {
		t.Fatalf("files %v, want run.sh and src/main.py only", names)
	}
	must(os.WriteFile(filepath.Join(dir, "src", "main.py"), []byte("print(2)\n"), 0o644))
	p3, err := PackageDir(dir, []string{"data", "*.ckpt"})
	must(err)
	if p3.URI == p1.URI {
		t.Fatal("a changed file must change the URI")
	}
	if _, err := PackageDir(filepath.Join(dir, "nope"), nil); err == nil || !strings.Contains(err.Error(), "working_dir") {
		t.Fatalf("want an error naming working_dir, got %v", err)
	}
	if _, err := PackageDir(dir, []string{"["}); err == nil {
		t.Fatal("want an error for a bad pattern")
	}
}

// Ray 2.60 can write a just-deleted job back as FAILED; RemoveJob deletes
// it again. A running job is stopped first and deleted once terminal.
func TestRemoveJob(t *testing.T) {
	ResurrectionWindow = 10 * time.Millisecond
	defer func() { ResurrectionWindow = 3 * time.Second }()
	var mu sync.Mutex
	status, exists, deletes, stops, resurrect := JobRunning, true, 0, 0, 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !exists && r.Method != "DELETE":
			if resurrect > 0 { // the monitor writes the job back
				resurrect--
				exists, status = true, JobFailed
			} else {
				http.Error(w, "Job x does not exist", 404)
				return
			}
			fallthrough
		case r.Method == "GET":
			_ = json.NewEncoder(w).Encode(JobDetails{Status: status})
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/stop"):
			stops++
			status = JobStopped
			_ = json.NewEncoder(w).Encode(JobStopResponse{Stopped: true})
		case r.Method == "DELETE":
			if !status.Terminal() {
				http.Error(w, "RuntimeError: Attempted to delete job 'x', but it is in a non-terminal state RUNNING.", 500)
				return
			}
			deletes++
			exists = false
			_ = json.NewEncoder(w).Encode(JobDeleteResponse{Deleted: true})
		}
	}))
	defer srv.Close()
	c := fastClient(t, Config{Address: srv.URL})
	if err := c.RemoveJob(context.Background(), "x", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if stops != 1 || deletes != 2 || exists {
		t.Fatalf("stops=%d deletes=%d exists=%v; want 1 stop, 2 deletes (one after the re-creation), gone", stops, deletes, exists)
	}
	// Gone already: success without a request other than the lookup.
	if err := c.RemoveJob(context.Background(), "x", time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
