package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStateWaitReachesTarget(t *testing.T) {
	states := []string{"PENDING", "RUNNING", "SUCCEEDED"}
	i := 0
	w := StateWait[int]{
		Pending: []string{"PENDING", "RUNNING"}, Target: []string{"SUCCEEDED"},
		PollInterval: time.Millisecond, Timeout: time.Second,
		Refresh: func(context.Context) (int, string, error) { s := states[i]; i++; return i, s, nil },
	}
	got, err := w.Wait(context.Background())
	if err != nil || got != 3 {
		t.Fatalf("got %d, %v; want 3, nil", got, err)
	}
}

func TestStateWaitUnexpectedState(t *testing.T) {
	w := StateWait[string]{
		Pending: []string{"PENDING"}, Target: []string{"SUCCEEDED"}, PollInterval: time.Millisecond,
		Refresh: func(context.Context) (string, string, error) { return "x", "FAILED", nil },
	}
	_, err := w.Wait(context.Background())
	var ue *UnexpectedStateError
	if !errors.As(err, &ue) || ue.State != "FAILED" {
		t.Fatalf("want UnexpectedStateError FAILED, got %v", err)
	}
}

func TestStateWaitToleratesNotFound(t *testing.T) {
	calls := 0
	w := StateWait[int]{
		Pending: []string{"pending"}, Target: []string{"running"}, PollInterval: time.Millisecond, NotFoundChecks: 2,
		Refresh: func(context.Context) (int, string, error) {
			calls++
			if calls <= 2 {
				return 0, "", NotFound("instance i-1")
			}
			return 1, "running", nil
		},
	}
	if _, err := w.Wait(context.Background()); err != nil {
		t.Fatalf("want success after 2 not-found, got %v", err)
	}
	calls = -10
	w.NotFoundChecks = 1
	if _, err := w.Wait(context.Background()); !IsNotFound(err) {
		t.Fatalf("want not-found error once checks are exhausted, got %v", err)
	}
}

func TestStateWaitTimeout(t *testing.T) {
	w := StateWait[int]{
		Pending: []string{"PENDING"}, Target: []string{"DONE"}, PollInterval: 5 * time.Millisecond, Timeout: 30 * time.Millisecond,
		Refresh: func(context.Context) (int, string, error) { return 1, "PENDING", nil },
	}
	_, err := w.Wait(context.Background())
	var te *TimeoutError
	if !errors.As(err, &te) || te.LastState != "PENDING" {
		t.Fatalf("want TimeoutError with last state PENDING, got %v", err)
	}
}

func TestUntil(t *testing.T) {
	n := 0
	err := Until(context.Background(), time.Second, time.Millisecond, func(context.Context) (bool, error) {
		n++
		return n == 3, errors.New("not yet")
	})
	if err != nil || n != 3 {
		t.Fatalf("got n=%d err=%v", n, err)
	}
	fatal := errors.New("boom")
	err = Until(context.Background(), time.Second, time.Millisecond, func(context.Context) (bool, error) { return false, Stop(fatal) })
	if !errors.Is(err, fatal) {
		t.Fatalf("want fatal error, got %v", err)
	}
	err = Until(context.Background(), 20*time.Millisecond, time.Millisecond, func(context.Context) (bool, error) { return false, errors.New("still down") })
	if err == nil || !errors.Is(err, err) || err.Error() != "timeout after 20ms: still down" {
		t.Fatalf("want timeout error naming the last error, got %v", err)
	}
}

func TestTimeLeft(t *testing.T) {
	if got := TimeLeft(context.Background(), time.Minute); got != time.Minute {
		t.Errorf("no deadline: got %s", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if got := TimeLeft(ctx, time.Minute); got < 59*time.Minute || got > time.Hour {
		t.Errorf("an hour left: got %s", got)
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if got := TimeLeft(past, time.Minute); got != time.Millisecond {
		t.Errorf("deadline passed: got %s", got)
	}
}
