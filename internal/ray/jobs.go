package ray

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// JobStatus is common.py JobStatus.
type JobStatus string

const (
	JobPending   JobStatus = "PENDING"
	JobRunning   JobStatus = "RUNNING"
	JobStopped   JobStatus = "STOPPED"
	JobSucceeded JobStatus = "SUCCEEDED"
	JobFailed    JobStatus = "FAILED"
)

// Terminal reports whether no further transition can happen (common.py
// JobStatus.is_terminal).
func (s JobStatus) Terminal() bool {
	return s == JobStopped || s == JobSucceeded || s == JobFailed
}

// JobSubmitRequest is the body of POST /api/jobs/ (common.py
// JobSubmitRequest). Ray drops keys whose value is null, so omitted fields
// take Ray's defaults.
type JobSubmitRequest struct {
	Entrypoint   string            `json:"entrypoint"`
	SubmissionID string            `json:"submission_id,omitempty"`
	RuntimeEnv   map[string]any    `json:"runtime_env,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	// EntrypointNumCPUs, EntrypointNumGPUs, EntrypointMemory (bytes) and
	// EntrypointResources are reserved for the entrypoint command itself.
	EntrypointNumCPUs       *float64           `json:"entrypoint_num_cpus,omitempty"`
	EntrypointNumGPUs       *float64           `json:"entrypoint_num_gpus,omitempty"`
	EntrypointMemory        *int64             `json:"entrypoint_memory,omitempty"`
	EntrypointResources     map[string]float64 `json:"entrypoint_resources,omitempty"`
	EntrypointLabelSelector map[string]string  `json:"entrypoint_label_selector,omitempty"`
}

// JobSubmitResponse is common.py JobSubmitResponse.
type JobSubmitResponse struct {
	JobID        string `json:"job_id"` // deprecated alias of submission_id
	SubmissionID string `json:"submission_id"`
}

// DriverInfo is pydantic_models.py DriverInfo.
type DriverInfo struct {
	ID            string `json:"id"`
	NodeIPAddress string `json:"node_ip_address"`
	PID           string `json:"pid"`
}

// JobDetails is GET /api/jobs/{id} (pydantic_models.py JobDetails). Times
// are Unix milliseconds.
type JobDetails struct {
	Type                   string            `json:"type"` // SUBMISSION or DRIVER
	JobID                  *string           `json:"job_id"`
	SubmissionID           *string           `json:"submission_id"`
	DriverInfo             *DriverInfo       `json:"driver_info"`
	Status                 JobStatus         `json:"status"`
	Entrypoint             string            `json:"entrypoint"`
	Message                *string           `json:"message"`
	ErrorType              *string           `json:"error_type"`
	StartTime              *int64            `json:"start_time"`
	EndTime                *int64            `json:"end_time"`
	Metadata               map[string]string `json:"metadata"`
	RuntimeEnv             map[string]any    `json:"runtime_env"`
	DriverAgentHTTPAddress *string           `json:"driver_agent_http_address"`
	DriverNodeID           *string           `json:"driver_node_id"`
	DriverExitCode         *int              `json:"driver_exit_code"`
}

// MessageText is Message or "".
func (j *JobDetails) MessageText() string {
	if j.Message == nil {
		return ""
	}
	return *j.Message
}

// Start and End convert the millisecond timestamps; zero when unset.
func (j *JobDetails) Start() time.Time { return msTime(j.StartTime) }
func (j *JobDetails) End() time.Time   { return msTime(j.EndTime) }

func msTime(ms *int64) time.Time {
	if ms == nil || *ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// JobLogsResponse is common.py JobLogsResponse.
type JobLogsResponse struct {
	Logs string `json:"logs"`
}

// JobStopResponse is common.py JobStopResponse. Stopped is false when the
// job was already terminal.
type JobStopResponse struct {
	Stopped bool `json:"stopped"`
}

// JobDeleteResponse is common.py JobDeleteResponse.
type JobDeleteResponse struct {
	Deleted bool `json:"deleted"`
}

func jobPath(id string, suffix string) string {
	return "/api/jobs/" + url.PathEscape(id) + suffix
}

// GetJob is GET /api/jobs/{id}. A missing job is an error wrapping
// retry.ErrNotFound.
func (c *Client) GetJob(ctx context.Context, id string) (*JobDetails, error) {
	var j JobDetails
	if err := c.do(ctx, request{method: "GET", path: jobPath(id, ""), out: &j, retry: true}); err != nil {
		if retry.IsNotFound(err) {
			return nil, retry.NotFound("Ray job %q on %s", id, c.base)
		}
		return nil, err
	}
	return &j, nil
}

// ListJobs is GET /api/jobs/: every job the cluster knows, submitted or not.
func (c *Client) ListJobs(ctx context.Context) ([]JobDetails, error) {
	var jobs []JobDetails
	if err := c.do(ctx, request{method: "GET", path: "/api/jobs/", out: &jobs, retry: true}); err != nil {
		return nil, err
	}
	return jobs, nil
}

// JobLogs is GET /api/jobs/{id}/logs: the whole driver log so far.
func (c *Client) JobLogs(ctx context.Context, id string) (string, error) {
	var l JobLogsResponse
	if err := c.do(ctx, request{method: "GET", path: jobPath(id, "/logs"), out: &l, retry: true}); err != nil {
		if retry.IsNotFound(err) {
			return "", retry.NotFound("Ray job %q on %s", id, c.base)
		}
		return "", err
	}
	return l.Logs, nil
}

// StopJob is POST /api/jobs/{id}/stop. Ray sends SIGTERM to the entrypoint
// and, after a grace period, SIGKILL. Stopping is idempotent, so it is retried.
func (c *Client) StopJob(ctx context.Context, id string) (bool, error) {
	var s JobStopResponse
	if err := c.do(ctx, request{method: "POST", path: jobPath(id, "/stop"), out: &s, retry: true}); err != nil {
		if retry.IsNotFound(err) {
			return false, retry.NotFound("Ray job %q on %s", id, c.base)
		}
		return false, err
	}
	return s.Stopped, nil
}

// DeleteJob is DELETE /api/jobs/{id}. Ray only deletes terminal jobs.
func (c *Client) DeleteJob(ctx context.Context, id string) (bool, error) {
	var d JobDeleteResponse
	if err := c.do(ctx, request{method: "DELETE", path: jobPath(id, ""), out: &d, retry: true}); err != nil {
		if retry.IsNotFound(err) {
			return false, retry.NotFound("Ray job %q on %s", id, c.base)
		}
		return false, err
	}
	return d.Deleted, nil
}

// RemoveJob stops a job that still runs, waits until it is terminal,
// deletes it and makes sure it stays deleted. A missing job counts as
// removed. The context bounds the whole operation.
//
// Ray 2.60's job monitor checks its job once a second; when the job is
// deleted in the second or two between the end of its entrypoint and the
// monitor noticing that the supervisor actor exited, the monitor writes the
// job back as FAILED ("Job supervisor actor died"). So a job that ended
// recently is looked up again after that window and deleted again.
func (c *Client) RemoveJob(ctx context.Context, id string, poll time.Duration) error {
	job, err := c.GetJob(ctx, id)
	if retry.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	recheck := !job.Status.Terminal() || job.End().IsZero() || time.Since(job.End()) < resurrectionCheckAge
	if !job.Status.Terminal() {
		if _, err := c.StopJob(ctx, id); err != nil && !retry.IsNotFound(err) {
			return fmt.Errorf("stopping: %w", err)
		}
		timeout := retry.TimeLeft(ctx, time.Hour)
		_, err := retry.StateWait[*JobDetails]{
			Pending: []string{string(JobPending), string(JobRunning)},
			Target:  []string{string(JobSucceeded), string(JobFailed), string(JobStopped)},
			Timeout: timeout, PollInterval: poll,
			Refresh: func(ctx context.Context) (*JobDetails, string, error) {
				j, err := c.GetJob(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return j, string(j.Status), nil
			},
		}.Wait(ctx)
		if retry.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for the stopped job to end: %w", err)
		}
	}
	for round := 0; round < 5; round++ {
		if _, err := c.DeleteJob(ctx, id); err != nil && !retry.IsNotFound(err) {
			return err
		}
		if !recheck {
			return nil
		}
		if err := retry.Sleep(ctx, ResurrectionWindow); err != nil {
			return err
		}
		if _, err := c.GetJob(ctx, id); retry.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		tflog.Info(ctx, "Ray re-created a just-deleted job; deleting it again", map[string]any{"submission_id": id})
	}
	return fmt.Errorf("the Ray cluster keeps re-creating job %s after it is deleted", id)
}

// ResurrectionWindow is how long RemoveJob waits before it looks whether
// Ray's job monitor re-created a just-deleted job (three of its one-second
// loops).
var ResurrectionWindow = 3 * time.Second

// resurrectionCheckAge: jobs that ended longer ago than this (by this
// machine's clock) are past the window and are not checked again.
const resurrectionCheckAge = 30 * time.Second

// SubmitResult is what SubmitJob found or created.
type SubmitResult struct {
	SubmissionID string
	// Existing is true when the submission_id was already taken: an earlier
	// attempt of this submission reached Ray, or the same job was submitted
	// before (the ids are deterministic). The job is then not submitted again.
	Existing bool
}

// SubmitJob submits req and never creates two jobs for one submission id:
//   - req.SubmissionID is required (callers derive it deterministically);
//   - the POST itself is never retried blindly: after an ambiguous failure
//     (transport error or timeout, 429, 5xx) the id is looked up first, and
//     only resubmitted when Ray does not know it;
//   - Ray's "already exists" answer means an earlier attempt got through, so
//     the existing job is returned.
func (c *Client) SubmitJob(ctx context.Context, req JobSubmitRequest) (*SubmitResult, error) {
	id := req.SubmissionID
	if id == "" {
		return nil, errors.New("SubmitJob needs a submission_id")
	}
	attempts := c.http.RetryMax + 1
	for attempt := 0; ; attempt++ {
		var resp JobSubmitResponse
		err := c.do(ctx, request{method: "POST", path: "/api/jobs/", body: req, out: &resp})
		if err == nil {
			return &SubmitResult{SubmissionID: resp.SubmissionID}, nil
		}
		if IsAlreadyExists(err) {
			if _, gerr := c.GetJob(ctx, id); gerr != nil {
				return nil, fmt.Errorf("%w (and looking the job up failed: %v)", err, gerr)
			}
			tflog.Info(ctx, "Ray job submission id already taken; using the existing job", map[string]any{"submission_id": id})
			return &SubmitResult{SubmissionID: id, Existing: true}, nil
		}
		if !Ambiguous(err) {
			return nil, err
		}
		// The POST may or may not have reached Ray: look before trying again.
		_, gerr := c.GetJob(ctx, id)
		if gerr == nil {
			tflog.Info(ctx, "Ray job submission failed ambiguously but the job exists; using it", map[string]any{"submission_id": id, "error": err.Error()})
			return &SubmitResult{SubmissionID: id, Existing: true}, nil
		}
		if attempt+1 >= attempts {
			return nil, fmt.Errorf("submitting Ray job %q: %w", id, err)
		}
		tflog.Warn(ctx, "Ray job submission failed; the job does not exist, submitting again", map[string]any{"submission_id": id, "error": err.Error(), "lookup": gerr.Error()})
		wait := backoff(c.http.RetryWaitMin, c.http.RetryWaitMax, attempt, nil)
		if serr := retry.Sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("submitting Ray job %q: %w (then: %v)", id, err, serr)
		}
	}
}

// Ambiguous reports whether a failed request may nevertheless have been
// carried out by the server: a transport failure or timeout, 429 or 5xx.
func Ambiguous(err error) bool {
	var u *UnreachableError
	if errors.As(err, &u) {
		return true
	}
	code := StatusCode(err)
	return code == 429 || code >= 500
}

// Tail returns the last n lines of logs, without the final newline; "" when
// n <= 0.
func Tail(logs string, n int) string {
	if n <= 0 {
		return ""
	}
	logs = strings.TrimRight(logs, "\n")
	if logs == "" {
		return ""
	}
	lines := strings.Split(logs, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
