package ginsession

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/fingerprint"
)

func TestLoginDropsAnotherUsersValues(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "alice")
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=token&v=alices").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=alice").status)
	assert.Equal(t, "alices", jsonField(t, c.do("GET", "/get?k=token").body, "value"), "the same user keeps their values")
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=bob").status)
	assert.Nil(t, jsonField(t, c.do("GET", "/get?k=token").body, "value"), "another user never inherits them")
	assert.Equal(t, "bob", jsonField(t, c.do("GET", "/api/profile").body, "userId"))
	assert.Empty(t, h.indexMembers("alice"), "alice's session was destroyed")
}

func TestIPBindingIgnoresForwardingHeadersByDefault(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Fingerprint.IPPrefix = fingerprint.ActionHard })
	r := gin.New() // Gin's defaults: every proxy trusted, X-Forwarded-For believed
	r.Use(sessions.Sessions(cookieName, h.store))
	r.POST("/login", func(c *gin.Context) { require.NoError(t, Login(c, "una")) })
	r.GET("/p", RequireAuth(), func(c *gin.Context) { c.Status(http.StatusOK) })
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)

	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/login").status) // from 127.0.0.1
	thief := h.client(chromeWin)
	thief.cookie = c.cookie
	thief.http = dialFrom("127.0.1.2")
	thief.headers["X-Forwarded-For"] = "127.0.0.1" // claims the victim's address
	assert.Equal(t, http.StatusUnauthorized, thief.do("GET", "/p").status)
	assert.Equal(t, []string{"ip-prefix"}, h.eventsOf(EventFingerprintMismatch)[0].Fields)
}

func TestConfigClientIPBehindAProxy(t *testing.T) {
	var asked int
	h := newHarness(t, func(c *Config) {
		c.Fingerprint.IPPrefix = fingerprint.ActionHard
		c.ClientIP = func(c *gin.Context) string { asked++; return c.ClientIP() }
	})
	require.NoError(t, h.engine.SetTrustedProxies([]string{"127.0.0.1"})) // the proxy
	c := h.client(chromeWin)
	c.headers["X-Forwarded-For"] = "198.51.100.7"
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=vic").status)
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	c.headers["X-Forwarded-For"] = "203.0.113.9" // the proxy reports another client network
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/profile").status)
	assert.Equal(t, 3, asked)
}

// TestMiddlewareReplacingTheRequest covers middlewares (tracing, request
// IDs, timeouts) that do c.Request = c.Request.WithContext(...) after
// sessions.Sessions: gin-contrib's session keeps the original request.
// UserSessions, given the session's reference, still marks the caller's
// own session Current (it looked in c.Request's context, which such a
// middleware replaced before the session was loaded).
func TestMiddlewareReplacingTheRequest(t *testing.T) {
	h := newHarness(t, nil)
	type traceKey struct{}
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, h.store))
	r.Use(func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), traceKey{}, "span"))
		c.Next()
	})
	r.POST("/login", loginAs("wes"))
	r.GET("/p", RequireAuth(), func(c *gin.Context) { c.String(http.StatusOK, UserID(c)) })
	r.POST("/logout", logoutRoute)
	r.GET("/sessions", RequireAuth(), func(c *gin.Context) {
		list, err := h.store.UserSessions(c.Request.Context(), UserID(c), sessions.Default(c).ID())
		if err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.JSON(http.StatusOK, list)
	})
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)

	other := h.client(firefoxLinx)
	require.Equal(t, http.StatusOK, other.do("POST", "/login").status)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/login").status)
	res := c.do("GET", "/p")
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "wes", res.body)
	res = c.do("GET", "/sessions")
	require.Equal(t, http.StatusOK, res.status)
	var list []SessionInfo
	require.NoError(t, json.Unmarshal([]byte(res.body), &list))
	require.Len(t, list, 2)
	for _, s := range list {
		assert.Equal(t, s.Ref == h.refOf(c.cookie), s.Current, "%s is current only for its own browser", s.Device)
	}
	saved := c.cookie
	require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
	c.cookie = saved
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/p").status)
}

