package ray

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// liveClient connects to the Ray head that .ci/services.sh starts.
func liveClient(t *testing.T) *Client {
	t.Helper()
	addr := os.Getenv("RAY_ADDRESS")
	if addr == "" {
		t.Skip("RAY_ADDRESS is not set: start the test Ray head with .ci/services.sh start and source .tmp/services.env")
	}
	c, err := New(Config{Address: addr, Token: os.Getenv("RAY_AUTH_TOKEN")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitTerminal(t *testing.T, c *Client, id string) *JobDetails {
	t.Helper()
	j, err := retry.StateWait[*JobDetails]{
		Pending: []string{string(JobPending), string(JobRunning)},
		Target:  []string{string(JobSucceeded), string(JobFailed), string(JobStopped)},
		Timeout: 2 * time.Minute, PollInterval: 500 * time.Millisecond,
		Refresh: func(ctx context.Context) (*JobDetails, string, error) {
			j, err := c.GetJob(ctx, id)
			if err != nil {
				return nil, "", err
			}
			return j, string(j.Status), nil
		},
	}.Wait(context.Background())
	if err != nil {
		t.Fatalf("waiting for %s: %v", id, err)
	}
	return j
}

func TestLiveJobsAPI(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	v, err := c.CheckVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Ray %s", v.RayVersion)

	pkg, err := NewPackage(map[string]PackageFile{"hello.py": {Data: []byte("import sys\nprint('hello from the package', sys.argv[1])\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsurePackage(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.PackageExists(ctx, pkg); err != nil || !ok {
		t.Fatalf("package not there after upload: %v %v", ok, err)
	}

	id := fmt.Sprintf("rayvllm-live-%d", time.Now().UnixNano())
	req := JobSubmitRequest{
		Entrypoint: "python hello.py $GREETING", SubmissionID: id,
		RuntimeEnv: map[string]any{"working_dir": pkg.URI, "env_vars": map[string]string{"GREETING": "world"}},
		Metadata:   map[string]string{"owner": "live-test"},
	}
	res, err := c.SubmitJob(ctx, req)
	if err != nil || res.Existing || res.SubmissionID != id {
		t.Fatalf("submit: %+v %v", res, err)
	}
	// The same id again: Ray answers "already exists", the client uses the job.
	res, err = c.SubmitJob(ctx, req)
	if err != nil || !res.Existing {
		t.Fatalf("resubmit: want the existing job, got %+v %v", res, err)
	}
	j := waitTerminal(t, c, id)
	if j.Status != JobSucceeded || j.Metadata["owner"] != "live-test" || j.Start().IsZero() || j.End().Before(j.Start()) {
		t.Fatalf("job: %+v", j)
	}
	logs, err := c.JobLogs(ctx, id)
	if err != nil || !strings.Contains(logs, "hello from the package world") {
		t.Fatalf("logs: %q %v", logs, err)
	}
	jobs, err := c.ListJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, lj := range jobs {
		found = found || (lj.SubmissionID != nil && *lj.SubmissionID == id)
	}
	if !found {
		t.Fatalf("%s not in the job list", id)
	}
	if deleted, err := c.DeleteJob(ctx, id); err != nil || !deleted {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	if _, err := c.GetJob(ctx, id); !retry.IsNotFound(err) {
		t.Fatalf("after delete: want not found, got %v", err)
	}

	// A long job is stopped.
	long := id + "-long"
	if _, err := c.SubmitJob(ctx, JobSubmitRequest{Entrypoint: "sleep 300", SubmissionID: long}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopJob(ctx, long); err != nil {
		t.Fatal(err)
	}
	if j := waitTerminal(t, c, long); j.Status != JobStopped {
		t.Fatalf("after stop: %s", j.Status)
	}
	if _, err := c.DeleteJob(ctx, long); err != nil {
		t.Fatal(err)
	}

	// A bad request keeps Ray's own text.
	err = c.do(ctx, request{method: "POST", path: "/api/jobs/", body: map[string]any{"entrypoint": "true", "metadata": map[string]any{"k": 1}}})
	if StatusCode(err) != 400 || !strings.Contains(err.Error(), "metadata values must be strings") {
		t.Fatalf("want Ray's 400 for bad metadata, got %v", err)
	}
}
