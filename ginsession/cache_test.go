package ginsession

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// cachePair returns two Stores with the local cache on, on the same Redis
// and prefix and with one clock: two instances of one application.
func cachePair(t *testing.T, rdbA, rdbB redis.UniversalClient, countA, countB *redistest.Counter, raw redis.UniversalClient, mutate func(*Config)) (*harness, *harness) {
	t.Helper()
	a := newHarnessOn(t, rdbA, countA, raw, func(c *Config) {
		c.LocalCache = time.Minute // heartbeats every 15 s: none but the first during a test
		c.CookieName = cookieName
		if mutate != nil {
			mutate(c)
		}
	})
	t.Cleanup(func() { _ = a.store.Close() })
	b := newHarnessOn(t, rdbB, countB, raw, func(c *Config) {
		c.LocalCache = time.Minute
		c.CookieName = cookieName
		c.KeyPrefix = a.prefix
		c.Now = a.clock.Now
		if mutate != nil {
			mutate(c)
		}
	})
	t.Cleanup(func() { _ = b.store.Close() })
	b.prefix, b.clock = a.prefix, a.clock
	waitProven(t, a)
	waitProven(t, b)
	a.clock.Advance(time.Millisecond) // reads from now on began after the subscriptions' flush
	return a, b
}

// waitProven waits until h's Store has received its own heartbeat back.
func waitProven(t *testing.T, h *harness) {
	t.Helper()
	require.Eventually(t, func() bool { return h.store.CacheStats().ProvenLag >= 0 }, 10*time.Second, 5*time.Millisecond)
}

// primed returns a copy of c whose session h has cached: one guarded read
// loads and caches it, the next is a hit.
func primed(t *testing.T, h *harness, c *client) *client {
	t.Helper()
	cl := h.client(c.ua)
	cl.cookie = c.cookie
	require.Equal(t, http.StatusOK, cl.do("GET", "/api/profile").status)
	hits := h.store.CacheStats().Hits
	require.Equal(t, http.StatusOK, cl.do("GET", "/api/profile").status)
	require.Equal(t, hits+1, h.store.CacheStats().Hits, "the second guarded read is a hit")
	return cl
}

func newCachePair(t *testing.T, mutate func(*Config)) (*harness, *harness) {
	rdbA, countA := redistest.CountingClient(t)
	rdbB, countB := redistest.CountingClient(t)
	return cachePair(t, rdbA, rdbB, countA, countB, redistest.Client(t), mutate)
}

// cachePairOn is newCachePair on the server srv, for tests that stop,
// restart or configure it; it also returns a client of srv's own.
func cachePairOn(t *testing.T, srv *redistest.Server) (a, b *harness, raw *redis.Client) {
	t.Helper()
	opts := &redis.Options{Addr: srv.Addr}
	rdbA, rdbB, raw := redis.NewClient(opts), redis.NewClient(opts), redis.NewClient(opts)
	countA, countB := &redistest.Counter{}, &redistest.Counter{}
	rdbA.AddHook(countA)
	rdbB.AddHook(countB)
	t.Cleanup(func() { _, _, _ = rdbA.Close(), rdbB.Close(), raw.Close() })
	a, b = cachePair(t, rdbA, rdbB, countA, countB, raw, nil)
	return a, b, raw
}

// TestLocalCacheHitCostsNoRedisCommand checks that a cached guarded read
// answers with the user at zero Redis commands, and that a handler reading
// the session after it still loads it from Redis.
func TestLocalCacheHitCostsNoRedisCommand(t *testing.T) {
	a, _ := newCachePair(t, nil)
	cl := primed(t, a, a.login(chromeWin, "ann"))
	a.count.Reset()
	r := cl.do("GET", "/api/profile")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "ann", jsonField(t, r.body, "userId"))
	assert.Zero(t, a.count.Commands(), "a hit sends no command: %v", a.count.Names())

	r = cl.do("GET", "/api/fresh") // RequireFreshAuth loads the session
	assert.Equal(t, http.StatusOK, r.status)
	assert.NotZero(t, a.count.Commands())
}

