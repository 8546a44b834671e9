package ginsession

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/fingerprint"
	"github.com/sessionshield/sessionshield/internal/device"
	"github.com/sessionshield/sessionshield/internal/redistest"
)

func (h *harness) login(ua, user string) *client {
	h.t.Helper()
	c := h.client(ua)
	r := c.do("POST", "/login?user="+user)
	require.Equal(h.t, http.StatusOK, r.status, r.body)
	require.NotEmpty(h.t, c.cookie)
	return c
}

func (h *harness) indexMembers(user string) []string {
	h.t.Helper()
	m, err := h.raw.ZRange(context.Background(), h.prefix+"u:"+user, 0, -1).Result()
	require.NoError(h.t, err)
	out := m[:0]
	for _, v := range m {
		if v == markMember {
			continue // the revocation mark, not a session
		}
		require.Len(h.t, v, 32, "members are the raw SHA-256 of the ID")
		out = append(out, memberAtRest(v))
	}
	return out
}

func TestLoginRotatesIDAndKeepsValues(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=3").status)
	c0 := c.cookie
	h.count.Reset()
	r := c.do("POST", "/login?user=alice")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, int64(2), h.count.RoundTrips(), "the load, then Login in one round trip: %v", h.count.Names())
	c1 := c.cookie
	require.NotEqual(t, c0[:idLen], c1[:idLen], "login issues a new ID")
	assert.False(t, h.isSession(h.keyOf(c0)), "the pre-login session is destroyed")
	assert.NotContains(t, r.body, c1[:idLen], "the ID is never in a body")

	assert.Equal(t, "3", jsonField(t, c.do("GET", "/get?k=cart").body, "value"), "values carry over")
	assert.Equal(t, "alice", jsonField(t, c.do("GET", "/api/profile").body, "userId"))

	all, err := h.raw.HGetAll(context.Background(), h.keyOf(c1)).Result()
	require.NoError(t, err)
	assert.Equal(t, "alice", all["_u"])
	assert.Len(t, all["_f"], 11, "an 8-byte MAC of the UA (no Accept-Language was sent), never the raw header")
	assert.NotContains(t, all["_f"], "Chrome")
	assert.Equal(t, "Chrome on Windows", device.Name(all["_d"]))
	assert.Equal(t, []string{atRestName(c1[:idLen])}, h.indexMembers("alice"))

	fixated := h.client(chromeWin)
	fixated.cookie = c0
	r = fixated.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status, "the pre-login cookie is refused after login")
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
}

func TestLoginWithoutCookieIsOneRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	h.count.Reset()
	c := h.login(chromeWin, "bob")
	assert.Equal(t, int64(1), h.count.RoundTrips(), h.count.Names())
	pttl, err := h.raw.PTTL(context.Background(), h.keyOf(c.cookie)).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, 30*time.Minute)
	assert.Greater(t, pttl, 29*time.Minute)
	ittl, err := h.raw.PTTL(context.Background(), h.prefix+"u:bob").Result()
	require.NoError(t, err)
	assert.Greater(t, ittl, 23*time.Hour, "the index lives as long as the newest session can")
}

func TestLoginRejectsBadUserID(t *testing.T) {
	h := newHarness(t, nil)
	for _, u := range []string{"", strings.Repeat("u", 257)} {
		r := h.client(chromeWin).do("POST", "/login?user="+u)
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Empty(t, r.setCookies)
	}
	assert.Empty(t, h.sessionKeys())
}

func TestGuardedReadIsOneRoundTripWithHeaders(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "carol")
	before, err := h.raw.HGet(context.Background(), h.keyOf(c.cookie), "_a").Int64()
	assert.Zero(t, before, "last activity is stored as ms after creation")
	require.NoError(t, err)
	h.clock.Advance(10 * time.Second)
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":"carol"}`, r.body)
	assert.Equal(t, int64(1), h.count.RoundTrips(), h.count.Names())
	assert.Equal(t, int64(1), h.count.Commands(), h.count.Names())
	assert.Empty(t, r.setCookies, "a read sets no cookie")
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Contains(t, r.header.Values("Vary"), "Cookie")
	after, err := h.raw.HGet(context.Background(), h.keyOf(c.cookie), "_a").Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(10000), after-before, "sliding expiry: last activity moved with the read")

	anon := h.client(chromeWin)
	r = anon.do("GET", "/api/profile")
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "refusals are not cached either")
}

