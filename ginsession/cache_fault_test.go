//go:build faults

package ginsession

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// TestFaultLocalCacheSentinelFailover kills the master behind three
// Sentinels while two Stores with the local cache on hold a session: B
// empties its cache when its subscription breaks, refuses a session A
// revokes on the promoted replica, and serves hits again once its
// heartbeat comes back through the new master.
func TestFaultLocalCacheSentinelFailover(t *testing.T) {
	ss := redistest.StartSentinels(t, time.Second)
	rdb := ss.Client(t, recommendedFailoverOptions())
	count := &redistest.Counter{}
	rdb.AddHook(count)
	raw := redis.NewClient(&redis.Options{Addr: ss.Master.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	a, b := cachePair(t, rdb, rdb, count, count, raw, nil)
	checkCrossInstance(t, a, b, "mo")

	c, other := a.login(chromeWin, "ned"), a.login(chromeWin2, "ola")
	onB, otherOnB := primed(t, b, c), primed(t, b, other)
	redistest.WaitReplicated(t, ss.Master.Addr)
	ss.Master.Stop()
	require.Eventually(t, func() bool { return b.store.CacheStats().Entries == 0 }, 10*time.Second, 5*time.Millisecond, "the cache is emptied")
	ss.WaitFailover(t, 20*time.Second)
	require.Eventually(t, func() bool {
		_, err := a.store.RevokeUser(context.Background(), "ned")
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "the revocation on the promoted replica")
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status)

	a.clock.Advance(time.Millisecond)
	waitProven(t, b)
	a.clock.Advance(time.Millisecond)
	primed(t, b, otherOnB) // hits again, through the new master
	checkCrossInstance(t, a, b, "pat")
}