func TestHelpersBehindSessionsMany(t *testing.T) {
	h := newHarness(t, nil)
	r := gin.New()
	r.Use(sessions.SessionsMany([]string{"prefs", cookieName}, h.store))
	r.POST("/login", UseSession(cookieName), loginAs("xia"))
	r.POST("/nameless", func(c *gin.Context) {
		err := Login(c, "xia")
		assert.ErrorIs(t, err, ErrNoSessionMiddleware)
		assert.Contains(t, err.Error(), "UseSession")
		c.Status(http.StatusNoContent)
	})
	api := r.Group("/api", UseSession(cookieName), RequireAuth())
	api.GET("/fresh", RequireFreshAuth(h.store.cfg.AbsoluteTimeout), func(c *gin.Context) { c.Status(http.StatusOK) })
	api.POST("/logout", logoutRoute)
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	c := h.client(chromeWin)
	assert.Equal(t, http.StatusNoContent, c.do("POST", "/nameless").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/login").status)
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/fresh").status)
	key := h.keyOf(c.cookie)
	require.Equal(t, http.StatusOK, c.do("POST", "/api/logout").status)
	assert.False(t, h.isSession(key))
}

func TestSessionOptionsCannotWidenTheDomain(t *testing.T) {
	h := newHarness(t, nil)
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("a", 1)
		s.Options(sessions.Options{Domain: "example.com", MaxAge: 60})
		saveOr500(c, s)
	}
	r := h.client(chromeWin).do("POST", "/hook")
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, r.setCookies[0], "Domain=")

	h.store.Options(sessions.Options{Domain: "example.com"}) // configuration may set it
	r = h.client(chromeWin).do("POST", "/hook")
	assert.Contains(t, r.setCookies[0], "Domain=example.com")
}

func TestStoreOptionsIgnoresNegativeMaxAge(t *testing.T) {
	h := newHarness(t, nil)
	h.store.Options(sessions.Options{MaxAge: -1})
	c := h.client(chromeWin)
	r := c.do("POST", "/set?k=a&v=1")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.setCookies[0], "Max-Age=86400")
	assert.True(t, h.exists(h.keyOf(c.cookie)), "sessions are still saved")
}

func TestMisconfiguredCookieNameFailsLoudly(t *testing.T) {
	h := newHarness(t, nil) // Insecure
	for _, name := range []string{"__Host-id", "__host-id", "__SECURE-id"} {
		t.Run(name, func(t *testing.T) {
			var recovered any
			r := gin.New()
			r.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
				recovered = err
				c.AbortWithStatus(http.StatusInternalServerError)
			}))
			r.Use(sessions.Sessions(name, h.store))
			r.GET("/p", RequireAuth(), func(c *gin.Context) { c.Status(http.StatusOK) })
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", "/p", nil))
			assert.Equal(t, http.StatusInternalServerError, w.Code, "not a 503 that sends operators to Redis")
			assert.ErrorIs(t, recovered.(error), ErrConfig)
			assert.Contains(t, fmt.Sprint(recovered), "needs Secure")
		})
	}
}

func TestSessionsWithThousandsOfFields(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionBytes = 1 << 20 })
	const n = 5000
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		for i := range n {
			if c.Request.Method == http.MethodPost {
				s.Set(fmt.Sprintf("k%d", i), i)
			} else {
				s.Delete(fmt.Sprintf("k%d", i))
			}
		}
		s.Set("keep", "yes")
		saveOr500(c, s)
	}
	c := h.client(chromeWin)
	r := c.do("POST", "/hook")
	require.Equal(t, http.StatusOK, r.status, r.body)
	ctx := context.Background()
	assert.Equal(t, int64(n+3), h.raw.HLen(ctx, h.keyOf(c.cookie)).Val(), "n values, keep, _c and _a")
	r = c.do("DELETE", "/hook")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, int64(3), h.raw.HLen(ctx, h.keyOf(c.cookie)).Val())
}

func TestRevokeUserCountsOnlyLiveSessions(t *testing.T) {
	h := newHarness(t, nil)
	a := h.login(chromeWin, "yan")
	h.login(chromeWin, "yan")
	require.NoError(t, h.raw.Del(context.Background(), h.keyOf(a.cookie)).Err())
	h.clock.Advance(time.Minute) // past inFlightSeconds: the entry is pruned, not kept for a write on its way
	n, err := h.store.RevokeUser(context.Background(), "yan")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Len(t, h.eventsOf(EventRevoked), 1)
	assert.Empty(t, h.indexMembers("yan"))
}

func TestRequireFreshAuthNeedsRequireAuth(t *testing.T) {
	h := newHarness(t, nil)
	h.engine.GET("/unguarded-fresh", RequireFreshAuth(0), func(c *gin.Context) { c.Status(http.StatusOK) })
	c := h.login(chromeWin, "zed")
	r := c.do("GET", "/unguarded-fresh")
	assert.Equal(t, http.StatusUnauthorized, r.status, "without RequireAuth the fingerprint was never checked")
	assert.Contains(t, r.header.Values("Vary"), "Cookie")
	assert.True(t, strings.Contains(r.body, "not logged in"))
}

// loginAs is a route that logs in user, answering 500 with the error.
func loginAs(user string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := Login(c, user); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.Status(http.StatusOK)
	}
}

// logoutRoute is a route that logs out, answering 500 with the error.
func logoutRoute(c *gin.Context) {
	if err := Logout(c); err != nil {
		c.String(http.StatusInternalServerError, err.Error())
		return
	}
	c.Status(http.StatusOK)
}