func TestHalfOpenSessionIsNotLoggedIn(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=userId&v=alice").status)
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
}

func TestStolenCookieFromAnotherBrowserIsDestroyed(t *testing.T) {
	h := newHarness(t, nil)
	victim := h.login(chromeWin, "dave")
	key := h.keyOf(victim.cookie)
	thief := h.client(firefoxLinx)
	thief.cookie = victim.cookie
	r := thief.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session invalid"}`, r.body)
	assert.Contains(t, strings.Join(r.setCookies, "\n"), "Max-Age=0", "the cookie is expired")
	assert.False(t, h.isSession(key), "the session is destroyed")
	assert.Empty(t, h.indexMembers("dave"), "and leaves the user's index")

	r = victim.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status, "the original browser must log in again")

	ev := h.eventsOf(EventFingerprintMismatch)
	require.Len(t, ev, 1)
	assert.Equal(t, []string{"user-agent"}, ev[0].Fields)
	assert.Equal(t, "dave", ev[0].UserID)
}

func TestBrowserUpdateKeepsTheSession(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "erin")
	c.ua = chromeWin2
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusOK, r.status)
	c.headers["Accept"] = "application/json"
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "Accept is never bound")
}

func TestAcceptLanguageIsSoftByDefault(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	c.headers["Accept-Language"] = "en-US,en;q=0.9"
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=frank").status)
	c.headers["Accept-Language"] = "en-GB;q=0.8"
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Empty(t, h.eventsOf(EventFingerprintSoft))
	c.headers["Accept-Language"] = "ja"
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	ev := h.eventsOf(EventFingerprintSoft)
	require.Len(t, ev, 1)
	assert.Equal(t, []string{"accept-language"}, ev[0].Fields)

	hard := newHarness(t, func(c *Config) { c.Fingerprint.AcceptLanguage = fingerprint.ActionHard })
	c = hard.client(chromeWin)
	c.headers["Accept-Language"] = "en"
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=frank").status)
	c.headers["Accept-Language"] = "ja"
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/profile").status, "configurable as a hard field")
}

func TestLogoutDestroysAndReplayIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "gina")
	saved := c.cookie
	key := h.keyOf(saved)
	r := c.do("POST", "/logout")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Values("Clear-Site-Data"), "it would clear every cookie of the site")
	require.Len(t, r.setCookies, 1)
	assert.Contains(t, r.setCookies[0], cookieName+"=;")
	assert.Contains(t, r.setCookies[0], "Max-Age=0")
	assert.Contains(t, r.setCookies[0], "HttpOnly")
	assert.Contains(t, r.setCookies[0], "SameSite=Strict")
	assert.Contains(t, r.setCookies[0], "Path=/")
	assert.False(t, h.isSession(key))
	assert.Empty(t, h.indexMembers("gina"))

	replay := h.client(chromeWin)
	replay.cookie = saved
	r = replay.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Contains(t, strings.Join(r.setCookies, "\n"), "Max-Age=0", "the dead cookie is expired")
	replay.cookie = saved // a replay that ignores the expiry
	r = replay.do("POST", "/set?k=x&v=1")
	require.Equal(t, http.StatusOK, r.status)
	assert.NotEqual(t, saved[:idLen], replay.cookie[:idLen], "a write after logout never revives the old ID")
	assert.False(t, h.isSession(key))
	require.Len(t, h.eventsOf(EventLogout), 1)
}

