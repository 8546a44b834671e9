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

// TestFaultLocalCacheClusterFailover kills -9 the Cluster master that
// holds the invalidation channel's slot while two Stores with a 1 s local
// cache hold sessions: B's subscription breaks, and B must serve no hit
// (every guarded read goes to Redis) until its heartbeat comes back
// through the promoted replica; a RevokeUser on A, retried until the
// Cluster takes it, must be refused by B within LocalCache; B hits again
// afterwards, and refuses within LocalCache a session it had cached and A
// revoked.
func TestFaultLocalCacheClusterFailover(t *testing.T) {
	const life = time.Second
	cl := redistest.StartReplicatedCluster(t)
	quietLogs(t)
	countA, countB := &redistest.Counter{}, &redistest.Counter{}
	rdbA, rdbB := cl.Client(t, recommendedClusterOptions()), cl.Client(t, recommendedClusterOptions())
	rdbA.AddHook(countA)
	rdbB.AddHook(countB)
	a, b := cachePair(t, rdbA, rdbB, countA, countB, cl.Client(t, &redis.ClusterOptions{}), func(c *Config) {
		c.LocalCache, c.Now, c.Logger = life, time.Now, discardLogger
	})
	checkCrossInstance(t, a, b, "mo")

	ctx := context.Background()
	onB, otherOnB := primed(t, b, a.login(chromeWin, "ned")), primed(t, b, a.login(chromeWin2, "ola"))
	master := cl.MasterOf(t, a.prefix+"inval")
	redistest.WaitReplicated(t, master.Addr)
	killed := time.Now()
	master.Stop()
	require.Eventually(t, func() bool { return b.store.CacheStats().Entries == 0 }, 10*time.Second, 5*time.Millisecond, "the cache is emptied")

	// Read other's session on B until it hits again, and revoke ned's on A
	// as soon as the Cluster takes it; a read counts as unproven when B had
	// no heartbeat back both before and after it.
	var (
		unproven, unprovenHits, unprovenMisses, failedRevokes int
		provenAt, hitAt, revokedAt, lag                       time.Duration = -1, -1, -1, -1
	)
	for time.Since(killed) < 40*time.Second && (hitAt < 0 || lag < 0) {
		before := b.store.CacheStats()
		status := otherOnB.do("GET", "/api/profile").status
		after := b.store.CacheStats()
		if before.ProvenLag < 0 && after.ProvenLag < 0 {
			unproven++
			unprovenHits += int(after.Hits - before.Hits)
			unprovenMisses += int(after.Misses - before.Misses)
		}
		if provenAt < 0 && after.ProvenLag >= 0 {
			provenAt = time.Since(killed)
		}
		if hitAt < 0 && status == http.StatusOK && after.Hits > before.Hits {
			hitAt = time.Since(killed)
		}
		if revokedAt < 0 {
			if _, err := a.store.RevokeUser(ctx, "ned"); err != nil {
				failedRevokes++
			} else {
				revokedAt = time.Since(killed)
				for onB.do("GET", "/api/profile").status == http.StatusOK && time.Since(killed)-revokedAt < 5*life {
					time.Sleep(5 * time.Millisecond)
				}
				lag = time.Since(killed) - revokedAt
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once B hits again, an end reaches it through the promoted replica.
	var lagAfter time.Duration = -1
	if hitAt >= 0 {
		onPat := primed(t, b, a.login(chromeWin, "pat"))
		_, err := a.store.RevokeUser(ctx, "pat")
		require.NoError(t, err)
		done := time.Now()
		for onPat.do("GET", "/api/profile").status == http.StatusOK && time.Since(done) < 5*life {
			time.Sleep(time.Millisecond)
		}
		lagAfter = time.Since(done)
		assert.Equal(t, http.StatusUnauthorized, onPat.do("GET", "/api/profile").status)
	}
	t.Logf("FAULT cache-cluster-failover: local-cache=%v unproven-reads=%d unproven-hits=%d failed-revokes=%d revoked-after=%v revocation-lag=%v proven-again-after=%v hits-resumed-after=%v revocation-lag-after=%v",
		life, unproven, unprovenHits, failedRevokes, revokedAt.Round(time.Millisecond), lag.Round(time.Microsecond),
		provenAt.Round(time.Millisecond), hitAt.Round(time.Millisecond), lagAfter.Round(time.Microsecond))

	assert.Positive(t, unproven, "B read while its heartbeat was not back")
	assert.Zero(t, unprovenHits, "no hit while B's heartbeat is not back")
	assert.Equal(t, unproven, unprovenMisses, "every read while unproven went to Redis")
	require.GreaterOrEqual(t, revokedAt, time.Duration(0), "the revocation never succeeded")
	assert.LessOrEqual(t, lag, life, "B refuses the revoked session within LocalCache")
	require.GreaterOrEqual(t, hitAt, time.Duration(0), "B never hit again")
	assert.GreaterOrEqual(t, hitAt, provenAt, "the first hit came after the heartbeat was back")
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status)
	assert.LessOrEqual(t, lagAfter, life, "after the failover, B refuses a revoked session it had cached within LocalCache")
}
