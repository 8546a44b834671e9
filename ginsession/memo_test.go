package ginsession

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lastSeen returns the session's _a field in Redis.
func (h *harness) lastSeen(key string) int64 {
	h.t.Helper()
	v, err := h.raw.HGet(context.Background(), key, metaLastSeen).Result()
	require.NoError(h.t, err)
	n, err := strconv.ParseInt(v, 10, 64)
	require.NoError(h.t, err)
	return n
}

// TestReadsBetweenRefreshesSkipTheScript: a read whose session had its
// activity written less than refreshEvery ago is a plain HGETALL; the next
// read after that runs the script and slides the expiry.
func TestReadsBetweenRefreshesSkipTheScript(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "memo")
	key := h.keyOf(c.cookie)

	h.clock.Advance(5 * time.Second)
	h.count.Reset()
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, []string{"evalsha"}, h.count.Names(), "the first read refreshes")
	seen := h.lastSeen(key)
	assert.Equal(t, (5 * time.Second).Milliseconds(), seen)

	for range 3 {
		h.clock.Advance(300 * time.Millisecond)
		h.count.Reset()
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
		assert.Equal(t, []string{"hgetall"}, h.count.Names(), "refreshed less than a second ago: nothing to write")
		assert.Equal(t, int64(1), h.count.RoundTrips())
		assert.Equal(t, seen, h.lastSeen(key))
	}

	h.clock.Advance(100 * time.Millisecond) // 1 s after the refresh
	h.count.Reset()
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, []string{"evalsha"}, h.count.Names())
	assert.Equal(t, seen+1000, h.lastSeen(key), "the activity slid")
	pttl, err := h.raw.PTTL(context.Background(), key).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, 29*time.Minute, "the TTL slid with it")
}

// refreshedSession logs in, lets 5 s pass and reads once, so the script
// slides the expiry and the memo knows the session: the next read within a
// second is a plain HGETALL.
func (h *harness) refreshedSession(user string) (*client, string) {
	h.t.Helper()
	c := h.login(chromeWin, user)
	h.clock.Advance(5 * time.Second)
	require.Equal(h.t, http.StatusOK, c.do("GET", "/api/profile").status)
	return c, h.keyOf(c.cookie)
}

// TestPlainReadStillChecksTheDeadline: a session past its absolute
// deadline is found expired by the plain read, deleted by the script and
// refused. (The deadline is moved in Redis, keeping _c+_a, so the key's
// own TTL stays long and the test does not race it.)
func TestPlainReadStillChecksTheDeadline(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c, key := h.refreshedSession("deadline")
	ctx := context.Background()
	created, err := h.raw.HGet(ctx, key, metaCreated).Int64()
	require.NoError(t, err)
	seen := h.lastSeen(key)
	abs := time.Hour.Milliseconds()
	require.NoError(t, h.raw.HSet(ctx, key, metaCreated, created-abs, metaLastSeen, seen+abs).Err())

	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session expired"}`, r.body)
	assert.Equal(t, []string{"hgetall", "evalsha"}, h.count.Names(), "the plain read found it expired; the script deleted it")
	assert.False(t, h.exists(key))
	require.Len(t, h.eventsOf(EventExpired), 1)
	assert.Equal(t, "absolute", h.eventsOf(EventExpired)[0].Reason)
}

// TestPlainReadDefersToTheScript: whatever the plain read finds that the
// script would act on (an old last activity, missing or malformed times)
// goes to the script, which decides as it always did.
func TestPlainReadDefersToTheScript(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(h *harness, key string)
		status int
	}{
		{"idle timeout passed", func(h *harness, key string) {
			require.NoError(t, h.raw.HSet(context.Background(), key, metaLastSeen, h.lastSeen(key)-time.Hour.Milliseconds()).Err())
		}, http.StatusUnauthorized},
		{"no last activity", func(h *harness, key string) {
			require.NoError(t, h.raw.HDel(context.Background(), key, metaLastSeen).Err())
		}, http.StatusUnauthorized},
		{"malformed last activity", func(h *harness, key string) {
			require.NoError(t, h.raw.HSet(context.Background(), key, metaLastSeen, "soon").Err())
		}, http.StatusUnauthorized},
		{"a slide due (written earlier elsewhere)", func(h *harness, key string) {
			require.NoError(t, h.raw.HSet(context.Background(), key, metaLastSeen, h.lastSeen(key)-2000).Err())
		}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = 2 * time.Hour })
			c, key := h.refreshedSession("defer")
			tc.edit(h, key)
			h.count.Reset()
			r := c.do("GET", "/api/profile")
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Equal(t, []string{"hgetall", "evalsha"}, h.count.Names())
			if tc.status == http.StatusOK {
				assert.Equal(t, (5 * time.Second).Milliseconds(), h.lastSeen(key), "the script slid it")
			} else {
				assert.False(t, h.exists(key), "the script deleted it")
			}
		})
	}
}

