package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrBusy is returned (wrapped) when a password could not be hashed because
// every hashing slot was taken and the queue for them was full, or the
// wait for a slot exceeded its maximum. Handlers answer 503 with
// Retry-After.
var ErrBusy = errors.New("app: too many password hashes at once")

// hashQueue bounds the argon2id runs of the process (each takes tens of
// milliseconds of one core and 19 MiB with the default parameters): at most
// cap(slots) run at once, at most queue requests wait for a slot, in the
// order they came (a channel wakes its blocked senders first in, first
// out), and none waits longer than maxWait. A request beyond the queue is
// refused at once, so a flood of logins costs a bounded amount of memory
// and time instead of a queue that grows until every request times out.
type hashQueue struct {
	slots   chan struct{}
	queue   int64
	maxWait time.Duration
	waiting atomic.Int64
}

func newHashQueue(concurrency, queue int, maxWait time.Duration) *hashQueue {
	return &hashQueue{slots: make(chan struct{}, concurrency), queue: int64(queue), maxWait: maxWait}
}

// acquire takes a slot, waiting in the queue for one when all are busy. It
// returns an error wrapping ErrBusy when the queue is full or the wait
// reaches maxWait, and ctx's error when ctx ends first; in every error case
// the caller holds no slot and has left the queue. Each nil return must be
// followed by one release.
func (q *hashQueue) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case q.slots <- struct{}{}:
		return nil
	default:
	}
	if q.waiting.Add(1) > q.queue {
		q.waiting.Add(-1)
		return fmt.Errorf("%w: the queue is full", ErrBusy)
	}
	defer q.waiting.Add(-1)
	timer := time.NewTimer(q.maxWait)
	defer timer.Stop()
	select {
	case q.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%w: no slot within %v", ErrBusy, q.maxWait)
	}
}

// release gives back the slot of a successful acquire.
func (q *hashQueue) release() { <-q.slots }
