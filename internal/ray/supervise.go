package ray

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// JobLost is the status the provider records for a job that the Ray head
// forgot when it restarted; Ray itself has no such status.
const JobLost JobStatus = "LOST"

// LostJobError is returned by a wait when the job vanished because the Ray
// head restarted (a new session): Ray without GCS fault tolerance forgets
// its jobs then.
type LostJobError struct {
	ID, Before, After string // submission ID, Ray session before and after
}

func (e *LostJobError) Error() string {
	return fmt.Sprintf("Ray job %s was lost: the Ray head restarted while the provider waited for it (Ray session %s, now %s). "+
		"A Ray head without GCS fault tolerance (an external Redis) forgets every job when it restarts, and the job's driver ended with it, so the job did not finish", e.ID, e.Before, e.After)
}

// SubmitError is a failed submission. Ambiguous is true when Ray may have
// the job after all (a timeout or a server error).
type SubmitError struct {
	ID        string
	Ambiguous bool
	Err       error
}

func (e *SubmitError) Error() string { return e.Err.Error() }
func (e *SubmitError) Unwrap() error { return e.Err }

// ShortMessage drops the log excerpt Ray appends to the message of a failed
// job ("..., last available logs (truncated to 20,000 chars): ...").
func ShortMessage(msg string) string {
	if i := strings.Index(msg, ", last available logs"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

// SubmissionBase is the submission ID of a job's first attempt:
// <prefix>-<hash of the request>-<nonce>. It is fixed before the first
// POST, so every retry of that submission (after a timeout or a 5xx) asks
// Ray for the same ID and can never create a second job. The nonce, drawn
// once per create, keeps a replacement from reusing the ID of the job it
// replaces: Ray appends to the old job's log file and races with its
// exiting supervisor actor when an ID is reused.
func SubmissionBase(prefix string, req JobSubmitRequest) (string, error) {
	req.SubmissionID = ""
	b, err := json.Marshal(req) // map keys are sorted by encoding/json
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	nonce := make([]byte, 4)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return prefix + "-" + hex.EncodeToString(sum[:6]) + "-" + hex.EncodeToString(nonce), nil
}

// AttemptID is the submission ID of attempt n (1-based) of a job.
func AttemptID(base string, n int) string {
	if n == 1 {
		return base
	}
	return fmt.Sprintf("%s-retry-%d", base, n-1)
}

// Attempt is one submission of a supervised job.
type Attempt struct {
	N                  int
	SubmissionID       string
	Existing           bool        // Ray already had it: an earlier, interrupted submission
	Job                *JobDetails // the last status read; nil when none was
	StoppedForDeadline bool
}

// JobRun says how RunJob supervises a job.
type JobRun struct {
	Base        string // the first attempt's submission ID (SubmissionBase)
	AttemptKey  string // the metadata key that records the attempt number
	Wait        bool   // wait for each attempt to end; without it RunJob returns once Ray has the job
	MaxAttempts int    // with Wait: attempts in all, a FAILED one is submitted again under a new ID
	// ActiveDeadline stops an attempt that runs longer (from Ray's start
	// time); 0 is none. A stopped attempt is not retried.
	ActiveDeadline time.Duration
	PollInterval   time.Duration
	// OutageGrace is how long a wait rides out a dashboard that does not
	// answer (a head restarting) before it gives up with the job's fate unknown.
	OutageGrace time.Duration
	// Submitted is called once Ray has an attempt, before the wait, so that
	// the caller records its ID: an interrupted wait never orphans a job.
	Submitted func(*Attempt)
	// Ended is called when the wait for an attempt ends, also with an error.
	Ended func(*Attempt, error)
}

// RunJob submits a job and supervises it: it waits for each attempt to end,
// stops one that runs past the deadline, detects one the Ray head lost
// (*LostJobError) and resubmits a FAILED one. It returns the last attempt;
// a job that ended FAILED or STOPPED is no error (see Attempt.Job.Status).
// A failed submission is a *SubmitError.
func (c *Client) RunJob(ctx context.Context, req JobSubmitRequest, r JobRun) (*Attempt, error) {
	maxAttempts := 1
	if r.Wait && r.MaxAttempts > 1 {
		maxAttempts = r.MaxAttempts
	}
	if req.Metadata == nil {
		req.Metadata = map[string]string{}
	}
	var a *Attempt
	for n := 1; n <= maxAttempts; n++ {
		a = &Attempt{N: n, SubmissionID: AttemptID(r.Base, n)}
		req.SubmissionID = a.SubmissionID
		if r.AttemptKey != "" {
			req.Metadata[r.AttemptKey] = strconv.Itoa(n)
		}
		res, err := c.SubmitJob(ctx, req)
		if err != nil {
			return a, &SubmitError{ID: a.SubmissionID, Ambiguous: Ambiguous(err), Err: err}
		}
		a.Existing = res.Existing
		if r.Submitted != nil {
			r.Submitted(a)
		}
		if !r.Wait {
			if job, err := c.GetJob(ctx, a.SubmissionID); err == nil {
				a.Job = job
			}
			return a, nil
		}
		job, err := c.waitJob(ctx, a, r)
		if job != nil {
			a.Job = job
		}
		if r.Ended != nil {
			r.Ended(a, err)
		}
		if err != nil {
			return a, err
		}
		if job.Status != JobFailed || n == maxAttempts {
			return a, nil
		}
		tflog.Warn(ctx, "Ray job attempt failed; submitting it again", map[string]any{"submission_id": a.SubmissionID, "attempt": n, "message": ShortMessage(job.MessageText())})
	}
	return a, nil
}

// waitJob polls the attempt until it is terminal, stopping it once when it
// runs past the deadline. The context carries the caller's timeout.
func (c *Client) waitJob(ctx context.Context, a *Attempt, r JobRun) (*JobDetails, error) {
	id := a.SubmissionID
	timeout := retry.TimeLeft(ctx, time.Hour)
	session := ""
	if v, err := c.CheckVersion(ctx); err == nil {
		session = v.SessionName
	}
	var outageSince time.Time
	var prev *JobDetails
	lastState := string(JobPending)
	job, err := retry.StateWait[*JobDetails]{
		Pending:      []string{string(JobPending), string(JobRunning)},
		Target:       []string{string(JobSucceeded), string(JobFailed), string(JobStopped)},
		Timeout:      timeout,
		PollInterval: r.PollInterval,
		Refresh: func(ctx context.Context) (*JobDetails, string, error) {
			job, err := c.GetJob(ctx, id)
			switch {
			case err == nil:
				outageSince = time.Time{}
			case retry.IsNotFound(err):
				if v, verr := c.Version(ctx); verr == nil && session != "" && v.SessionName != session {
					return nil, "", &LostJobError{ID: id, Before: session, After: v.SessionName}
				}
				return nil, "", fmt.Errorf("the job disappeared while the provider waited for it (deleted outside Terraform?): %w", err)
			case Ambiguous(err) && ctx.Err() == nil:
				if outageSince.IsZero() {
					outageSince = time.Now()
				}
				if down := time.Since(outageSince); down < r.OutageGrace {
					tflog.Warn(ctx, "Ray dashboard does not answer while waiting for the job; waiting on", map[string]any{"submission_id": id, "down_for": down.Round(time.Second).String(), "error": err.Error()})
					return prev, lastState, nil
				}
				return nil, "", fmt.Errorf("the Ray dashboard did not answer for %s while the provider waited for the job, so whether it still runs is unknown: %w", r.OutageGrace, err)
			default:
				return nil, "", err
			}
			prev, lastState = job, string(job.Status)
			if r.ActiveDeadline > 0 && !a.StoppedForDeadline && !job.Status.Terminal() && !job.Start().IsZero() &&
				time.Since(job.Start()) > r.ActiveDeadline {
				tflog.Info(ctx, "Ray job ran past active_deadline_seconds; stopping it", map[string]any{"submission_id": id})
				if _, err := c.StopJob(ctx, id); err != nil && !retry.IsNotFound(err) {
					return nil, "", fmt.Errorf("stopping the job after active_deadline_seconds: %w", err)
				}
				a.StoppedForDeadline = true
			}
			return job, string(job.Status), nil
		},
	}.Wait(ctx)
	var unexpected *retry.UnexpectedStateError
	if errors.As(err, &unexpected) {
		err = fmt.Errorf("the Ray dashboard reported the unknown status %q", unexpected.State)
	}
	return job, err
}
