package app

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHashQueueBoundsConcurrency fills the hashing slots and the queue
// with logins held inside the hash: the next login is answered 503 with
// Retry-After at once, its throttle attempt is given back, and no more
// than HashConcurrency hashes ever run at once (counted in the hook).
func TestHashQueueBoundsConcurrency(t *testing.T) {
	const slots, queue = 2, 2
	e := newTestEnv(t, func(c *Config) { c.HashConcurrency, c.HashQueue = slots, queue })
	const pw = "zoe's password"
	e.signup("zoe@example.com", pw)

	var inside, most atomic.Int64
	entered := make(chan struct{}, slots+queue)
	gate := make(chan struct{})
	e.app.users.inHash = func() {
		n := inside.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		<-gate
		inside.Add(-1)
	}
	before := e.app.users.verifies.Load()

	statuses := make([]int, slots+queue)
	errs := make([]error, slots+queue)
	var wg sync.WaitGroup
	for i := range slots + queue {
		wg.Go(func() {
			r, err := e.send(http.MethodPost, "/login", creds("zoe@example.com", pw))
			statuses[i], errs[i] = r.status, err
		})
	}
	for range slots {
		<-entered
	}
	require.Eventually(t, func() bool { return e.app.users.hashes.waiting.Load() == queue },
		10*time.Second, time.Millisecond, "the other logins wait in the queue")

	r := e.do(http.MethodPost, "/login", creds("zoe@example.com", pw))
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, errorBody("server busy, try again"), r.body)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Contains(t, e.logs.String(), `level=WARN msg="password hashing busy"`)
	assert.NotContains(t, e.logs.String(), "level=ERROR")

	close(gate)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	assert.Equal(t, []int{200, 200, 200, 200}, statuses, "the queued logins ran once a slot was free")
	assert.Equal(t, int64(slots), most.Load(), "never more hashes at once than slots")
	assert.Equal(t, int64(slots+queue), e.app.users.verifies.Load()-before, "the refused login ran no hash")
	n, err := e.rdb.HGet(t.Context(), e.app.throttle.successKey("zoe@example.com"), "n").Int()
	require.NoError(t, err)
	assert.Equal(t, slots+queue, n, "the refused login gave its reservation back")
}

// TestHashQueueAcquire drives the queue itself: a full queue and a wait
// past maxWait are ErrBusy, and a waiter whose context ends leaves the
// queue, so that the next request can take its place.
func TestHashQueueAcquire(t *testing.T) {
	t.Run("queue full", func(t *testing.T) {
		q := newHashQueue(1, 1, time.Minute)
		require.NoError(t, q.acquire(t.Context()))
		ctx, cancel := context.WithCancel(t.Context())
		waited := make(chan error, 1)
		go func() { waited <- q.acquire(ctx) }()
		require.Eventually(t, func() bool { return q.waiting.Load() == 1 }, 10*time.Second, time.Millisecond)
		assert.ErrorIs(t, q.acquire(t.Context()), ErrBusy, "one more than the queue is refused at once")
		cancel()
		assert.ErrorIs(t, <-waited, context.Canceled)
		q.release()
	})

	t.Run("cancelled waiter leaves the queue", func(t *testing.T) {
		q := newHashQueue(1, 1, time.Minute)
		require.NoError(t, q.acquire(t.Context()))
		ctx, cancel := context.WithCancel(t.Context())
		first := make(chan error, 1)
		go func() { first <- q.acquire(ctx) }()
		require.Eventually(t, func() bool { return q.waiting.Load() == 1 }, 10*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-first, context.Canceled)
		assert.Equal(t, int64(0), q.waiting.Load(), "the cancelled request left the queue")

		second := make(chan error, 1)
		go func() { second <- q.acquire(t.Context()) }()
		require.Eventually(t, func() bool { return q.waiting.Load() == 1 }, 10*time.Second, time.Millisecond,
			"the next request takes the freed place instead of being refused")
		q.release()
		require.NoError(t, <-second, "and gets the slot")
		assert.Len(t, q.slots, 1, "the cancelled request took no slot")
		q.release()
	})

	t.Run("cancelled before queueing", func(t *testing.T) {
		q := newHashQueue(1, 1, time.Minute)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		assert.ErrorIs(t, q.acquire(ctx), context.Canceled, "even with a free slot")
		assert.Empty(t, q.slots)
	})

	t.Run("max wait", func(t *testing.T) {
		q := newHashQueue(1, 4, time.Millisecond)
		require.NoError(t, q.acquire(t.Context()))
		assert.ErrorIs(t, q.acquire(t.Context()), ErrBusy, "no slot within maxWait")
		assert.Equal(t, int64(0), q.waiting.Load(), "and it left the queue")
		q.release()
	})
}

// TestThrottleAndHashSettings: the defaults New fills in, and the
// negative values it refuses.
func TestThrottleAndHashSettings(t *testing.T) {
	a, err := New(Config{Secret: testSecret}, deadRedis(t))
	require.NoError(t, err)
	cfg := a.Config()
	assert.Equal(t, DefaultSuccessLimit, cfg.SuccessLimit)
	assert.Equal(t, DefaultSuccessWindow, cfg.SuccessWindow)
	assert.Equal(t, DefaultRefusalDelay, cfg.RefusalDelay)
	assert.Equal(t, max(2, runtime.GOMAXPROCS(0)), cfg.HashConcurrency)
	assert.Equal(t, DefaultHashQueuePerSlot*cfg.HashConcurrency, cfg.HashQueue)
	assert.Equal(t, DefaultHashMaxWait, cfg.HashMaxWait)
	assert.Equal(t, cfg.HashConcurrency, cap(a.users.hashes.slots))

	for _, edit := range []func(*Config){
		func(c *Config) { c.HashConcurrency = -1 },
		func(c *Config) { c.HashQueue = -1 },
		func(c *Config) { c.HashMaxWait = -time.Second },
		func(c *Config) { c.SuccessLimit = -1 },
		func(c *Config) { c.SuccessWindow = -time.Second },
		func(c *Config) { c.RefusalDelay = -time.Second },
	} {
		cfg := Config{Secret: testSecret}
		edit(&cfg)
		_, err := New(cfg, deadRedis(t))
		assert.ErrorIs(t, err, ErrConfig)
	}
}
