package ginsession

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// requireExpiringCookie checks that r carries exactly one Set-Cookie for
// the session cookie and that it removes it: same name, the store's Path
// and Domain, no value, Max-Age=0 and an Expires in the past.
func requireExpiringCookie(t *testing.T, r reply, domain string) {
	t.Helper()
	var ours []string
	for _, raw := range r.setCookies {
		if strings.HasPrefix(raw, cookieName+"=") {
			ours = append(ours, raw)
		}
	}
	require.Len(t, ours, 1, "one Set-Cookie for the session cookie: %q", r.setCookies)
	assert.Contains(t, ours[0], "Max-Age=0")
	ck, err := http.ParseSetCookie(ours[0])
	require.NoError(t, err)
	assert.Equal(t, cookieName, ck.Name)
	assert.Empty(t, ck.Value)
	assert.Negative(t, ck.MaxAge, "Max-Age=0 parses as a negative MaxAge")
	assert.True(t, ck.Expires.Before(time.Now()), "Expires %v is in the past", ck.Expires)
	assert.Equal(t, "/", ck.Path)
	assert.Equal(t, domain, ck.Domain)
}

// TestDeadCookieIsExpired sends a cookie whose session is gone, or that
// never was one, to RequireAuth and to Authenticate: the answer (401, or
// the page as a guest) expires the cookie with the session's Path and
// Domain, so the browser stops sending it. The next request, without it,
// gets no Set-Cookie at all.
func TestDeadCookieIsExpired(t *testing.T) {
	const domain = "app.example"
	// Each kill returns the cookie of a session that is no longer usable.
	cases := []struct {
		name string
		kill func(h *harness) string
	}{
		{"revoked from another device", func(h *harness) string {
			c := h.login(chromeWin, "vera")
			other := h.login(firefoxLinx, "vera")
			list, err := h.store.UserSessions(context.Background(), "vera", "")
			require.NoError(h.t, err)
			for _, s := range list {
				if s.Device == "Chrome on Windows" {
					require.NoError(h.t, h.store.RevokeSession(context.Background(), "vera", s.Ref))
				}
			}
			require.Equal(h.t, http.StatusOK, other.do("GET", "/api/profile").status, "only one session was revoked")
			return c.cookie
		}},
		{"expired (injected clock)", func(h *harness) string {
			c := h.login(chromeWin, "vera")
			h.clock.Advance(DefaultIdleTimeout + time.Second)
			return c.cookie
		}},
		{"expired in Redis (key gone)", func(h *harness) string {
			c := h.login(chromeWin, "vera")
			require.NoError(h.t, h.raw.Del(context.Background(), h.keyOf(c.cookie)).Err())
			return c.cookie
		}},
		{"logged out from another copy", func(h *harness) string {
			c := h.login(chromeWin, "vera")
			copyOf := h.client(chromeWin)
			copyOf.cookie = c.cookie
			require.Equal(h.t, http.StatusOK, copyOf.do("POST", "/logout").status)
			return c.cookie
		}},
		{"forged (well-formed, wrong MAC)", func(h *harness) string {
			return strings.Repeat("A", idLen) + "." + strings.Repeat("B", idLen)
		}},
		{"malformed", func(h *harness) string { return "not-a-session" }},
	}
	for _, tc := range cases {
		for _, path := range []string{"/api/profile", "/page"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.Domain = domain })
				h.publicPage()
				c := h.client(chromeWin)
				c.cookie = tc.kill(h)
				r := c.do("GET", path)
				if path == "/page" {
					assert.Equal(t, http.StatusOK, r.status)
					assert.JSONEq(t, `{"userId":""}`, r.body, "served as a guest")
				} else {
					assert.Equal(t, http.StatusUnauthorized, r.status)
				}
				requireExpiringCookie(t, r, domain)
				assert.Empty(t, c.cookie, "the browser dropped it")
				r = c.do("GET", path)
				assert.Empty(t, r.setCookies, "no cookie, no Set-Cookie")
			})
		}
	}
}

// TestLiveCookiesAreNotExpired covers the requests that must not get an
// expiring Set-Cookie on a 401 or as a guest: no cookie at all, and a live
// anonymous session (a cart), which is not logged in but not dead either.
func TestLiveCookiesAreNotExpired(t *testing.T) {
	h := newHarness(t, nil)
	h.publicPage()
	for _, path := range []string{"/api/profile", "/page"} {
		r := h.client(chromeWin).do("GET", path)
		assert.Empty(t, r.setCookies, "%s without a cookie", path)
	}
	cart := h.client(chromeWin)
	require.Equal(t, http.StatusOK, cart.do("POST", "/set?k=cart&v=3").status)
	require.NotEmpty(t, cart.cookie)
	r := cart.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
	assert.Empty(t, r.setCookies, "an anonymous session is alive: its cookie stays")
	assert.Empty(t, cart.do("GET", "/page").setCookies)
	assert.Equal(t, "3", jsonField(t, cart.do("GET", "/get?k=cart").body, "value"), "the cart survived")
}

// TestRedisDownNeverExpiresTheCookie stops the store's Redis: RequireAuth
// answers 503 and Authenticate serves a guest, and neither expires the
// cookie, since the session may well be alive.
func TestRedisDownNeverExpiresTheCookie(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	h := newHarnessOn(t, rdb, &redistest.Counter{}, rdb, nil)
	h.publicPage()
	c := h.login(chromeWin, "walt")

	srv.Stop()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Empty(t, r.setCookies)
	r = c.do("GET", "/page")
	assert.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":""}`, r.body)
	assert.Empty(t, r.setCookies)
	assert.NotEmpty(t, c.cookie)
}