// TestLocalCacheEndOnThisInstance checks that every way a session ends on
// an instance makes that instance refuse it on the very next request, with
// the clock frozen (so no entry could have aged out).
func TestLocalCacheEndOnThisInstance(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		end  func(h *harness, c *client)
	}{
		{"logout", func(h *harness, c *client) {
			cl := h.client(c.ua)
			cl.cookie = c.cookie
			require.Equal(t, http.StatusOK, cl.do("POST", "/logout").status)
		}},
		{"RevokeSession", func(h *harness, c *client) {
			require.NoError(t, h.store.RevokeSession(ctx, "bo", h.refOf(c.cookie)))
		}},
		{"RevokeUser", func(h *harness, c *client) {
			_, err := h.store.RevokeUser(ctx, "bo")
			require.NoError(t, err)
		}},
		{"RevokeOthers", func(h *harness, c *client) {
			keep := h.login(firefoxLinx, "bo")
			_, err := h.store.RevokeOthers(ctx, "bo", h.refOf(keep.cookie))
			require.NoError(t, err)
		}},
		{"fingerprint mismatch", func(h *harness, c *client) {
			thief := h.client(firefoxLinx)
			thief.cookie = c.cookie
			require.Equal(t, http.StatusUnauthorized, thief.do("GET", "/api/profile").status)
		}},
		{"session cap", func(h *harness, c *client) {
			h.login(firefoxLinx, "bo")
		}},
		{"login again", func(h *harness, c *client) {
			cl := h.client(c.ua)
			cl.cookie = c.cookie
			require.Equal(t, http.StatusOK, cl.do("POST", "/login?user=bo").status)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newCachePair(t, func(c *Config) { c.MaxSessionsPerUser = 1 })
			c := primed(t, a, a.login(chromeWin, "bo"))
			old := c.cookie
			loseEnds(t) // only the local invalidation can refuse the session
			tc.end(a, c)
			cl := a.client(chromeWin)
			cl.cookie = old
			assert.Equal(t, http.StatusUnauthorized, cl.do("GET", "/api/profile").status)
			assert.Zero(t, a.store.CacheStats().Invalidations, "no end came through the channel")
		})
	}
}

// TestLocalCacheRefusesAReadBegunBeforeAnEnd checks the race of a read
// that began before an end and finishes after its invalidation: its entry
// is not cached, even when the wall clock stepped back in between. Neither
// is one begun before a flush. And no entry or heartbeat answers from the
// future (a clock that went back).
func TestLocalCacheRefusesAReadBegunBeforeAnEnd(t *testing.T) {
	a, _ := newCachePair(t, nil)
	lc := a.store.cache
	now := a.store.now()
	read := func() *state { return &state{user: "cy", created: now, fp: []byte("x"), readSeq: lc.seq.Load()} }
	before := read()
	lc.invalidate([]string{"name1"}, now-2000) // the clock stepped back 2 s before the end
	a.store.cacheInsert("name1", before, now)
	_, ok := lc.lookup("name1", now+2)
	assert.False(t, ok, "a read begun before the end")
	a.store.cacheInsert("name1", read(), now+2)
	_, ok = lc.lookup("name1", now+3)
	assert.True(t, ok, "a read begun after the end")
	_, ok = lc.lookup("name1", now+1)
	assert.False(t, ok, "not before its own read: the clock went back")
	_, ok = lc.lookup("name", now+3)
	assert.False(t, ok, "an entry answers for its whole name only")

	before = read()
	lc.flush(now + 5)
	a.store.cacheInsert("name3", before, now+4)
	_, ok = lc.lookup("name3", now+6)
	assert.False(t, ok, "a read begun before a flush")

	a.store.cacheInsert("name4", read(), now+6)
	_, ok = lc.lookup("name4", now+7)
	require.True(t, ok)
	lc.proven.Store(now + 100)
	_, ok = lc.lookup("name4", now+7)
	assert.False(t, ok, "a heartbeat from the future proves nothing: the clock went back")
}

