// Package retry holds the small find/status/wait helpers shared by the
// resources: a not-found sentinel and a state poller in the style of the
// AWS provider's StateChangeConf.
package retry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNotFound is wrapped by every finder when the remote object does not exist.
var ErrNotFound = errors.New("not found")

// NotFound wraps ErrNotFound with a description of what was looked for.
func NotFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotFound)
}

// IsNotFound reports whether err wraps ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// StatusFunc returns the object, its current state, and an error. A nil
// object with a nil error means "not found yet".
type StatusFunc[T any] func(ctx context.Context) (obj T, state string, err error)

// StateWait polls Refresh until the state is in Target, fails when it is
// neither in Pending nor Target, and gives up after Timeout.
type StateWait[T any] struct {
	Pending []string
	Target  []string
	Refresh StatusFunc[T]
	Timeout time.Duration
	// Delay before the first poll.
	Delay time.Duration
	// PollInterval between polls; 2s when zero.
	PollInterval time.Duration
	// NotFoundChecks is how many consecutive not-found answers are tolerated
	// (eventual consistency right after a create). Zero means not-found fails at once.
	NotFoundChecks int
}

// UnexpectedStateError is returned when the object reaches a state that is
// neither pending nor a target, e.g. FAILED.
type UnexpectedStateError struct {
	State    string
	Expected []string
}

func (e *UnexpectedStateError) Error() string {
	return fmt.Sprintf("unexpected state %q, wanted one of %v", e.State, e.Expected)
}

// TimeoutError is returned when the wait ran past its timeout; LastState is
// the last state seen.
type TimeoutError struct {
	LastState string
	Timeout   time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timeout after %s waiting for state to change (last state: %q)", e.Timeout, e.LastState)
}

// Wait runs the poll loop and returns the last object seen.
func (w StateWait[T]) Wait(ctx context.Context) (T, error) {
	var last T
	interval := w.PollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.Timeout)
		defer cancel()
	}
	if err := Sleep(ctx, w.Delay); err != nil {
		return last, &TimeoutError{Timeout: w.Timeout}
	}
	lastState, notFound := "", 0
	for {
		obj, state, err := w.Refresh(ctx)
		switch {
		case err != nil && IsNotFound(err) && notFound < w.NotFoundChecks:
			notFound++
		case err != nil:
			if ctx.Err() != nil {
				return last, &TimeoutError{LastState: lastState, Timeout: w.Timeout}
			}
			return last, err
		default:
			notFound = 0
			last, lastState = obj, state
			if slices.Contains(w.Target, state) {
				return obj, nil
			}
			if !slices.Contains(w.Pending, state) {
				return obj, &UnexpectedStateError{State: state, Expected: w.Target}
			}
		}
		if err := Sleep(ctx, interval); err != nil {
			return last, &TimeoutError{LastState: lastState, Timeout: w.Timeout}
		}
	}
}

// Until calls f until it reports done, returns a non-retryable error, or the
// timeout passes. f returns (done, retryableErr, fatalErr).
func Until(ctx context.Context, timeout, interval time.Duration, f func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		done, err := f(ctx)
		if done {
			return nil
		}
		var nr *nonRetryable
		if errors.As(err, &nr) {
			return nr.err
		}
		if err != nil {
			lastErr = err
		}
		if Sleep(ctx, interval) != nil {
			if lastErr != nil {
				return fmt.Errorf("timeout after %s: %w", timeout, lastErr)
			}
			return fmt.Errorf("timeout after %s", timeout)
		}
	}
}

type nonRetryable struct{ err error }

func (n *nonRetryable) Error() string { return n.err.Error() }
func (n *nonRetryable) Unwrap() error { return n.err }

// Stop marks err as not worth retrying inside Until.
func Stop(err error) error { return &nonRetryable{err: err} }

// Sleep waits d, or returns ctx's error as soon as ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// TimeLeft is what is left of ctx's deadline (at least a millisecond once it
// has passed), or def when ctx has none.
func TimeLeft(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > 0 {
			return left
		}
		return time.Millisecond
	}
	return def
}