// TestClearIsNotALogout is the mistake of logging out with
// sessions.Default(c).Clear(): the values go, the login stays, as the
// README and Save's documentation say. Logout is the logout.
func TestClearIsNotALogout(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "gina")
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=3").status)
	key := h.keyOf(c.cookie)
	h.handler = clearAndSave
	r := c.do("POST", "/hook")
	require.Equal(t, http.StatusOK, r.status, r.body)
	for _, sc := range r.setCookies {
		assert.NotContains(t, sc, "Max-Age=0", "the cookie is not expired")
	}
	assert.True(t, h.exists(key), "the session is not deleted")
	assert.Equal(t, `{"userId":"gina"}`, c.do("GET", "/api/profile").body, "still logged in")
	assert.Nil(t, jsonField(t, c.do("GET", "/get?k=cart").body, "value"), "the values are gone")
	assert.Empty(t, h.eventsOf(EventLogout))
}

// TestLogoutThenLoginInOneResponse is a handler that logs a user out and
// another in within one response (switching accounts). With
// Clear-Site-Data: "cookies" on that response, Chromium would drop the new
// session's Set-Cookie and clear every cookie of the registrable domain;
// Logout sends no such header, and the one Set-Cookie is the new session.
func TestLogoutThenLoginInOneResponse(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "alice")
	old := c.cookie
	h.handler = func(c *gin.Context) {
		if Logout(c) != nil || Login(c, "bob") != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	}
	r := c.do("POST", "/hook")
	require.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.header.Values("Clear-Site-Data"))
	require.Len(t, r.setCookies, 1, "the new session's cookie, not the expired one as well")
	ck := r.cookie(t)
	require.NotNil(t, ck)
	assert.Positive(t, ck.MaxAge)
	assert.NotEqual(t, old, ck.Value)
	assert.False(t, h.isSession(h.keyOf(old)), "alice's session is gone")
	assert.JSONEq(t, `{"userId":"bob"}`, c.do("GET", "/api/profile").body)
}

func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 2 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "hank")
	key := h.keyOf(c.cookie)
	pttl, err := h.raw.PTTL(context.Background(), key).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, 2*time.Minute)
	for range 5 { // activity keeps it alive past the idle timeout
		h.clock.Advance(90 * time.Second)
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	}
	h.clock.Advance(2*time.Minute + time.Millisecond)
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session expired"}`, r.body)
	assert.Contains(t, strings.Join(r.setCookies, "\n"), "Max-Age=0")
	assert.False(t, h.isSession(key), "the code check deletes it even though Redis's TTL had not run out")
	require.Len(t, h.eventsOf(EventExpired), 1)
	assert.Equal(t, "idle", h.eventsOf(EventExpired)[0].Reason, "the load path, which found it expired, says which timeout")
}

func TestAbsoluteTimeoutIsNeverExtended(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "iris")
	key := h.keyOf(c.cookie)
	h.clock.Advance(25 * time.Minute)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	h.clock.Advance(20 * time.Minute)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	pttl, err := h.raw.PTTL(context.Background(), key).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, 15*time.Minute, "TTL is min(idle, time left to the absolute deadline)")
	assert.Greater(t, pttl, 14*time.Minute)
	h.clock.Advance(14 * time.Minute)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	h.clock.Advance(time.Minute)
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session expired"}`, r.body)
	assert.False(t, h.isSession(key))
}

func TestStaleTTLCannotKeepASessionAlive(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "jack")
	key := h.keyOf(c.cookie)
	require.NoError(t, h.raw.Persist(context.Background(), key).Err()) // as if the TTL were lost
	h.clock.Advance(2 * time.Minute)
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/profile").status)
	assert.False(t, h.isSession(key))
}

// TestVaryCookieOnceBehindBothMiddlewares checks the raw Vary headers of
// a route behind RequireAuth and then RequireFreshAuth: Cookie is named
// once, not once per middleware.
func TestVaryCookieOnceBehindBothMiddlewares(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "vera")
	for _, path := range []string{"/api/fresh", "/api/profile"} {
		r := c.do("GET", path)
		require.Equal(t, http.StatusOK, r.status, path)
		assert.Equal(t, []string{"Cookie"}, r.header.Values("Vary"), path)
		assert.Equal(t, []string{"no-store"}, r.header.Values("Cache-Control"), path)
	}
}