// TestLocalCacheOtherInstance checks that a session revoked on A is refused
// by B, which had it cached, through the channel; that values are never
// cached; and that B stops answering from the cache once its proof is
// LocalCache old, whatever it holds.
func TestLocalCacheOtherInstance(t *testing.T) {
	a, b := newCachePair(t, nil)
	ctx := context.Background()
	c := a.login(chromeWin, "di")
	onB := primed(t, b, c)

	onA := a.client(chromeWin)
	onA.cookie = c.cookie
	require.Equal(t, http.StatusOK, onA.do("POST", "/set?k=color&v=red").status)
	assert.Contains(t, onB.do("GET", "/get?k=color").body, "red", "B reads the value A wrote at once")

	b.clock.Advance(b.store.cfg.LocalCache) // no heartbeat since: the proof is LocalCache old
	hits := b.store.CacheStats().Hits
	b.count.Reset()
	assert.Equal(t, http.StatusOK, onB.do("GET", "/api/profile").status)
	assert.Equal(t, hits, b.store.CacheStats().Hits, "no hit without a proof younger than LocalCache")
	assert.NotZero(t, b.count.Commands())

	// A fresh proof, a cached entry, then a revocation on A. The clock
	// moves before the kick: the heartbeat reads it when it runs, which may
	// be before the next statement here, and one sent at the old time would
	// leave ProvenLag at 1 ms until the next tick, 15 s away.
	a.clock.Advance(time.Millisecond)
	b.store.cache.kick <- struct{}{}
	require.Eventually(t, func() bool { return b.store.CacheStats().ProvenLag == 0 }, 10*time.Second, 5*time.Millisecond)
	onB = primed(t, b, c)
	_, err := a.store.RevokeUser(ctx, "di")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.store.CacheStats().Invalidations > 0 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status, "B refuses it once told, the clock unmoved")
}

// TestLocalCacheLostSubscription checks, on a server of its own, that when
// B's invalidation connection is killed (CLIENT KILL TYPE pubsub) or Redis
// restarts, B empties its cache and refuses a session revoked meanwhile,
// then serves hits again once its heartbeat is back.
func TestLocalCacheLostSubscription(t *testing.T) {
	srv := redistest.StartServer(t)
	a, b, raw := cachePairOn(t, srv)
	checkCrossInstance(t, a, b, "ed")
	checkLostSubscription(t, a, b, "fay", func() {
		require.NoError(t, raw.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err())
	})

	c := a.login(chromeWin, "gil")
	onB := primed(t, b, c)
	srv.Restart(t) // no persistence: every session is gone
	require.Eventually(t, func() bool { return b.store.CacheStats().Entries == 0 }, 10*time.Second, 5*time.Millisecond, "the cache is emptied")
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status)
	require.NoError(t, raw.ScriptLoad(context.Background(), loadScript.src).Err())
	a.clock.Advance(time.Millisecond)
	waitProven(t, b)
	a.clock.Advance(time.Millisecond)
	primed(t, b, a.login(chromeWin, "gil")) // hits again
}

// TestLocalCacheOnRedisCluster checks the cross-instance invalidation and a
// killed subscription on a Cluster: the ends and heartbeats go to the
// channel's slot node, and a subscriber on any node receives them.
func TestLocalCacheOnRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	count := &redistest.Counter{}
	cluster.AddHook(count)
	a, b := cachePair(t, cluster, cluster, count, count, cluster, nil)
	checkCrossInstance(t, a, b, "hal")
	checkLostSubscription(t, a, b, "ida", func() {
		require.NoError(t, cluster.ForEachShard(context.Background(), func(ctx context.Context, node *redis.Client) error {
			return node.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err()
		}))
	})
}

// TestLocalCachePublishesOnOneNode checks that on a Cluster every end and
// heartbeat is published on the channel's slot node, where the subscription
// is: go-redis sends a plain PUBLISH to any master, and a heartbeat proves
// the ends published before it only when both travel the same way.
func TestLocalCachePublishesOnOneNode(t *testing.T) {
	cluster := redistest.StartCluster(t)
	a, b := cachePair(t, cluster, cluster, &redistest.Counter{}, &redistest.Counter{}, cluster, nil)
	ctx := context.Background()
	for _, user := range []string{"lia", "max", "ned", "oda", "pam", "quy"} {
		c := a.login(chromeWin, user)
		require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
		_, err := a.store.RevokeUser(ctx, user)
		require.NoError(t, err)
	}
	waitProven(t, b)
	var withPublishes []string
	require.NoError(t, cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		info, err := node.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		if strings.Contains(info, "cmdstat_publish:") {
			withPublishes = append(withPublishes, node.Options().Addr)
		}
		return nil
	}))
	assert.Len(t, withPublishes, 1, "masters that received a PUBLISH: %v", withPublishes)
}

