package ginsession

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

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

// TestPlainReadStillChecksTheDeadline: a session whose absolute deadline
// passes within a second of a refresh is found expired by the plain read,
// deleted and refused.
func TestPlainReadStillChecksTheDeadline(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = time.Minute; c.AbsoluteTimeout = time.Minute })
	c := h.login(chromeWin, "deadline")
	key := h.keyOf(c.cookie)
	h.clock.Advance(59*time.Second + 500*time.Millisecond)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status) // refreshes

	h.clock.Advance(600 * time.Millisecond) // past the deadline, 0.6 s after the refresh
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session expired"}`, r.body)
	assert.Equal(t, "hgetall", h.count.Names()[0], "the plain read found it expired")
	assert.False(t, h.exists(key), "and it was deleted")
	require.Len(t, h.eventsOf(EventExpired), 1)
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
