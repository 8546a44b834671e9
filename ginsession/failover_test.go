package ginsession

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replyErr is an error reply from Redis, as go-redis reports one.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

// TestClusterReloadAfterConnectionErrors checks which failures make the
// store ask a ClusterClient to reload its slot map: a failure without a
// reply does, at most once per reloadEvery; a reply from Redis and a
// request the client gave up do not. The reloads are counted through
// ClusterOptions.ClusterSlots, which go-redis calls to load its state.
func TestClusterReloadAfterConnectionErrors(t *testing.T) {
	var loads atomic.Int64
	reloaded := make(chan struct{}, 16)
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			loads.Add(1)
			reloaded <- struct{}{}
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: "127.0.0.1:1"}}}}, nil
		},
	})
	t.Cleanup(func() { _ = cc.Close() })
	s, err := NewStore(cc, Config{Secrets: [][]byte{[]byte(testSecret)}, Logger: discardLogger})
	require.NoError(t, err)
	require.Same(t, cc, s.cluster)

	down := fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	for _, e := range []error{nil, redis.Nil, replyErr("CLUSTERDOWN The cluster is down"), context.Canceled, fmt.Errorf("x: %w", context.Canceled)} {
		s.reloadAfter(e)
		assert.Zero(t, s.nextReload.Load(), "no reload after %v", e)
	}
	assert.Zero(t, loads.Load())

	later := time.Now().Add(time.Hour).UnixNano() // a reload was asked for moments ago
	s.nextReload.Store(later)
	s.reloadAfter(down)
	assert.Equal(t, later, s.nextReload.Load(), "at most one reload per reloadEvery")

	s.nextReload.Store(0)
	s.reloadAfter(down)
	assert.NotZero(t, s.nextReload.Load())
	select {
	case <-reloaded:
	case <-time.After(10 * time.Second):
		t.Fatal("a connection error did not reload the cluster's state")
	}

	plain, err := NewStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Config{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	plain.reloadAfter(down) // a plain client has no slot map: nothing to do, no panic
	assert.Nil(t, plain.cluster)
}

// TestRekeyFailureAsksForAReload checks that a fingerprint re-key that
// fails without a reply from Redis is handled like every other store
// failure: a store error wrapping ErrStoreUnavailable, and a slot-map
// reload asked of a ClusterClient, so that a guarded read during a key
// rotation and a failover does not keep dialling a dead master.
func TestRekeyFailureAsksForAReload(t *testing.T) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		MaxRetries:    -1,
		DialerRetries: 1,
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: "127.0.0.1:1"}}}}, nil
		},
	})
	t.Cleanup(func() { _ = cc.Close() })
	var events []Event
	s, err := NewStore(cc, Config{Secrets: [][]byte{[]byte(testSecret)}, Logger: discardLogger,
		OnEvent: func(e Event) { events = append(events, e) }})
	require.NoError(t, err)

	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	c.Request.Header.Set("User-Agent", chromeWin)
	old := s.fp.Compute(c.Request, "")
	st := &state{key: DefaultKeyPrefix + "x", created: s.now(), fp: old}
	s.rekeyFingerprint(context.Background(), c, st)

	assert.Equal(t, old, st.fp, "nothing changes on failure")
	require.Len(t, events, 1)
	assert.Equal(t, EventStoreError, events[0].Type)
	assert.ErrorIs(t, events[0].Err, ErrStoreUnavailable)
	assert.NotZero(t, s.nextReload.Load(), "a connection error asks for a slot-map reload")
}