// TestLocalCacheThroughSentinel checks the cross-instance invalidation
// through a Sentinel client.
func TestLocalCacheThroughSentinel(t *testing.T) {
	master := redistest.StartServer(t)
	rdb := redistest.StartSentinel(t, master.Addr)
	count := &redistest.Counter{}
	rdb.AddHook(count)
	raw := redis.NewClient(&redis.Options{Addr: master.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	a, b := cachePair(t, rdb, rdb, count, count, raw, nil)
	checkCrossInstance(t, a, b, "jo")
	checkLostSubscription(t, a, b, "kai", func() {
		require.NoError(t, raw.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err())
	})
}

// checkCrossInstance checks that a session of user that B has cached is
// refused by B once A revoked it, the clock unmoved: B was told.
func checkCrossInstance(t *testing.T, a, b *harness, user string) {
	t.Helper()
	onB := primed(t, b, a.login(chromeWin, user))
	before := b.store.CacheStats().Invalidations
	_, err := a.store.RevokeUser(context.Background(), user)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.store.CacheStats().Invalidations > before }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status)
}

// checkLostSubscription checks that after kill drops B's subscription, B
// empties its cache, refuses a session of user revoked meanwhile, and hits
// again once its heartbeat is back.
func checkLostSubscription(t *testing.T, a, b *harness, user string, kill func()) {
	t.Helper()
	a.clock.Advance(time.Millisecond)
	c, other := a.login(chromeWin, user), a.login(chromeWin2, user+"-other")
	onB, otherOnB := primed(t, b, c), primed(t, b, other)
	kill()
	require.Eventually(t, func() bool { return b.store.CacheStats().Entries == 0 }, 10*time.Second, 5*time.Millisecond, "the cache is emptied")
	_, err := a.store.RevokeUser(context.Background(), user)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status)
	a.clock.Advance(time.Millisecond)
	waitProven(t, b)
	a.clock.Advance(time.Millisecond)
	primed(t, b, otherOnB) // hits again
}

// TestLocalCacheIdleTimeoutSlides checks that a session read only through
// the cache still has its activity written: a hit is served only within
// the refresh window, the next read writes it, and the session outlives
// its idle timeout while requests keep coming.
func TestLocalCacheIdleTimeoutSlides(t *testing.T) {
	a, _ := newCachePair(t, func(c *Config) { c.IdleTimeout = 6 * time.Second }) // refreshed every 100 ms
	c := primed(t, a, a.login(chromeWin, "gus"))
	key := a.keyOf(c.cookie)
	for range 4 {
		a.clock.Advance(4 * time.Second)
		a.count.Reset()
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
		assert.NotZero(t, a.count.Commands(), "past the refresh window: read from Redis")
	}
	seen, err := a.raw.HGet(context.Background(), key, metaLastSeen).Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(16_000), seen, "the last read wrote the activity")
	a.clock.Advance(7 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/profile").status, "idle past the timeout")
}

// TestLocalCacheRefusedSlideIsNotCached checks, on a server of its own,
// that when Redis is out of memory and refuses a read's activity write, the
// read still answers but its check is not cached: an entry never stands in
// for an activity write that did not happen, so the idle timeout Redis
// holds is the one the cache honours.
func TestLocalCacheRefusedSlideIsNotCached(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory-policy", "noeviction")
	a, _, raw := cachePairOn(t, srv)
	c := primed(t, a, a.login(chromeWin, "oona"))
	key := a.keyOf(c.cookie)
	seen := a.lastSeen(key)

	ctx := context.Background()
	require.NoError(t, raw.ConfigSet(ctx, "maxmemory", "1").Err()) // every write that may grow memory is refused
	t.Cleanup(func() { _ = raw.ConfigSet(ctx, "maxmemory", "0").Err() })
	require.Error(t, raw.Set(ctx, a.prefix+"probe", "x", 0).Err(), "Redis refuses writes")

	a.clock.Advance(2 * time.Second) // the activity write is due
	hits := a.store.CacheStats().Hits
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "the read still succeeds")
	assert.Equal(t, seen, a.lastSeen(key), "the activity write was refused")
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, hits, a.store.CacheStats().Hits, "no hit: the entry would have assumed the refused write")

	require.NoError(t, raw.ConfigSet(ctx, "maxmemory", "0").Err())
	a.clock.Advance(2 * time.Second)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "the write goes through again")
	assert.Equal(t, seen+4000, a.lastSeen(key))
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, hits+1, a.store.CacheStats().Hits, "and is cached again")
}

