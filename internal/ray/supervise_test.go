package ray

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestShortMessage(t *testing.T) {
	msg := "Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\nline1\n"
	if got := ShortMessage(msg); got != "Job entrypoint command failed with exit code 3" {
		t.Errorf("got %q", got)
	}
	if got := ShortMessage("Job was intentionally stopped."); got != "Job was intentionally stopped." {
		t.Errorf("got %q", got)
	}
}

func TestSubmissionBase(t *testing.T) {
	req := JobSubmitRequest{Entrypoint: "echo hi", Metadata: map[string]string{"a": "b"}}
	a, err := SubmissionBase("rayvllm", req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SubmissionBase("rayvllm", req)
	req.Entrypoint = "echo ho"
	c, _ := SubmissionBase("rayvllm", req)
	if a[:20] != b[:20] || a == b {
		t.Errorf("same request: want the same hash part and different nonces, got %s and %s", a, b)
	}
	if a[:20] == c[:20] {
		t.Errorf("different requests share the hash part: %s, %s", a, c)
	}
	if AttemptID(a, 1) != a || AttemptID(a, 3) != a+"-retry-2" {
		t.Errorf("attempt ids: %s %s", AttemptID(a, 1), AttemptID(a, 3))
	}
}

// jobsServer is a scripted Jobs API: status(id, polls) says what GET
// answers; an empty status is 404.
type jobsServer struct {
	mu      sync.Mutex
	polls   map[string]int
	session string
	stopped []string
	status  func(id string, polls int) (JobStatus, *int64)
}

func (s *jobsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.URL.Path == "/api/version":
		_ = json.NewEncoder(w).Encode(VersionInfo{Version: "4", RayVersion: "2.60.0", SessionName: s.session})
	case r.Method == "POST" && r.URL.Path == "/api/jobs/":
		var req JobSubmitRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		_ = json.NewEncoder(w).Encode(JobSubmitResponse{SubmissionID: req.SubmissionID})
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/stop"):
		s.stopped = append(s.stopped, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/jobs/"), "/stop"))
		_ = json.NewEncoder(w).Encode(JobStopResponse{Stopped: true})
	case r.Method == "GET":
		id := strings.TrimPrefix(r.URL.Path, "/api/jobs/")
		s.polls[id]++
		st, start := s.status(id, s.polls[id])
		if st == "" {
			http.Error(w, "Job "+id+" does not exist", http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(JobDetails{SubmissionID: &id, Status: st, StartTime: start})
	default:
		http.NotFound(w, r)
	}
}

func runJob(t *testing.T, s *jobsServer, r JobRun) (*Attempt, []string, error) {
	t.Helper()
	s.polls = map[string]int{}
	if s.session == "" {
		s.session = "session_1"
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := fastClient(t, Config{Address: srv.URL})
	r.Base, r.Wait, r.PollInterval, r.OutageGrace = "rayvllm-x", true, time.Millisecond, time.Second
	var ended []string
	r.Ended = func(a *Attempt, err error) { ended = append(ended, a.SubmissionID) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := c.RunJob(ctx, JobSubmitRequest{Entrypoint: "true"}, r)
	return a, ended, err
}

func TestRunJobRetriesAFailedAttempt(t *testing.T) {
	s := &jobsServer{status: func(id string, polls int) (JobStatus, *int64) {
		if polls < 2 {
			return JobRunning, nil
		}
		if id == "rayvllm-x" {
			return JobFailed, nil
		}
		return JobSucceeded, nil
	}}
	a, ended, err := runJob(t, s, JobRun{MaxAttempts: 3})
	if err != nil || a.N != 2 || a.SubmissionID != "rayvllm-x-retry-1" || a.Job.Status != JobSucceeded {
		t.Fatalf("got %+v, %v", a, err)
	}
	if len(ended) != 2 {
		t.Fatalf("Ended calls: %v", ended)
	}
	// Without retries the FAILED attempt is the answer, not an error.
	a, _, err = runJob(t, s, JobRun{MaxAttempts: 1})
	if err != nil || a.N != 1 || a.Job.Status != JobFailed {
		t.Fatalf("no retries: got %+v, %v", a, err)
	}
}

func TestRunJobDetectsALostJob(t *testing.T) {
	s := &jobsServer{}
	s.status = func(id string, polls int) (JobStatus, *int64) {
		if polls < 2 {
			return JobRunning, nil
		}
		s.session = "session_2" // the head restarted and forgot the job
		return "", nil
	}
	_, _, err := runJob(t, s, JobRun{MaxAttempts: 3})
	var lost *LostJobError
	if !errors.As(err, &lost) || lost.Before != "session_1" || lost.After != "session_2" {
		t.Fatalf("want a LostJobError, got %v", err)
	}
	// The same 404 without a new session is a job deleted outside Terraform.
	s.status = func(id string, polls int) (JobStatus, *int64) { return "", nil }
	s.session = "session_1"
	if _, _, err := runJob(t, s, JobRun{}); err == nil || errors.As(err, &lost) || !strings.Contains(err.Error(), "disappeared") {
		t.Fatalf("want 'disappeared', got %v", err)
	}
}

func TestRunJobStopsAtTheDeadline(t *testing.T) {
	long := time.Now().Add(-time.Hour).UnixMilli()
	s := &jobsServer{}
	s.status = func(id string, polls int) (JobStatus, *int64) {
		if len(s.stopped) > 0 {
			return JobStopped, &long
		}
		return JobRunning, &long
	}
	a, _, err := runJob(t, s, JobRun{MaxAttempts: 3, ActiveDeadline: time.Minute})
	if err != nil || !a.StoppedForDeadline || a.Job.Status != JobStopped || a.N != 1 || len(s.stopped) != 1 {
		t.Fatalf("got %+v, stopped %v, %v", a, s.stopped, err)
	}
}
