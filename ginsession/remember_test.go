package ginsession

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRememberedSession checks a "keep me signed in" login against a
// short one: the cookie's Max-Age, the Redis TTL, the stored flag, the
// sessions list, and that each is held to its own idle and absolute
// timeouts.
func TestRememberedSession(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	short := h.client(chromeWin)
	rs := short.do("POST", "/login?user=rex")
	long := h.client(firefoxLinx)
	rl := long.do("POST", "/login?user=rex&remember=1")
	require.Equal(t, http.StatusOK, rs.status)
	require.Equal(t, http.StatusOK, rl.status)

	assert.Equal(t, 86400, rs.cookie(t).MaxAge, "a short session keeps the configured cookie")
	assert.Equal(t, 30*86400, rl.cookie(t).MaxAge, "a remembered one lives 30 days")
	ttl := func(c *client) time.Duration { return h.raw.PTTL(ctx, h.keyOf(c.cookie)).Val() }
	assert.InDelta(t, (30 * time.Minute).Seconds(), ttl(short).Seconds(), 5)
	assert.InDelta(t, (7 * 24 * time.Hour).Seconds(), ttl(long).Seconds(), 5)
	assert.Equal(t, "1", h.raw.HGet(ctx, h.keyOf(long.cookie), metaRemember).Val())
	assert.False(t, h.raw.HExists(ctx, h.keyOf(short.cookie), metaRemember).Val())
	list, err := h.store.UserSessions(ctx, "rex", "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	remembered := map[bool]int{}
	for _, s := range list {
		remembered[s.Remembered]++
	}
	assert.Equal(t, map[bool]int{true: 1, false: 1}, remembered)

	h.clock.Advance(31 * time.Minute) // past the short idle timeout
	assert.Equal(t, http.StatusUnauthorized, h.status(short))
	assert.Equal(t, http.StatusOK, h.status(long))
	for range 4 { // used every 6 days: within the idle timeout, up to the absolute one
		h.clock.Advance(6 * 24 * time.Hour)
		r := long.do("GET", "/api/profile")
		require.Equal(t, http.StatusOK, r.status, "day %v", h.clock.Now())
	}
	h.clock.Advance(6 * 24 * time.Hour) // 30 days and 31 minutes after the login
	r := long.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session expired"}`, r.body)

	idle := h.client(firefoxLinx)
	require.Equal(t, http.StatusOK, idle.do("POST", "/login?user=rex&remember=1").status)
	h.clock.Advance(7*24*time.Hour + time.Second) // past the remembered idle timeout
	assert.Equal(t, http.StatusUnauthorized, h.status(idle))
}

// TestRememberedSessionOnABrowserSessionCookieStore checks that with
// BrowserSessionCookie a short session's cookie has no Max-Age and a
// remembered one still has its own, and that a remembered session older
// than the short absolute timeout is still read in one plain round trip.
func TestRememberedSessionOnABrowserSessionCookieStore(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BrowserSessionCookie = true })
	short := h.client(chromeWin)
	rs := short.do("POST", "/login?user=ria")
	long := h.client(chromeWin)
	rl := long.do("POST", "/login?user=ria&remember=1")
	assert.NotContains(t, rs.setCookies[0], "Max-Age")
	assert.Contains(t, rl.setCookies[0], "Max-Age=2592000")

	h.clock.Advance(2 * 24 * time.Hour)
	h.count.Reset()
	require.Equal(t, http.StatusOK, h.status(long))
	h.clock.Advance(100 * time.Millisecond)
	h.count.Reset()
	require.Equal(t, http.StatusOK, h.status(long))
	assert.Equal(t, []string{"hgetall"}, h.count.Names(), "the plain read holds for a remembered session past the short absolute timeout")
}

// TestRememberTimeoutsAreChecked checks NewStore's refusals and defaults
// for the remembered timeouts.
func TestRememberTimeoutsAreChecked(t *testing.T) {
	rdb := newHarness(t, nil).rdb
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"idle below IdleTimeout", Config{RememberIdleTimeout: time.Minute}, "RememberIdleTimeout"},
		{"absolute below AbsoluteTimeout", Config{RememberAbsoluteTimeout: time.Hour}, "RememberAbsoluteTimeout"},
		{"idle above absolute", Config{RememberIdleTimeout: 40 * 24 * time.Hour}, "must not exceed RememberAbsoluteTimeout"},
	} {
		tc.cfg.Secrets = [][]byte{[]byte(testSecret)}
		_, err := NewStore(rdb, tc.cfg)
		assert.ErrorIs(t, err, ErrConfig, tc.name)
		assert.ErrorContains(t, err, tc.msg, tc.name)
	}
	s, err := NewStore(rdb, Config{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	assert.Equal(t, DefaultRememberIdleTimeout, s.cfg.RememberIdleTimeout)
	assert.Equal(t, DefaultRememberAbsoluteTimeout, s.cfg.RememberAbsoluteTimeout)
}

// TestLogoutThenSaveIsNotRemembered checks that a session saved after a
// Logout of a remembered one, in the same request, is an ordinary
// anonymous session: not remembered, the short TTL, the store's cookie.
func TestLogoutThenSaveIsNotRemembered(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	c := h.client(firefoxLinx)
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=rex&remember=1").status)
	h.handler = func(g *gin.Context) {
		if err := Logout(g); err != nil {
			g.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		s := sessions.Default(g)
		s.Set("flash", "bye")
		saveOr500(g, s)
	}
	r := c.do("POST", "/hook")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, 86400, r.cookie(t).MaxAge)
	key := h.keyOf(c.cookie)
	assert.False(t, h.raw.HExists(ctx, key, metaRemember).Val(), "an anonymous session is not remembered")
	assert.False(t, h.raw.HExists(ctx, key, metaUser).Val())
	assert.InDelta(t, (30 * time.Minute).Seconds(), h.raw.PTTL(ctx, key).Val().Seconds(), 5)
}

// TestRequestCodeShortensARememberedCookie: request code may shorten the
// cookie (session.Options with a MaxAge below the store's is taken,
// docs/cookie-options.md), and that holds for a remembered session too:
// its cookie gets the shorter Max-Age, on Save and on a Login in the same
// handler, instead of the 30 days left to its absolute timeout.
func TestRequestCodeShortensARememberedCookie(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	r := c.do("POST", "/login?user=rita&remember=1")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 30*86400, r.cookie(t).MaxAge)

	h.handler = func(gc *gin.Context) {
		s := sessions.Default(gc)
		s.Options(sessions.Options{MaxAge: 3600})
		s.Set("k", "v")
		saveOr500(gc, s)
	}
	r = c.do("POST", "/hook")
	require.Equal(t, http.StatusOK, r.status)
	if ck := r.cookie(t); assert.NotNil(t, ck, "the changed options send the cookie") {
		assert.Equal(t, 3600, ck.MaxAge, "Save")
	}

	h.handler = func(gc *gin.Context) {
		sessions.Default(gc).Options(sessions.Options{MaxAge: 3600})
		if err := Login(gc, "rita", Remember()); err != nil {
			gc.Status(http.StatusServiceUnavailable)
			return
		}
		gc.Status(http.StatusNoContent)
	}
	r = c.do("POST", "/hook")
	require.Equal(t, http.StatusNoContent, r.status)
	if ck := r.cookie(t); assert.NotNil(t, ck) {
		assert.Equal(t, 3600, ck.MaxAge, "Login")
	}
}