// TestLocalCacheConfig checks that the cache needs the cookie name and a
// sane duration, and that a Store without it has nothing to close.
func TestLocalCacheConfig(t *testing.T) {
	rdb := redistest.Client(t)
	for _, cfg := range []Config{
		{LocalCache: time.Second},
		{LocalCache: -time.Second, CookieName: "id"},
		{LocalCache: time.Microsecond, CookieName: "id"},
	} {
		cfg.Secrets = [][]byte{[]byte(testSecret)}
		_, err := NewStore(rdb, cfg)
		assert.ErrorIs(t, err, ErrConfig, "%v", cfg.LocalCache)
	}
	s, err := NewStore(rdb, Config{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	assert.NoError(t, s.Close())
	assert.Equal(t, CacheStats{}, s.CacheStats())
}

// TestLocalCacheBounded checks that the cache holds at most MaxCacheEntries
// sessions, and that more recent ends than that empty it rather than grow.
func TestLocalCacheBounded(t *testing.T) {
	a, _ := newCachePair(t, nil)
	lc := a.store.cache
	now := a.store.now()
	st := &state{user: "lu", created: now, readSeq: lc.seq.Load()}
	for i := range MaxCacheEntries + 10 {
		a.store.cacheInsert(fmt.Sprintf("s%06d", i), st, now)
	}
	assert.Equal(t, MaxCacheEntries, a.store.CacheStats().Entries)
	names := make([]string, MaxCacheEntries+1)
	for i := range names {
		names[i] = fmt.Sprintf("e%06d", i)
	}
	lc.invalidate(names, now+1)
	assert.Zero(t, a.store.CacheStats().Entries)
	lc.mu.Lock()
	assert.Empty(t, lc.ended)
	lc.mu.Unlock()
	a.store.cacheInsert("e000001", st, now) // began before the ends it no longer lists
	_, ok := lc.lookup("e000001", now+1)
	assert.False(t, ok)
}

// loseEnds makes every Store drop the ends it receives on the channel until
// the test ends.
func loseEnds(t *testing.T) {
	drop := func(payload string) bool { return !strings.HasPrefix(payload, "e ") }
	receiveHook.Store(&drop)
	t.Cleanup(func() { receiveHook.Store(nil) })
}

// TestLocalCacheEntryLivesAtMostLocalCache checks the bound that holds
// even when an end never reaches an instance: B serves a session revoked on
// A (whose end it lost) only until LocalCache after the read that cached
// it, by the injected clock, with its heartbeat proven throughout.
func TestLocalCacheEntryLivesAtMostLocalCache(t *testing.T) {
	const life = 100 * time.Millisecond // below the refresh window (1 s): the entry's bound is LocalCache
	a, b := newCachePair(t, func(c *Config) { c.LocalCache = life })
	loseEnds(t)
	onB := primed(t, b, a.login(chromeWin, "lou"))
	_, err := a.store.RevokeUser(context.Background(), "lou")
	require.NoError(t, err)

	provenNow := func() {
		require.Eventually(t, func() bool { return b.store.CacheStats().ProvenLag == 0 }, 10*time.Second, time.Millisecond)
	}
	a.clock.Advance(life - time.Millisecond)
	provenNow()
	hits := b.store.CacheStats().Hits
	assert.Equal(t, http.StatusOK, onB.do("GET", "/api/profile").status, "within LocalCache: the lost end is not known yet")
	assert.Equal(t, hits+1, b.store.CacheStats().Hits)

	a.clock.Advance(time.Millisecond)
	provenNow()
	assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status, "LocalCache after the read: refused")
}

// TestLocalCacheEndMessageNeverOvertakesItsDel checks, on a Redis Cluster,
// that the end of a session is announced to the other Stores' caches only
// once its delete has replied. The session's key and the invalidation
// channel are on different masters, and Store A's node clients hold the
// command that deletes the session until Store B has received the end
// message (at most 2 s: the fixed code sends none before the delete), then
// have B serve the session once while it is still in Redis. An end message
// that overtook its delete made B drop its entry, read the session again,
// and cache it after the end: B then served it from its cache once A's end
// had returned and B had been told. B must refuse it, for every way a
// session ends through the channel: Logout, RevokeSession, and a Login
// over the session (its delete of the pre-login session).
func TestLocalCacheEndMessageNeverOvertakesItsDel(t *testing.T) {
	cluster := redistest.StartCluster(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		end  func(a *harness, c *client, user string)
	}{
		{"logout", func(a *harness, c *client, _ string) {
			require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
		}},
		{"RevokeSession", func(a *harness, c *client, user string) {
			require.NoError(t, a.store.RevokeSession(ctx, user, a.refOf(c.cookie)))
		}},
		{"login again", func(a *harness, c *client, user string) {
			require.Equal(t, http.StatusOK, c.do("POST", "/login?user="+user).status)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hold := &endHold{}
			opts := *cluster.Options()
			opts.NewClient = func(o *redis.Options) *redis.Client {
				node := redis.NewClient(o)
				node.AddHook(hold)
				return node
			}
			rdbA := redis.NewClusterClient(&opts)
			t.Cleanup(func() { _ = rdbA.Close() })
			a, b := cachePair(t, rdbA, cluster, &redistest.Counter{}, &redistest.Counter{}, cluster, nil)
			const user = "ora"

			// A session whose key is not on the channel's master: its
			// delete and its end message go to two nodes.
			channelNode := masterAddr(t, rdbA, a.store.cache.channel)
			var c *client
			for range 20 {
				if c = a.login(chromeWin, user); masterAddr(t, rdbA, a.keyOf(c.cookie)) != channelNode {
					break
				}
				c = nil
			}
			require.NotNil(t, c, "no session key off the channel's master in 20 logins")
			old := c.cookie
			onB := primed(t, b, c) // B's cache is proven and answers for the session

			before := b.store.CacheStats().Invalidations
			var toldDuring bool
			var during reply
			hold.arm(a.keyOf(old), func() {
				for stop := time.Now().Add(2 * time.Second); time.Now().Before(stop); time.Sleep(time.Millisecond) {
					if b.store.CacheStats().Invalidations > before {
						toldDuring = true
						break
					}
				}
				during = onB.do("GET", "/api/profile") // the session is still in Redis
			})
			tc.end(a, c, user)
			require.True(t, hold.fired(), "the session's delete went through A's node hook")
			assert.Equal(t, http.StatusOK, during.status, "before its delete the session is live")

			require.Eventually(t, func() bool { return b.store.CacheStats().Invalidations > before }, 10*time.Second, time.Millisecond)
			onB.cookie = old
			assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status,
				"B, told of the end, still serves the session (end message received before the delete: %v)", toldDuring)
		})
	}
}