// TestMemoRecordsWhatTheScriptDid: a script read that did not slide (the
// last write is recent) records that write's time, not now, so the slide
// comes refreshEvery after the write, not after the read.
func TestMemoRecordsWhatTheScriptDid(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "record")
	key := h.keyOf(c.cookie)
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{300 * time.Millisecond, "evalsha"}, // memo miss; 0.3 s after the login's write: no slide
		{300 * time.Millisecond, "hgetall"}, // 0.6 s after the write
		{500 * time.Millisecond, "evalsha"}, // 1.1 s after the write: the slide is due
	}
	for i, st := range steps {
		h.clock.Advance(st.advance)
		h.count.Reset()
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
		assert.Equal(t, []string{st.want}, h.count.Names(), "step %d", i)
	}
	assert.Equal(t, int64(1100), h.lastSeen(key))
}

// TestPlainReadFailsClosed: a Redis error on the plain read is a 503, never
// "not logged in" and never a pass.
func TestPlainReadFailsClosed(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.refreshedSession("closed")
	hook := &failHGetAll{}
	h.rdb.AddHook(hook)
	hook.on.Store(true)
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.JSONEq(t, `{"error":"session store unavailable"}`, r.body)
	assert.Empty(t, r.setCookies)
	hook.on.Store(false)
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
}

// failHGetAll fails every HGETALL while on.
type failHGetAll struct{ on atomic.Bool }

func (f *failHGetAll) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failHGetAll) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.on.Load() && cmd.Name() == "hgetall" {
			err := errors.New("injected: connection reset")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f *failHGetAll) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestReplicaReadsNeverTakeThePlainPath: with a ClusterClient that may send
// HGETALL to a lagging replica, every read runs the script on the primary.
func TestReplicaReadsNeverTakeThePlainPath(t *testing.T) {
	for _, o := range []*redis.ClusterOptions{
		{Addrs: []string{"127.0.0.1:1"}, ReadOnly: true},
		{Addrs: []string{"127.0.0.1:1"}, RouteByLatency: true},
		{Addrs: []string{"127.0.0.1:1"}, RouteRandomly: true},
	} {
		cc := redis.NewClusterClient(o)
		s, err := NewStore(cc, Config{Secrets: [][]byte{[]byte(testSecret)}})
		require.NoError(t, err)
		assert.True(t, s.memoOff)
		_ = cc.Close()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	s, err := NewStore(cc, Config{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	assert.False(t, s.memoOff, "primary-only Cluster reads may use it")
}

// TestPlainReadSeesADestroyFromElsewhere: a session deleted by another
// process (a logout on another instance) is gone for the plain read too.
func TestPlainReadSeesADestroyFromElsewhere(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "elsewhere")
	key := h.keyOf(c.cookie)
	h.clock.Advance(2 * time.Second)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status) // refreshes: the memo knows it
	require.NoError(t, h.raw.Del(context.Background(), key).Err())
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
	assert.Equal(t, []string{"hgetall"}, h.count.Names())
	assert.False(t, h.exists(key), "nothing recreated it")
}

func TestRefreshMemo(t *testing.T) {
	var m refreshMemo
	m.base = 1_000_000
	const a, every = "AAAAAAAAbbbb", int64(1000)
	assert.False(t, m.fresh(a, 2_000_000, every), "empty")
	m.record(a, 2_000_000)
	assert.True(t, m.fresh(a, 2_000_000, every))
	assert.True(t, m.fresh(a, 2_000_999, every))
	assert.False(t, m.fresh(a, 2_001_000, every), "a full refreshEvery later")
	assert.False(t, m.fresh(a, 1_999_999, every), "a clock that went back knows nothing")
	assert.False(t, m.fresh(a, 2_000_000, 0), "refreshEvery 0: always refresh")

	// Another session in the same slot evicts the first and is not
	// mistaken for it.
	slot, tag := memoSlotTag(a)
	var b string
	for i := 0; b == ""; i++ {
		cand := strconv.Itoa(10_000_000 + i)
		if s, tg := memoSlotTag(cand); s == slot && tg != tag {
			b = cand
		}
	}
	assert.False(t, m.fresh(b, 2_000_000, every), "same slot, other tag")
	m.record(b, 2_000_000)
	assert.True(t, m.fresh(b, 2_000_000, every))
	assert.False(t, m.fresh(a, 2_000_000, every), "evicted")

	m.record(a, m.base-1) // before the memo's range: ignored
	assert.True(t, m.fresh(b, 2_000_000, every))
}
