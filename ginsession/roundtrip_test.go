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

// TestGuardedReadRoundTrips measures the rule the package documentation
// states for the Redis round trips of a guarded read: none for a missing
// or forged cookie; one for a live session (the script, or a plain HGETALL
// when this Store wrote the session's activity less than refreshEvery
// ago); two when the plain read finds work for the script, or when Redis
// answers NOSCRIPT; and a destroy on a fingerprint mismatch on top. It
// runs on a server of its own, whose script cache it may flush.
func TestGuardedReadRoundTrips(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	count := &redistest.Counter{}
	rdb.AddHook(count)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	h := newHarnessOn(t, rdb, count, raw, nil)
	ctx := context.Background()

	read := func(c *client, want int, names ...string) {
		t.Helper()
		count.Reset()
		assert.Equal(t, want, c.do("GET", "/api/profile").status)
		assert.Equal(t, int64(len(names)), count.RoundTrips(), "%v", count.Names())
		assert.Equal(t, names, count.Names())
	}

	read(h.client(chromeWin), http.StatusUnauthorized) // no cookie: nothing
	forged := h.client(chromeWin)
	forged.cookie = newID() + "." + newID()
	read(forged, http.StatusUnauthorized) // forged: nothing

	c := h.login(chromeWin, "rita")
	h.clock.Advance(2 * time.Second)
	read(c, http.StatusOK, "evalsha") // a slide is due: the script
	h.clock.Advance(100 * time.Millisecond)
	read(c, http.StatusOK, "hgetall") // written 100 ms ago: the plain read

	require.NoError(t, raw.ScriptFlush(ctx).Err())
	h.clock.Advance(2 * time.Second)
	read(c, http.StatusOK, "evalsha", "eval") // NOSCRIPT: the source is sent

	h.clock.Advance(100 * time.Millisecond)
	require.NoError(t, raw.HSet(ctx, h.keyOf(c.cookie), metaLastSeen, -h.store.idleMS).Err())
	read(c, http.StatusUnauthorized, "hgetall", "evalsha") // the plain read found it idle: the script deletes it

	for _, sc := range []*luaScript{createScript, indexScript, unindexScript} {
		require.NoError(t, raw.ScriptLoad(ctx, sc.src).Err())
	}
	d := h.login(chromeWin, "rita")
	h.clock.Advance(2 * time.Second)
	d.ua = firefoxLinx
	read(d, http.StatusUnauthorized, "evalsha", "del", "evalsha") // a mismatch: the load, then the destroy (DEL, then the index)
}

// TestScriptsSurviveAnEmptiedScriptCache empties the script cache of a
// server of its own before each kind of write: Login (a pipeline, sent
// again with the sources), an anonymous session's creation and Save (one
// script each, sent again with its source) all succeed and write.
func TestScriptsSurviveAnEmptiedScriptCache(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	count := &redistest.Counter{}
	rdb.AddHook(count)
	h := newHarnessOn(t, rdb, count, rdb, nil)
	ctx := context.Background()

	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	count.Reset()
	c := h.login(chromeWin, "sam")
	assert.Equal(t, int64(2), count.RoundTrips(), "the pipeline by SHA1, then with the sources: %v", count.Names())
	assert.Contains(t, count.Names(), "eval")
	assert.Equal(t, "sam", h.raw.HGet(ctx, h.keyOf(c.cookie), metaUser).Val())

	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	anon := h.client(chromeWin)
	require.Equal(t, http.StatusOK, anon.do("POST", "/set?k=a&v=1").status)
	assert.Equal(t, "s1", h.raw.HGet(ctx, h.keyOf(anon.cookie), "a").Val())

	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	h.clock.Advance(100 * time.Millisecond)
	count.Reset()
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=b&v=2").status)
	assert.Equal(t, []string{"evalsha", "eval", "evalsha", "eval"}, count.Names(), "the load and the save, each sent again")
	assert.Equal(t, "s2", h.raw.HGet(ctx, h.keyOf(c.cookie), "b").Val())
}