// masterAddr returns the address of the master of key's slot.
func masterAddr(t *testing.T, rdb *redis.ClusterClient, key string) string {
	t.Helper()
	node, err := rdb.MasterForKey(context.Background(), key)
	require.NoError(t, err)
	return node.Options().Addr
}

// endHold is a hook for the node clients of a ClusterClient: once armed
// with a session key, it runs during, once, before the first command or
// pipeline that ends that key (a DEL, or endScript) is sent.
type endHold struct {
	mu     sync.Mutex
	key    string
	during func()
	done   bool
}

// arm makes h run during before the next command that ends key.
func (h *endHold) arm(key string, during func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.key, h.during = key, during
}

// fired reports whether during has run.
func (h *endHold) fired() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done
}

// hold runs during when cmds end the armed key and it has not run yet.
func (h *endHold) hold(cmds []redis.Cmder) {
	h.mu.Lock()
	var during func()
	if h.during != nil && !h.done {
		for _, c := range cmds {
			if endsKey(c, h.key) {
				during, h.done = h.during, true
				break
			}
		}
	}
	h.mu.Unlock()
	if during != nil {
		during()
	}
}

// endsKey reports whether cmd deletes key: a DEL of it, or endScript on it.
func endsKey(cmd redis.Cmder, key string) bool {
	args := cmd.Args()
	switch cmd.Name() {
	case "del":
		return len(args) == 2 && args[1] == key
	case "evalsha", "eval":
		return len(args) > 3 && (args[1] == endScript.sha || args[1] == endScript.src) && args[3] == key
	}
	return false
}

func (h *endHold) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *endHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.hold([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *endHold) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.hold(cmds)
		return next(ctx, cmds)
	}
}