func TestRequireFreshAuth(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "kate")
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/fresh").status)
	h.clock.Advance(2 * time.Minute)
	r := c.do("GET", "/api/fresh")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"reauthentication required"}`, r.body)
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "the session itself lives on")
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=kate").status)
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/fresh").status, "logging in again makes it fresh")
}

func TestUserSessionsAndRevocation(t *testing.T) {
	h := newHarness(t, nil)
	a := h.login(chromeWin, "leo")
	h.clock.Advance(time.Second)
	b := h.login(firefoxLinx, "leo")
	other := h.login(chromeWin, "mia")

	r := a.do("GET", "/api/sessions")
	require.Equal(t, http.StatusOK, r.status)
	var list []SessionInfo
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list, 2)
	devices := map[string]bool{}
	current := 0
	for _, s := range list {
		devices[s.Device] = true
		if s.Current {
			current++
			assert.Equal(t, h.store.ref(atRestName(a.cookie[:idLen])), s.Ref)
		}
		assert.NotContains(t, a.cookie+b.cookie, s.Ref)
	}
	assert.Equal(t, 1, current)
	assert.True(t, devices["Chrome on Windows"] && devices["Firefox on Linux"], devices)
	assert.NotContains(t, r.body, a.cookie[:idLen])

	ctx := context.Background()
	var bRef string
	for _, s := range list {
		if !s.Current {
			bRef = s.Ref
		}
	}
	assert.ErrorIs(t, h.store.RevokeSession(ctx, "mia", bRef), ErrUnknownSession, "a ref only works for its own user")
	require.NoError(t, h.store.RevokeSession(ctx, "leo", bRef))
	assert.Equal(t, http.StatusUnauthorized, b.do("GET", "/api/profile").status)
	assert.Equal(t, http.StatusOK, a.do("GET", "/api/profile").status)

	b = h.login(firefoxLinx, "leo")
	n, err := h.store.RevokeUser(ctx, "leo")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, http.StatusUnauthorized, a.do("GET", "/api/profile").status)
	assert.Equal(t, http.StatusUnauthorized, b.do("GET", "/api/profile").status)
	assert.Empty(t, h.indexMembers("leo"))
	assert.Equal(t, http.StatusOK, other.do("GET", "/api/profile").status, "other users are untouched")
	assert.Len(t, h.eventsOf(EventRevoked), 3)
}

func TestIndexPrunesEndedSessions(t *testing.T) {
	h := newHarness(t, nil)
	a := h.login(chromeWin, "nina")
	b := h.login(chromeWin, "nina")
	require.NoError(t, h.raw.Del(context.Background(), h.keyOf(a.cookie)).Err()) // as if it had expired in Redis
	h.clock.Advance(time.Minute)                                                 // past inFlightSeconds
	list, err := h.store.UserSessions(context.Background(), "nina", "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, []string{atRestName(b.cookie[:idLen])}, h.indexMembers("nina"))
	h.clock.Advance(25 * time.Hour) // past every absolute deadline
	list, err = h.store.UserSessions(context.Background(), "nina", "")
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Empty(t, h.indexMembers("nina"))
}

// dialFrom returns an HTTP client whose connections come from local, so the
// server sees another RemoteAddr without any forwarding header.
func dialFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestIPBinding(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Fingerprint.IPPrefix = fingerprint.ActionHard })
	c := h.login(chromeWin, "omar") // from 127.0.0.1
	c.headers["X-Forwarded-For"] = "203.0.113.7"
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "a spoofed X-Forwarded-For from an untrusted peer is ignored")
	delete(c.headers, "X-Forwarded-For")
	c.http = dialFrom("127.0.0.2")
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "same /24")
	c.http = dialFrom("127.0.1.2")
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status, "another /24")
	ipBody := r.body

	uaCase := h.login(chromeWin, "omar")
	uaCase.ua = firefoxLinx
	r = uaCase.do("GET", "/api/profile")
	assert.Equal(t, ipBody, r.body, "an IP and a UA mismatch are the same bytes (no oracle)")
	ev := h.eventsOf(EventFingerprintMismatch)
	require.Len(t, ev, 2)
	assert.Equal(t, []string{"ip-prefix"}, ev[0].Fields)
}

func TestEventsNeverLeakSecrets(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "pia")
	cookieValue := c.cookie
	thief := h.client("curl/8.5.0")
	thief.cookie = cookieValue
	require.Equal(t, http.StatusUnauthorized, thief.do("GET", "/api/profile").status)
	c = h.login(chromeWin, "pia")
	second := c.cookie
	require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
	logs := h.logs.String()
	for _, want := range []string{`"msg":"ginsession.login"`, `"msg":"ginsession.fingerprint_mismatch"`, `"msg":"ginsession.logout"`, `"fields":["user-agent"]`} {
		assert.Contains(t, logs, want)
	}
	for _, secret := range []string{cookieValue, cookieValue[:idLen], cookieValue[idLen+1:], second[:idLen], "curl/8.5.0", "Chrome/130", testSecret} {
		assert.NotContains(t, logs, secret)
	}
	for _, e := range h.events {
		assert.NotContains(t, fmt.Sprint(e), cookieValue[:idLen])
	}
}

func TestRequireAuthWithoutMiddlewarePanicsClearly(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	assert.PanicsWithError(t, ErrNoSessionMiddleware.Error(), func() { RequireAuth()(c) })
	assert.ErrorIs(t, Login(c, "u"), ErrNoSessionMiddleware)
	assert.ErrorIs(t, Logout(c), ErrNoSessionMiddleware)
}

// TestMiddlewaresPanicWithTheirErrors: each way the helpers can be
// misused, and the error RequireAuth, Authenticate and RequireFreshAuth
// panic with for it, and Login and Logout return, as their doc comments
// and the errors' say. RequireFreshAuth, which runs after RequireAuth,
// does not check the cookie name and answers 401 instead.
func TestMiddlewaresPanicWithTheirErrors(t *testing.T) {
	h := newHarness(t, nil) // Insecure: a __Host- name cannot work
	type ctxKey struct{}
	tests := []struct {
		name  string
		setup func(r *gin.Engine)
		want  error // nil: no panic
		fresh error // what RequireFreshAuth panics with
	}{
		{"no sessions.Sessions", func(r *gin.Engine) {}, ErrNoSessionMiddleware, ErrNoSessionMiddleware},
		{"sessions.SessionsMany without UseSession", func(r *gin.Engine) {
			r.Use(sessions.SessionsMany([]string{cookieName, "other"}, h.store))
		}, ErrNoSessionMiddleware, ErrNoSessionMiddleware},
		{"the session's state lost", func(r *gin.Engine) {
			r.Use(sessions.Sessions(cookieName, h.store), func(c *gin.Context) {
				// A middleware replaces the request, then session.Clear()
				// removes the state's marker from the values.
				c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), ctxKey{}, 1))
				sessions.Default(c).Clear()
			})
		}, ErrNotLoaded, ErrNotLoaded},
		{"a cookie name the settings make unusable", func(r *gin.Engine) {
			r.Use(sessions.Sessions("__Host-id", h.store))
		}, ErrConfig, nil},
	}
	returned := func(f func(*gin.Context) error) gin.HandlerFunc {
		return func(c *gin.Context) {
			if err := f(c); err != nil {
				panic(err) // reported the same way as a middleware's panic
			}
		}
	}
	for _, tc := range tests {
		for _, mw := range []struct {
			name    string
			handler gin.HandlerFunc
			want    error
		}{
			{"RequireAuth", RequireAuth(), tc.want},
			{"Authenticate", Authenticate(), tc.want},
			{"RequireFreshAuth", RequireFreshAuth(time.Minute), tc.fresh},
			{"Login returns", returned(func(c *gin.Context) error { return Login(c, "lou") }), tc.want},
			{"Logout returns", returned(Logout), tc.want},
		} {
			t.Run(tc.name+"/"+mw.name, func(t *testing.T) {
				var panicked any
				r := gin.New()
				r.Use(func(c *gin.Context) {
					defer func() {
						if panicked = recover(); panicked != nil {
							c.AbortWithStatus(http.StatusInternalServerError)
						}
					}()
					c.Next()
				})
				tc.setup(r)
				r.GET("/", mw.handler, func(c *gin.Context) { c.Status(http.StatusOK) })
				w := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("Cookie", "__Host-id=x")
				r.ServeHTTP(w, req)
				if mw.want == nil {
					assert.Nil(t, panicked)
					assert.Equal(t, http.StatusUnauthorized, w.Code)
					return
				}
				err, ok := panicked.(error)
				require.True(t, ok, "panics with an error, got %v", panicked)
				assert.ErrorIs(t, err, mw.want)
				assert.Equal(t, http.StatusInternalServerError, w.Code)
			})
		}
	}
}

func TestFailClosedWhenRedisStops(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	h := newHarness(t, nil)
	st, err := NewStore(rdb, Config{Secrets: [][]byte{[]byte(testSecret)}, Insecure: true, Logger: h.store.log, OnEvent: h.store.cfg.OnEvent})
	require.NoError(t, err)
	h.srv = httptest.NewServer(h.router(cookieName, st))
	t.Cleanup(h.srv.Close)
	c := h.login(chromeWin, "quinn")
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)

	srv.Stop()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.JSONEq(t, `{"error":"session store unavailable"}`, r.body)
	assert.Empty(t, r.setCookies, "no new Set-Cookie while Redis is down")
	r = h.client(chromeWin).do("POST", "/login?user=quinn")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Empty(t, r.setCookies)
	r = c.do("POST", "/logout")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Empty(t, r.setCookies, "the cookie stays, so the user can log out once Redis is back")
	assert.Empty(t, r.header.Get("Clear-Site-Data"))
	assert.NotEmpty(t, h.eventsOf(EventStoreError))
	assert.NotContains(t, h.logs.String(), c.cookie[:idLen])
}

func TestRequireAuthOnSessionsMany(t *testing.T) {
	h := newHarness(t, nil)
	r := gin.New()
	r.Use(sessions.SessionsMany([]string{"other", cookieName}, h.store))
	r.GET("/p", UseSession(cookieName), RequireAuth(), func(c *gin.Context) { c.String(http.StatusOK, UserID(c)) })
	c := h.login(chromeWin, "rita")
	req := httptest.NewRequest("GET", "/p", nil)
	req.Header.Set("User-Agent", chromeWin)
	req.Header.Set("Cookie", cookieName+"="+c.cookie)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "rita", w.Body.String())
}

// TestRedisOutOfMemory fills a noeviction Redis: logins fail with 503
// rather than half-succeed, and sessions that exist keep working (a read
// does not need memory; the last-activity write it may skip only makes the
// session end sooner).
func TestRedisOutOfMemory(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	h := newHarnessOn(t, rdb, &redistest.Counter{}, rdb, nil)
	c := h.login(chromeWin, "olga")
	ctx := context.Background()
	require.NoError(t, h.store.CheckRedis(ctx))
	for _, size := range []int{64 << 10, 1 << 10, 16} { // fill to the last byte
		filler := strings.Repeat("x", size)
		for i := 0; ; i++ {
			if err := rdb.Set(ctx, fmt.Sprintf("filler:%d:%d", size, i), filler, 0).Err(); err != nil {
				require.ErrorContains(t, err, "OOM")
				break
			}
			require.Less(t, i, 100000, "Redis never filled up")
		}
	}
	h.clock.Advance(10 * time.Second) // a refresh is due
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "a full Redis does not log users out")
	r := h.client(chromeWin).do("POST", "/login?user=olga")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Empty(t, r.setCookies)

	require.NoError(t, rdb.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err())
	assert.ErrorIs(t, h.store.CheckRedis(ctx), ErrEvictionPolicy)
}
